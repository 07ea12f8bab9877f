import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { DialSerial } from './dial.ts';
import { realTimers, type Timers } from './idle-watch.ts';
import { closeCodes } from './session.ts';

/** The last output a new viewer is shown first, so it does not join a silent screen. */
export const defaultRingBytes = 64 << 10;
/** A viewer that holds the guest's output back this long is let go, so it cannot stall the others. */
export const defaultStallMs = 10_000;

export interface SerialHubOptions {
  dial: DialSerial;
  log: Logger;
  timers?: Timers;
  ringBytes?: number;
  stallMs?: number;
  /** Bytes a viewer's stream holds before the guest is paused for it. */
  viewerHighWater?: number;
}

/** Ends a viewer that read too slowly; the session closes with `closeCode` and this message. */
export class SlowViewerError extends Error {
  readonly closeCode = closeCodes.policy;
}

/**
 * QEMU's serial socket takes one client: the gateway holds one connection per task and shares it.
 * `viewer` gives each console a stream of its own: reading it gives the guest's output (the recent
 * past first), writing it types into the guest, merged with every other viewer's input.
 */
export class SerialHubs {
  private readonly hubs = new Map<string, Promise<SerialHub>>();

  constructor(private readonly o: SerialHubOptions) {}

  async viewer(taskId: string, socketPath: string): Promise<Duplex> {
    for (;;) {
      let hub = this.hubs.get(taskId);
      if (!hub) {
        hub = this.o.dial(socketPath).then((guest) => new SerialHub(taskId, guest, this.o, () => this.hubs.get(taskId) === hub && this.hubs.delete(taskId)));
        this.hubs.set(taskId, hub);
        hub.catch(() => this.hubs.get(taskId) === hub && this.hubs.delete(taskId));
      }
      // A hub whose last viewer just left is closing: the next one dials afresh.
      const v = (await hub).join();
      if (v) return v;
      if (this.hubs.get(taskId) === hub) this.hubs.delete(taskId);
    }
  }

  /** Tasks whose serial socket this gateway holds now. */
  get size(): number {
    return this.hubs.size;
  }
}

class SerialHub {
  private readonly viewers = new Set<Duplex>();
  /** Viewers whose stream is full: the guest is paused until none is left. */
  private readonly blocked = new Map<Duplex, unknown>();
  private ring: Buffer[] = [];
  private ringLength = 0;
  private truncated = false;
  private closed = false;
  private readonly timers: Timers;

  constructor(
    private readonly taskId: string,
    private readonly guest: Socket,
    private readonly o: SerialHubOptions,
    private readonly onGone: () => void,
  ) {
    this.timers = o.timers ?? realTimers;
    guest.on('data', (chunk: Buffer) => this.output(chunk));
    guest.on('error', (err) => this.end(err));
    guest.on('close', () => this.end());
    o.log.debug({ taskId }, 'serial socket connected');
  }

  join(): Duplex | undefined {
    if (this.closed) return undefined;
    const v: Duplex = new Duplex({
      highWaterMark: this.o.viewerHighWater ?? 64 << 10,
      read: () => this.unblock(v),
      write: (chunk: Buffer, _enc, done) => {
        if (this.closed) return done(new Error('the serial socket is closed'));
        if (this.guest.write(chunk)) done();
        else this.guest.once('drain', () => done());
      },
      final: (done) => {
        this.leave(v);
        v.push(null);
        done();
      },
      destroy: (err, done) => {
        this.leave(v);
        done(err);
      },
    });
    this.viewers.add(v);
    const recent = this.recent();
    if (recent.length > 0) v.push(recent);
    return v;
  }

  private output(chunk: Buffer): void {
    this.remember(chunk);
    for (const v of this.viewers) if (!v.push(chunk)) this.block(v);
  }

  private remember(chunk: Buffer): void {
    const max = this.o.ringBytes ?? defaultRingBytes;
    this.ring.push(chunk);
    this.ringLength += chunk.length;
    while (this.ringLength > max) {
      const first = this.ring[0]!;
      const over = this.ringLength - max;
      if (first.length <= over) {
        this.ring.shift();
        this.ringLength -= first.length;
      } else {
        this.ring[0] = first.subarray(over);
        this.ringLength -= over;
      }
      this.truncated = true;
    }
  }

  /** The ring, from its first whole line once it has dropped bytes (no half escape sequence first). */
  private recent(): Buffer {
    const all = Buffer.concat(this.ring);
    if (!this.truncated) return all;
    const nl = all.indexOf(10);
    return nl < 0 ? all : all.subarray(nl + 1);
  }

  private block(v: Duplex): void {
    if (this.blocked.has(v)) return;
    const stallMs = this.o.stallMs ?? defaultStallMs;
    const timer = this.timers.setTimeout(() => {
      if (!this.blocked.has(v)) return;
      this.o.log.info({ taskId: this.taskId, stallMs }, 'serial viewer too slow, let go');
      v.destroy(new SlowViewerError(`this viewer read too slowly and held the guest's serial output back for ${stallMs / 1000} s`));
    }, stallMs);
    this.blocked.set(v, timer);
    this.guest.pause();
  }

  private unblock(v: Duplex): void {
    if (!this.blocked.has(v)) return;
    this.timers.clearTimeout(this.blocked.get(v));
    this.blocked.delete(v);
    if (this.blocked.size === 0 && !this.closed) this.guest.resume();
  }

  private leave(v: Duplex): void {
    if (!this.viewers.delete(v)) return;
    this.unblock(v);
    if (this.viewers.size > 0 || this.closed) return;
    // Nobody watches: give QEMU's one client place back (its log goes on without us).
    this.closed = true;
    this.onGone();
    this.guest.end();
    this.timers.setTimeout(() => this.guest.destroy(), 2000);
  }

  /** The guest's side went away: so does every viewer. */
  private end(err?: Error): void {
    const wasClosed = this.closed;
    this.closed = true;
    if (!wasClosed) this.onGone();
    for (const t of this.blocked.values()) this.timers.clearTimeout(t);
    this.blocked.clear();
    for (const v of [...this.viewers]) v.destroy(err);
    this.viewers.clear();
  }
}
