// The browser's side of a console, as the bench drives it: open a WebSocket through a proxy, read the
// RFB banner, then pull a stream or bounce small messages. The same client for CPS and websockify.
import { WebSocket } from 'ws';
import { BANNER } from './rfb-source.ts';

export interface Session {
  ws: WebSocket;
  /** Milliseconds from opening the socket to the banner's last byte. */
  setupMs: number;
  /** Resolves once `n` more bytes have arrived. */
  receive(n: number): Promise<void>;
  send(b: Buffer): void;
  close(): void;
}

export async function openSession(url: string, origin: string, now: () => number, timeoutMs = 10_000): Promise<Session> {
  const start = now();
  const ws = new WebSocket(url, { origin, perMessageDeflate: false });
  let got = 0;
  let want = BANNER.length;
  let wake: (() => void) | undefined;
  let fail: ((e: Error) => void) | undefined;
  ws.on('message', (d: Buffer) => {
    got += d.length;
    if (got >= want && wake) wake();
  });
  const ended = (why: string) => fail?.(new Error(`${url}: ${why} after ${got} of ${want} bytes`));
  ws.on('close', (code, reason) => ended(`closed (${code} ${reason})`));
  ws.on('error', (err) => ended(err.message));
  ws.on('unexpected-response', (_req, res) => ended(`refused the upgrade with ${res.statusCode}`));
  const receive = (n: number) =>
    new Promise<void>((resolve, reject) => {
      want += n;
      if (got >= want) return resolve();
      const t = setTimeout(() => ended(`no data within ${timeoutMs} ms`), timeoutMs);
      wake = () => (clearTimeout(t), (wake = fail = undefined), resolve());
      fail = (e) => (clearTimeout(t), (wake = fail = undefined), reject(e));
    });
  want = 0;
  await receive(BANNER.length);
  return { ws, setupMs: now() - start, receive, send: (b) => ws.send(b, { binary: true }), close: () => ws.terminate() };
}
