import { getRequestListener } from '@hono/node-server';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { doorLists, type DoorLists } from '@cps/common';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeCluster, fakeNode, reach } from '../../services/coordinator/test/fakes.ts';
import { memoryIo } from '../src/io.ts';
import { run } from '../src/main.ts';

// `cps task` against the real coordinator app behind its public door, configured as on a node.
let server: Server | undefined;
afterEach(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

async function coordinator(doorFor: (port: number) => DoorLists) {
  let door: DoorLists | undefined;
  let cluster: ReturnType<typeof fakeCluster> | undefined;
  const seen: { method: string; type?: string; mark?: string }[] = [];
  server = createServer((req, res) => {
    seen.push({ method: req.method!, type: req.headers['content-type'], mark: req.headers['x-cps-request'] as string | undefined });
    cluster ??= fakeCluster([fakeNode('node-a', '127.0.0.1')], { door });
    void getRequestListener(cluster.app.fetch)(req, res);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  door = doorFor(port);
  const cps = async (...argv: string[]) => {
    const io = memoryIo();
    const code = await run([...argv, '--url', `http://127.0.0.1:${port}`, '--interval', '10'], io);
    return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
  };
  return { cps, seen, cluster: () => cluster! };
}

describe('cps task through the public door', () => {
  it('submits (JSON), shows, lists and stops (a bare DELETE) a task', async () => {
    const { cps, seen, cluster } = await coordinator((port) => doorLists({ port, advertiseAddress: '10.0.0.5', publicHosts: ['cps.lab.example'] }));
    const sub = await cps('task', 'submit', '--name', 'x');
    expect(sub).toMatchObject({ code: 0, err: '' });
    const id = [...cluster().tasks.list()][0]!.id;
    await reach(cluster().tasks, id, 'running');
    expect((await cps('task', 'show', id)).out).toMatch(/state: +running/);
    expect((await cps('task', 'list')).code).toBe(0);
    expect(await cps('task', 'stop', id, '--wait')).toMatchObject({ code: 0, err: '' });
    expect(cluster().tasks.get(id)?.state).toBe('stopped');
    expect(seen.find((s) => s.method === 'POST')).toMatchObject({ type: 'application/json', mark: '1' });
    expect(seen.find((s) => s.method === 'DELETE')).toMatchObject({ type: undefined, mark: '1' });
  });

  it('a coordinator that does not answer to the name used says how to allow it', async () => {
    // The door of a node whose port is another one: 127.0.0.1:<this port> is not one of its names.
    const { cps } = await coordinator((port) => doorLists({ port: port + 1 }));
    const r = await cps('task', 'list');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: This node is not reached by that name: .*127\.0\.0\.1:\d+.*add it to CPS_PUBLIC_HOSTS/);
  });
});
