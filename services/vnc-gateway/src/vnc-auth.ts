import { createCipheriv } from 'node:crypto';
import { Duplex } from 'node:stream';
import { ProblemError } from '@cps/common';

/**
 * Guests' VNC servers ask for a per-task password the user never sees: the gateway logs in on the
 * user's behalf (`vncLogin`, RFB 3.8 "VNC authentication"), and then shows the browser a VNC server
 * that needs no password (`noAuthFacade`), so noVNC is never given the secret.
 */

const VERSION_38 = 'RFB 003.008\n';
const SEC_NONE = 1;
const SEC_VNC = 2;
const MAX_REASON = 1024;

/** Reads exact byte counts from a stream that is not flowing, leaving what follows unread. */
class ByteReader {
  private buf = Buffer.alloc(0);
  private wanted: { n: number; resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  private readonly onData = (chunk: Buffer) => {
    this.buf = Buffer.concat([this.buf, chunk]);
    this.serve();
  };
  private readonly onEnd = () => this.fail(new Error('the VNC server closed the connection during the handshake'));
  private readonly onError = (err: Error) => this.fail(err);

  constructor(private readonly s: Duplex) {
    s.on('data', this.onData);
    s.once('end', this.onEnd);
    s.once('error', this.onError);
    s.resume();
  }

  read(n: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.wanted = { n, resolve, reject };
      this.serve();
    });
  }

  /** Stops listening; bytes read ahead go back to the stream, which is left paused. */
  release(): void {
    this.s.off('data', this.onData);
    this.s.off('end', this.onEnd);
    this.s.off('error', this.onError);
    this.s.pause();
    if (this.buf.length > 0) this.s.unshift(this.buf);
  }

  private serve(): void {
    const w = this.wanted;
    if (!w || this.buf.length < w.n) return;
    this.wanted = undefined;
    const out = this.buf.subarray(0, w.n);
    this.buf = this.buf.subarray(w.n);
    w.resolve(out);
  }

  private fail(err: Error): void {
    const w = this.wanted;
    this.wanted = undefined;
    w?.reject(err);
  }
}

/** The VNC authentication response: the challenge DES-encrypted with the password, bits of each key byte reversed. */
export function vncAuthResponse(challenge: Buffer, password: string): Buffer {
  const key = Buffer.alloc(8);
  Buffer.from(password, 'latin1').copy(key, 0, 0, 8);
  for (let i = 0; i < 8; i++) key[i] = reverseBits(key[i]!);
  // Single DES through 3DES with K1 = K2 = K3: OpenSSL 3 keeps plain DES in its legacy provider only.
  const cipher = createCipheriv('des-ede-ecb', Buffer.concat([key, key]), null);
  cipher.setAutoPadding(false);
  return Buffer.concat([cipher.update(challenge), cipher.final()]);
}

function reverseBits(b: number): number {
  let r = 0;
  for (let i = 0; i < 8; i++) if (b & (1 << i)) r |= 1 << (7 - i);
  return r;
}

/**
 * Logs in to the VNC server on `sock` (just connected, not yet flowing) with `password`. Resolves
 * when the server has accepted; the server then waits for ClientInit, which the browser sends.
 */
export async function vncLogin(sock: Duplex, password: string, timeoutMs = 5000): Promise<void> {
  const reader = new ByteReader(sock);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no VNC handshake within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([handshake(sock, reader, password), timeout]);
  } catch (err) {
    throw new ProblemError('upstream-failed', `cannot log in to the guest's VNC server: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
    reader.release();
  }
}

async function handshake(sock: Duplex, r: ByteReader, password: string): Promise<void> {
  const version = (await r.read(12)).toString('latin1');
  const m = /^RFB (\d{3})\.(\d{3})\n$/.exec(version);
  if (!m || Number(m[1]) !== 3 || Number(m[2]) < 8) throw new Error(`unsupported server version ${JSON.stringify(version)}`);
  sock.write(VERSION_38);
  const count = (await r.read(1))[0]!;
  if (count === 0) throw new Error(`the server refused: ${await reason(r)}`);
  const types = [...(await r.read(count))];
  // A server without a password (a guest made before passwords) offers None: take it.
  const type = types.includes(SEC_VNC) ? SEC_VNC : types.includes(SEC_NONE) ? SEC_NONE : undefined;
  if (type === undefined) throw new Error(`no supported security type among [${types.join(', ')}]`);
  sock.write(Buffer.from([type]));
  if (type === SEC_VNC) sock.write(vncAuthResponse(await r.read(16), password));
  const result = (await r.read(4)).readUInt32BE(0);
  if (result !== 0) throw new Error(`authentication failed: ${await reason(r)}`);
}

async function reason(r: ByteReader): Promise<string> {
  const len = (await r.read(4)).readUInt32BE(0);
  if (len > MAX_REASON) return `(a reason of ${len} bytes)`;
  return (await r.read(len)).toString('latin1').replace(/[^\x20-\x7e]/g, '?');
}

/**
 * To the browser, a VNC server offering security type None; behind it, `inner`, already logged
 * in. The browser's version and security choice are answered here; everything after (ClientInit
 * onwards) passes both ways untouched.
 */
export function noAuthFacade(inner: Duplex): Duplex {
  let phase: 'version' | 'security' | 'open' = 'version';
  let pending = Buffer.alloc(0);
  let minor = 8;
  const facade = new Duplex({
    read() {
      inner.resume();
    },
    write(chunk: Buffer, _enc, done) {
      if (phase === 'open') {
        inner.write(chunk, done);
        return;
      }
      pending = Buffer.concat([pending, chunk]);
      let open: boolean;
      try {
        open = advance();
      } catch (err) {
        done(err as Error);
        return;
      }
      if (open && pending.length > 0) {
        const rest = pending;
        pending = Buffer.alloc(0);
        inner.write(rest, done);
      } else done();
    },
    final(done) {
      inner.end();
      done();
    },
    destroy(err, done) {
      inner.destroy();
      done(err);
    },
  });

  /** Answers what the browser has sent of the handshake; true once past it. */
  function advance(): boolean {
    if (phase === 'version' && pending.length >= 12) {
      const m = /^RFB 003\.(\d{3})\n$/.exec(pending.subarray(0, 12).toString('latin1'));
      if (!m) throw new Error('the browser did not answer with an RFB 3.x version');
      minor = Number(m[1]);
      pending = pending.subarray(12);
      if (minor < 7) {
        // RFB 3.3: the server picks the type (a u32) and there is no security result for None.
        facade.push(Buffer.from([0, 0, 0, SEC_NONE]));
        phase = 'open';
        return true;
      }
      facade.push(Buffer.from([1, SEC_NONE]));
      phase = 'security';
    }
    if (phase === 'security' && pending.length >= 1) {
      if (pending[0] !== SEC_NONE) throw new Error(`the browser chose security type ${pending[0]}, not None`);
      pending = pending.subarray(1);
      if (minor >= 8) facade.push(Buffer.from([0, 0, 0, 0]));
      phase = 'open';
    }
    return phase === 'open';
  }

  facade.push(VERSION_38);
  inner.on('data', (chunk: Buffer) => {
    if (!facade.push(chunk)) inner.pause();
  });
  inner.once('end', () => facade.push(null));
  inner.once('error', (err) => facade.destroy(err));
  inner.once('close', () => {
    if (!facade.destroyed) facade.destroy();
  });
  return facade;
}
