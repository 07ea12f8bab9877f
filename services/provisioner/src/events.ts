import type { ProvisionerSchemas } from '@cps/openapi';

export type VmEvent = ProvisionerSchemas['VmEvent'];
export type VmEventKind = VmEvent['kind'];
export type NewEvent = Omit<VmEvent, 'id' | 'at'> & { at?: Date };

/** How long events are kept for a coordinator that (re)connects to GET /events. */
export const REPLAY_MS = 60_000;
const MAX_KEPT = 1000;

/** In-process fan-out of guest events to the SSE subscribers, with a short replay window. */
export class EventBus {
  private nextId = 1;
  private readonly kept: { event: VmEvent; atMs: number }[] = [];
  private readonly listeners = new Set<(e: VmEvent) => void>();

  constructor(private readonly now: () => Date = () => new Date()) {}

  emit(e: NewEvent): VmEvent {
    const at = e.at ?? this.now();
    const event: VmEvent = { ...e, id: this.nextId++, at: at.toISOString() };
    this.kept.push({ event, atMs: at.getTime() });
    this.trim();
    for (const fn of this.listeners) fn(event);
    return event;
  }

  /** The events of the replay window, oldest first. */
  recent(): VmEvent[] {
    this.trim();
    return this.kept.map((k) => k.event);
  }

  subscribe(fn: (e: VmEvent) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private trim(): void {
    const oldest = this.now().getTime() - REPLAY_MS;
    while (this.kept.length > 0 && (this.kept.length > MAX_KEPT || this.kept[0]!.atMs < oldest)) this.kept.shift();
  }
}
