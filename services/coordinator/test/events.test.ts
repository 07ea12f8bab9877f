import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, serveApp, type Served } from '@cps/common';
import { fakeCluster, fakeNode, reach } from './fakes.ts';
import { readSse } from './sse.ts';

const log = createLogger('coordinator-test', 'silent');
let served: Served | undefined;
afterEach(async () => {
  await served?.close();
  served = undefined;
});

async function start(heartbeatMs?: number) {
  const cluster = fakeCluster([fakeNode('node-a', '127.0.0.1')], { heartbeatMs });
  served = await serveApp(cluster.app, { port: 0, hostname: '127.0.0.1', log });
  return { ...cluster, base: `http://127.0.0.1:${served.port}` };
}

describe('GET /api/events', () => {
  it('sends the existing tasks on connect, then every change of a new task until it runs', async () => {
    const { base, tasks } = await start();
    const old = tasks.create('before', { vcpus: 1, memoryMiB: 256, diskMiB: 64, image: 'tiny' });
    const abort = new AbortController();
    const res = await fetch(`${base}/api/events`, { signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);

    const seen: [string, string][] = [];
    let submitted: string | undefined;
    for await (const msg of readSse(res.body!)) {
      if (msg.event !== 'task') continue;
      const task = JSON.parse(msg.data!);
      seen.push([task.name, task.state]);
      if (!submitted) {
        // The snapshot arrived; now submit through the API, as the portal does.
        const post = await fetch(`${base}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'live' }) });
        submitted = (await post.json()).id;
      }
      if (task.id === submitted && task.state === 'running') break;
    }
    abort.abort();
    expect(seen[0]).toEqual(['before', 'pending']);
    expect(seen.filter(([name]) => name === 'live').map(([, s]) => s)).toEqual(['pending', 'placing', 'starting', 'running']);
    expect(old.id).not.toBe(submitted);
  });

  it('sends heartbeat comments and forgets the listener when the client goes away', async () => {
    const { base, tasks } = await start(20);
    const abort = new AbortController();
    const res = await fetch(`${base}/api/events`, { signal: abort.signal });
    for await (const msg of readSse(res.body!)) if (msg.comment === 'heartbeat') break;
    expect(tasks.listenerCount).toBe(1);
    abort.abort();
    await vi.waitFor(() => expect(tasks.listenerCount).toBe(0), { timeout: 10_000, interval: 20 });
  });

  it('streams a change made after connect to every client', async () => {
    const { base, tasks, placer } = await start();
    const t = tasks.create('shared', { vcpus: 1, memoryMiB: 256, diskMiB: 64, image: 'tiny' });
    const clients = await Promise.all([0, 1].map(() => fetch(`${base}/api/events`)));
    const states = clients.map(async (res) => {
      const got: string[] = [];
      for await (const msg of readSse(res.body!)) {
        if (msg.event !== 'task') continue;
        got.push(JSON.parse(msg.data!).state);
        if (got.at(-1) === 'running') break;
      }
      await res.body?.cancel().catch(() => {});
      return got;
    });
    await vi.waitFor(() => expect(tasks.listenerCount).toBe(2), { timeout: 10_000, interval: 10 });
    await placer.place(t.id);
    await reach(tasks, t.id, 'running');
    for (const s of await Promise.all(states)) expect(s).toEqual(['pending', 'placing', 'starting', 'running']);
  });
});
