import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { Logger } from '@cps/common';
import type { ClientsFor, NodeAddress } from '../clients.ts';
import type { Timers } from '../queue/dispatcher.ts';
import { PeerWatch } from '../queue/peer-events.ts';
import type { Task } from './store.ts';
import type { Tasks } from './tasks.ts';
import { applyVmEvent, type GuestNow, type VmEvent } from './vm-events.ts';

export interface HostEventsDeps {
  tasks: Tasks;
  clientsFor: ClientsFor;
  /** Stops a task as a user's stop does (Placer.stop). */
  stop: (id: string) => void;
  timers: Timers;
  log: Logger;
  /** Reconnect backoff: the first wait, doubled per failure up to the last. */
  firstRetryMs?: number;
  maxRetryMs?: number;
}

/** An event is one VmEvent's JSON; a stream sending more than this in one event is not a provisioner's. */
const maxEventChars = 64 * 1024;

const live: ReadonlySet<Task['state']> = new Set(['running', 'suspended']);

interface Stream {
  node: NodeAddress;
  abort?: AbortController;
  /** Stops reading the open stream's body (an abort alone does not reach every fetch's body). */
  reader?: ReadableStreamDefaultReader<Uint8Array>;
  timer?: unknown;
  failures: number;
  closed: boolean;
  /** Events are handled one after another, each after its look at the guest. */
  chain: Promise<void>;
}

/**
 * Follows the provisioner events (GET /events) of every host that runs one of this coordinator's
 * tasks, so what happens there without being asked (the owner-first policy pauses the guest, the
 * guest crashes, its QEMU is killed, it powers itself off) shows in the task's state
 * (tasks/vm-events.ts). A host's stream is opened when a task starts running there and closed when
 * none is left; a stream that ends or fails is reopened with backoff on the injected timers.
 */
export class HostEvents {
  private readonly streams = new Map<string, Stream>();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly d: HostEventsDeps) {}

  start(): void {
    this.unsubscribe = this.d.tasks.subscribe((t) => this.onTask(t));
    for (const t of this.d.tasks.list()) this.onTask(t);
  }

  close(): void {
    this.unsubscribe?.();
    for (const id of [...this.streams.keys()]) this.drop(id);
  }

  /** The hosts followed now (for tests and logs). */
  get following(): string[] {
    return [...this.streams.keys()];
  }

  private onTask(t: Task): void {
    const node = t.node?.ports ? (t.node as NodeAddress) : undefined;
    if (!node) return;
    if (live.has(t.state)) {
      if (!this.streams.has(node.nodeId)) {
        const s: Stream = { node, failures: 0, closed: false, chain: Promise.resolve() };
        this.streams.set(node.nodeId, s);
        void this.connect(s);
      }
      return;
    }
    if (this.streams.has(node.nodeId) && !this.d.tasks.list().some((o) => o.node?.nodeId === node.nodeId && live.has(o.state))) this.drop(node.nodeId);
  }

  private drop(nodeId: string): void {
    const s = this.streams.get(nodeId);
    if (!s) return;
    s.closed = true;
    s.abort?.abort();
    s.reader?.cancel().catch(() => undefined);
    if (s.timer !== undefined) this.d.timers.clearTimeout(s.timer);
    this.streams.delete(nodeId);
  }

  private async connect(s: Stream): Promise<void> {
    if (s.closed) return;
    const abort = new AbortController();
    s.abort = abort;
    let why = 'the stream ended';
    try {
      const r = await this.d.clientsFor(s.node).provisioner.GET('/events', { parseAs: 'stream', signal: abort.signal });
      if (!r.response.ok || !r.data) throw new Error(`the provisioner answered HTTP ${r.response.status}`);
      let failed: Error | undefined;
      const parser = createParser({ onEvent: (e) => this.onEvent(s, e), onError: (err) => (failed ??= err), maxBufferSize: maxEventChars });
      const decoder = new TextDecoder();
      const reader = (r.data as unknown as ReadableStream<Uint8Array>).getReader();
      s.reader = reader;
      if (s.closed) await reader.cancel();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parser.feed(decoder.decode(value, { stream: true }));
        if (failed) throw failed;
      }
    } catch (err) {
      if (s.closed) return;
      why = (err as Error).message;
    }
    if (s.closed) return;
    const delay = PeerWatch.retryDelay(s.failures++, this.d.firstRetryMs, this.d.maxRetryMs);
    this.d.log.warn({ node: s.node.nodeId, why, retryInMs: delay }, 'host events: reconnecting');
    s.timer = this.d.timers.setTimeout(() => {
      s.timer = undefined;
      void this.connect(s);
    }, delay);
  }

  private onEvent(s: Stream, msg: EventSourceMessage): void {
    s.failures = 0;
    let e: VmEvent;
    try {
      e = JSON.parse(msg.data) as VmEvent;
    } catch {
      return;
    }
    if (typeof e?.taskId !== 'string' || typeof e.kind !== 'string' || typeof e.at !== 'string') return;
    // A reconnect's replay repeats events applied before: applyVmEvent skips those older than the task's last change.
    const t = this.d.tasks.get(e.taskId);
    if (!t || t.node?.nodeId !== s.node.nodeId || !live.has(t.state)) return;
    s.chain = s.chain.then(async () => {
      try {
        const guest = await this.guestNow(s.node, e.taskId);
        if (guest === undefined) return;
        const done = applyVmEvent(e, s.node.nodeId, guest, { tasks: this.d.tasks, stop: this.d.stop });
        if (done) this.d.log.info({ taskId: e.taskId, node: s.node.nodeId, kind: e.kind, now: done }, 'host event applied');
      } catch (err) {
        this.d.log.error({ err, taskId: e.taskId, kind: e.kind }, 'host event could not be applied');
      }
    });
  }

  /** The guest as its host says it is now; undefined when the host cannot be asked (the event waits for no one). */
  private async guestNow(node: NodeAddress, taskId: string): Promise<GuestNow | undefined> {
    try {
      const r = await this.d.clientsFor(node).provisioner.GET('/vms/{taskId}', { params: { path: { taskId } }, signal: AbortSignal.timeout(10_000) });
      if (r.response.status === 404) return 'gone';
      return r.data?.state;
    } catch (err) {
      this.d.log.warn({ taskId, node: node.nodeId, err: (err as Error).message }, 'host event: the guest could not be looked at');
      return undefined;
    }
  }
}
