import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import { canTransition, type SessionState } from './session-state.ts';

// Backpressure marks for the guest→browser direction: stop reading the VNC socket while the
// WebSocket holds more than `high` unsent bytes, start again below `low`.
const high = 1 << 20;
const low = 256 << 10;
// A VNC server that ignores our FIN is cut off after this long.
const lingerMs = 2000;

export const closeCodes = { normal: 1000, unsupportedData: 1003, goingAway: 1001, internalError: 1011 } as const;

interface CloseCause {
  by: 'guest' | 'client' | 'gateway';
  code: number;
  reason: string;
}

/** What a session is connected to: a guest's VNC server, or a peer's gateway (the hop). */
export type SessionTarget = { host: string; port: number; password?: string } | { peer: string };

/** The target as logs may show it: where, never the guest's VNC password. */
export function loggableTarget(t: SessionTarget): { host: string; port: number } | { peer: string } {
  return 'peer' in t ? { peer: t.peer } : { host: t.host, port: t.port };
}

/**
 * One browser's view of one guest: a WebSocket and the stream to the guest's VNC server (a TCP
 * socket, or a stream over a peer gateway's WebSocket), piped both ways with backpressure.
 * Either side ending ends the other.
 */
export class ConsoleSession {
  state: SessionState = 'connecting';
  readonly bytes = { toGuest: 0, fromGuest: 0 };
  /** How often each direction had to wait for its slower reader (backpressure). */
  readonly stalls = { toGuest: 0, fromGuest: 0 };
  private ws?: WebSocket;
  private wsGone = false;
  private tcpGone = false;
  private cause?: CloseCause;
  private readonly started = Date.now();
  private readonly onClosed: Array<() => void> = [];

  private readonly info: { taskId: string; target: ReturnType<typeof loggableTarget>; log: Logger };

  constructor(
    private readonly tcp: Duplex,
    info: { taskId: string; target: SessionTarget; log: Logger },
  ) {
    // Only this copy is kept: what a session holds ends up in its log lines.
    this.info = { taskId: info.taskId, target: loggableTarget(info.target), log: info.log };
    tcp.on('error', (err: NodeJS.ErrnoException) =>
      this.shut({ by: 'guest', code: closeCodes.internalError, reason: `VNC connection error: ${err.code ?? err.message}` }),
    );
    tcp.on('close', () => {
      this.tcpGone = true;
      this.shut({ by: 'guest', code: closeCodes.normal, reason: "the guest's VNC server closed the connection" });
      this.settle();
    });
  }

  /** The WebSocket handshake completed: start carrying bytes. */
  attach(ws: WebSocket): void {
    this.ws = ws;
    ws.on('close', (code: number, reason: Buffer) => {
      this.wsGone = true;
      this.shut({ by: 'client', code, reason: reason.toString() || 'the browser closed the console' });
      this.settle();
    });
    ws.on('error', (err: Error) =>
      this.shut({ by: 'client', code: closeCodes.internalError, reason: `WebSocket error: ${err.message}` }),
    );
    if (!this.move('open')) {
      // The guest went away during the handshake: tell the browser why, then let go.
      ws.close(this.cause?.code ?? closeCodes.internalError, wsReason(this.cause?.reason ?? 'closed'));
      return;
    }
    this.info.log.info({ taskId: this.info.taskId, target: this.info.target }, 'console session open');
    ws.on('message', (data: RawData, isBinary: boolean) => this.fromClient(data, isBinary));
    this.tcp.on('data', (chunk: Buffer) => this.fromGuest(chunk));
  }

  /** The WebSocket handshake failed: there is no browser to serve. */
  abort(reason: string): void {
    this.wsGone = true;
    this.shut({ by: 'client', code: closeCodes.goingAway, reason });
    this.settle();
  }

  /** Ends the session from the gateway's side (e.g. at shutdown). */
  close(code: number, reason: string): void {
    this.shut({ by: 'gateway', code, reason });
  }

  get taskId(): string {
    return this.info.taskId;
  }

  whenClosed(fn: () => void): void {
    if (this.state === 'closed') fn();
    else this.onClosed.push(fn);
  }

  private fromClient(data: RawData, isBinary: boolean): void {
    if (this.state !== 'open') return;
    if (!isBinary) {
      this.shut({ by: 'gateway', code: closeCodes.unsupportedData, reason: 'RFB travels in binary frames; got a text frame' });
      return;
    }
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer);
    this.bytes.toGuest += buf.length;
    if (!this.tcp.write(buf)) {
      this.stall('toGuest');
      this.ws!.pause();
      this.tcp.once('drain', () => this.ws!.resume());
    }
  }

  private fromGuest(chunk: Buffer): void {
    const ws = this.ws!;
    this.bytes.fromGuest += chunk.length;
    ws.send(chunk, { binary: true }, () => {
      if (this.tcp.isPaused() && ws.bufferedAmount < low && this.state === 'open') this.tcp.resume();
    });
    if (ws.bufferedAmount > high && !this.tcp.isPaused()) {
      this.stall('fromGuest');
      this.tcp.pause();
    }
  }

  private stall(direction: 'toGuest' | 'fromGuest'): void {
    this.stalls[direction]++;
    this.info.log.debug({ taskId: this.info.taskId, direction }, 'console backpressure');
  }

  private shut(cause: CloseCause): void {
    if (!this.move('closing')) return;
    this.cause = cause;
    const ws = this.ws;
    if (ws && cause.by !== 'client') ws.close(cause.code, wsReason(cause.reason));
    if (!this.tcpGone && !this.tcp.destroyed) {
      if (this.ws) {
        // Let what the browser sent reach the guest before the FIN.
        this.tcp.end();
        setTimeout(() => this.tcp.destroy(), lingerMs).unref();
      } else {
        // Nothing was ever written, and nobody will read the guest's banner.
        this.tcp.destroy();
      }
    }
    this.settle();
  }

  /** Closed once both sockets are gone; a WebSocket still in its handshake counts as present. */
  private settle(): void {
    if (this.state !== 'closing' || !this.tcpGone) return;
    if (!this.wsGone) return;
    this.move('closed');
    this.info.log.info(
      {
        taskId: this.info.taskId,
        target: this.info.target,
        bytesToGuest: this.bytes.toGuest,
        bytesFromGuest: this.bytes.fromGuest,
        stallsToGuest: this.stalls.toGuest,
        stallsFromGuest: this.stalls.fromGuest,
        durationMs: Date.now() - this.started,
        closedBy: this.cause?.by,
        code: this.cause?.code,
        reason: this.cause?.reason,
      },
      'console session closed',
    );
    for (const fn of this.onClosed.splice(0)) fn();
  }

  private move(to: SessionState): boolean {
    if (!canTransition(this.state, to)) {
      if (this.state !== to) this.info.log.debug({ taskId: this.info.taskId, from: this.state, to }, 'ignored session transition');
      return false;
    }
    this.state = to;
    return true;
  }
}

/** RFC 6455 §5.5: a close frame's payload is at most 125 bytes, 2 of them the code. */
export function wsReason(reason: string): string {
  const buf = Buffer.from(reason, 'utf8');
  if (buf.length <= 123) return reason;
  // Cut on a character boundary so the frame stays valid UTF-8.
  let s = buf.subarray(0, 120).toString('utf8');
  while (Buffer.byteLength(s) > 120 || s.endsWith('\uFFFD')) s = s.slice(0, -1);
  return `${s}...`;
}
