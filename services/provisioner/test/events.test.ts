import { describe, expect, it } from 'vitest';
import { createLogger } from '@cps/common';
import { createApp } from '../src/app.ts';
import { EventBus, REPLAY_MS } from '../src/events.ts';
import type { Hypervisor } from '../src/hypervisor.ts';

/** Reads SSE frames from a response body until `count` data frames have arrived. */
async function readEvents(body: ReadableStream<Uint8Array>, count: number): Promise<{ event: string; id: string; data: unknown }[]> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  const out: { event: string; id: string; data: unknown }[] = [];
  while (out.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const frame = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const field = (name: string) => frame.split('\n').find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
      const data = field('data');
      if (data !== undefined) out.push({ event: field('event')!, id: field('id')!, data: JSON.parse(data) });
    }
  }
  await reader.cancel();
  return out;
}

describe('EventBus', () => {
  it('numbers events, keeps the last minute for replay, and fans out to subscribers', () => {
    let now = new Date('2026-11-25T20:00:00Z');
    const bus = new EventBus(() => now);
    const got: number[] = [];
    const off = bus.subscribe((e) => got.push(e.id));
    bus.emit({ kind: 'vanished', taskId: 'a' });
    now = new Date(now.getTime() + REPLAY_MS / 2);
    bus.emit({ kind: 'crashed', taskId: 'b' });
    off();
    bus.emit({ kind: 'paused', taskId: 'c' });
    expect(got).toEqual([1, 2]);
    expect(bus.recent().map((e) => e.taskId)).toEqual(['a', 'b', 'c']);
    now = new Date(now.getTime() + REPLAY_MS / 2 + 1);
    expect(bus.recent().map((e) => e.taskId)).toEqual(['b', 'c']);
    expect(bus.recent()[0]!.at).toBe('2026-11-25T20:00:30.000Z');
  });
});

describe('GET /events', () => {
  it('streams the replay window, then live events, as SSE with the kind as event name', async () => {
    const events = new EventBus();
    const app = createApp({
      hypervisor: {} as Hypervisor,
      dataDir: '/nonexistent',
      accelerator: async () => 'tcg',
      log: createLogger('t', 'silent'),
      events,
    });
    events.emit({ kind: 'vanished', taskId: 't-1', lastSeenAt: new Date().toISOString(), detail: 'gone' });
    const r = await app.request('/events');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reading = readEvents(r.body!, 3);
    setTimeout(() => {
      events.emit({ kind: 'crashed', taskId: 't-2', state: 'crashed' });
      events.emit({ kind: 'owner-busy', taskId: 't-3', detail: 'owner at work' });
    }, 20);
    const got = await reading;
    expect(got.map((e) => [e.event, e.id])).toEqual([['vanished', '1'], ['crashed', '2'], ['owner-busy', '3']]);
    expect(got[1]!.data).toMatchObject({ id: 2, kind: 'crashed', taskId: 't-2', state: 'crashed' });
  });
});
