import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { RawData, WebSocket } from 'ws';
import { IdleWatch, realTimers, type Timers } from './idle-watch.ts';
import { RfbClientScanner } from './rfb-client.ts';
import { canTransition, type SessionState } from './session-state.ts';

// Backpressure marks for the guest→browser direction: stop reading the VNC socket while the
// WebSocket holds more than `high` unsent bytes, start again below `low`.
const high = 1 << 20;
const low = 256 << 10;
// A VNC server that ignores our FIN is cut off after this long.
const lingerMs = 2000;

export const closeCodes = { normal: 1000, goingAway: 1001, unsupportedData: 1003, policy: 1008, internalError: 1011, idle: 4000 } as const;

/** What a console shows: the guest's screen (RFB to its VNC server) or its serial port. */
export type ConsoleKind = 'vnc' | 'serial';

const labels: Record<ConsoleKind, { closed: string; error: string }> = {
  vnc: { closed: "the guest's VNC server closed the connection", error: 'VNC connection error' },
  serial: { closed: "the guest's serial console closed", error: 'serial console error' },
};

/** A peer gateway's close of a hop, carried to the browser so it reads the far side's reason. */
export interface PeerClosed {
  peerClose?: { code: number; reason: string };
}

interface CloseCause {
  by: 'guest' | 'client' | 'gateway';
  code: number;
  reason: string;
}

/** What a session is connected to: a guest's VNC server or serial socket, or a peer's gateway (the hop). */
export type SessionTarget = { host: string; port: number; password?: string } | { socket: string } | { peer: string };

/** The target as logs may show it: where, never the guest's VNC password. */
export function loggableTarget(t: SessionTarget): { host: string; port: number } | { socket: string } | { peer: string } {
  if ('peer' in t) return { peer: t.peer };
  if ('socket' in t) return { socket: t.socket };
  return { host: t.host, port: t.port };
}

export interface SessionInfo {
  taskId: string;
  kind?: ConsoleKind;
  target: SessionTarget;
  /** Who is watching: the browser's address, or `member <node id>` for a hop from a peer's gateway. */
  from?: string;
  /** The signed-in user (with console tickets); undefined until then. */
  user?: string;
  log: Logger;
  now?: () => Date;
  /** Closes the session after this long without the viewer's input. */
  idleMs?: number;
  timers?: Timers;
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
  private readonly now: () => Date;
  private readonly started: number;
  private readonly onClosed: Array<() => void> = [];
  private readonly kind: ConsoleKind;
  private readonly scanner?: RfbClientScanner;
  private idle?: IdleWatch;

  private readonly timers: Timers;
  private readonly info: { taskId: string; target: ReturnType<typeof loggableTarget>; from?: string; user?: string; log: Logger; idleMs?: number };

  constructor(
    private readonly tcp: Duplex,
    info: SessionInfo,
  ) {
    // Only this copy is kept: what a session holds ends up in its log lines.
    this.info = { taskId: info.taskId, target: loggableTarget(info.target), from: info.from, user: info.user, log: info.log, idleMs: info.idleMs };
    this.timers = info.timers ?? realTimers;
    this.kind = info.kind ?? 'vnc';
    this.now = info.now ?? (() => new Date());
    this.started = this.now().getTime();
    // Every RFB stream is followed, hopped ones too: the shared flag is forced wherever it passes.
    if (this.kind === 'vnc') this.scanner = new RfbClientScanner();
    const label = labels[this.kind];
    tcp.on('error', (err: NodeJS.ErrnoException & { closeCode?: number }) =>
      this.shut(
        err.closeCode !== undefined
          ? { by: 'gateway', code: err.closeCode, reason: err.message }
          : { by: 'guest', code: closeCodes.internalError, reason: `${label.error}: ${err.code ?? err.message}` },
      ),
    );
    tcp.on('close', () => {
      this.tcpGone = true;
      const relayed = (tcp as PeerClosed).peerClose;
      this.shut(relayed && relayable(relayed.code) ? { by: 'guest', ...relayed } : { by: 'guest', code: closeCodes.normal, reason: label.closed });
      this.settle();
    });
  }

  /** Bytes this session holds for a slower reader: the WebSocket's unsent bytes and the guest stream's buffers. */
  get buffered(): number {
    return (this.ws?.bufferedAmount ?? 0) + this.tcp.readableLength + this.tcp.writableLength;
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
    this.info.log.info({ taskId: this.info.taskId, kind: this.kind, target: this.info.target, from: this.info.from, user: this.info.user }, 'console session open');
    const idleMs = this.info.idleMs;
    if (idleMs !== undefined) {
      const minutes = Math.round(idleMs / 6000) / 10;
      this.idle = new IdleWatch({
        idleMs,
        now: this.now,
        timers: this.timers,
        onIdle: () => this.shut({ by: 'gateway', code: closeCodes.idle, reason: `closed after ${minutes} min without input (CPS_CONSOLE_IDLE_SEC)` }),
      });
    }
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
    if (!isBinary && this.kind === 'vnc') {
      this.shut({ by: 'gateway', code: closeCodes.unsupportedData, reason: 'RFB travels in binary frames; got a text frame' });
      return;
    }
    let buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
    // A serial viewer's every byte is typed; of RFB only keys, pointer and clipboard are.
    let input = true;
    if (this.scanner) ({ out: buf, input } = this.scanner.scan(buf));
    if (input) this.idle?.touch();
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
    this.idle?.stop();
    const ws = this.ws;
    if (ws && cause.by !== 'client') ws.close(cause.code, wsReason(cause.reason));
    if (!this.tcpGone && !this.tcp.destroyed) {
      if (this.ws) {
        // Let what the browser sent reach the guest before the FIN.
        this.tcp.end();
        this.timers.setTimeout(() => this.tcp.destroy(), lingerMs);
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
        kind: this.kind,
        target: this.info.target,
        from: this.info.from,
        user: this.info.user,
        bytesToGuest: this.bytes.toGuest,
        bytesFromGuest: this.bytes.fromGuest,
        stallsToGuest: this.stalls.toGuest,
        stallsFromGuest: this.stalls.fromGuest,
        durationMs: this.now().getTime() - this.started,
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

/** Codes a peer gateway's close may hand on to the browser (1005/1006 cannot be sent). */
function relayable(code: number): boolean {
  return code === 1000 || code === 1001 || code === 1003 || code === 1008 || code === 1011 || (code >= 4000 && code <= 4999);
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
