import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fenceCommands, fenceRoutes, problemErrorHandler, type CommandEpoch } from '@cps/common';
import { FenceGuard } from '@cps/head/election/fence-guard.ts';
import { Hono } from 'hono';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { clientsOverTls, raiseFences, type NodeAddress } from '../src/clients.ts';
import { UpstreamError } from '../src/upstream.ts';

const node: NodeAddress = { nodeId: 'ws-b', address: '10.0.0.2', ports: { coordinator: 1, discovery: 2, provisioner: 3, storage: 4, vncGateway: 5 } };
const spec = { name: 'x', vcpus: 1, memoryMiB: 64, disks: [], boot: { kind: 'kernel' as const, kernel: '/k', initrd: '/i', cmdline: '' } };

/** A fetch that keeps each request's method, port and fence headers and answers 204. */
function recording() {
  const sent: Array<{ method: string; port: string; epoch: string | null; head: string | null }> = [];
  const fetch = async (req: Request) => {
    sent.push({ method: req.method, port: new URL(req.url).port, epoch: req.headers.get('CPS-Epoch'), head: req.headers.get('CPS-Head') });
    return new Response(null, { status: 204 });
  };
  return { fetch, sent };
}

describe('clientsOverTls: every request to a host carries the head epoch', () => {
  it('adds CPS-Epoch and CPS-Head to the provisioner and storage, read when each request is sent', async () => {
    const { fetch, sent } = recording();
    let current: CommandEpoch | undefined = { epoch: 7, head: 'ws-a' };
    const c = clientsOverTls(fetch, () => current)(node);
    await c.provisioner.PUT('/vms/{taskId}', { params: { path: { taskId: 't-1' } }, body: spec });
    await c.storage.DELETE('/disks/{taskId}', { params: { path: { taskId: 't-1' } } });
    current = { epoch: 8, head: 'ws-c' };
    await c.provisioner.GET('/vms');
    current = undefined; // this node no longer leads: unfenced, as without a head
    await c.storage.DELETE('/exports/{taskId}', { params: { path: { taskId: 't-1' } } });
    expect(sent).toEqual([
      { method: 'PUT', port: '3', epoch: '7', head: 'ws-a' },
      { method: 'DELETE', port: '4', epoch: '7', head: 'ws-a' },
      { method: 'GET', port: '3', epoch: '8', head: 'ws-c' },
      { method: 'DELETE', port: '4', epoch: null, head: null },
    ]);
  });

  it('sends no fence headers without an epoch source', async () => {
    const { fetch, sent } = recording();
    await clientsOverTls(fetch)(node).provisioner.DELETE('/vms/{taskId}', { params: { path: { taskId: 't-1' } } });
    expect(sent).toEqual([{ method: 'DELETE', port: '3', epoch: null, head: null }]);
  });
});

describe('raiseFences: a new head shows a host its epoch', () => {
  /** One node's provisioner and storage (routed by port), sharing one fence folder, as on a host. */
  async function host() {
    const dir = join(mkdtempSync(join(tmpdir(), 'cps-coord-fence-')), 'fence');
    const log = pino({ level: 'silent' });
    const ran: string[] = [];
    const service = async (name: string) => {
      const fence = await FenceGuard.open(dir);
      const app = new Hono();
      app.onError(problemErrorHandler(log));
      app.use(fenceCommands(fence, log));
      app.route('/', fenceRoutes(fence));
      app.delete('/vms/:id', (c) => (ran.push(`${name} destroy ${c.req.param('id')}`), c.body(null, 204)));
      return app;
    };
    const apps: Record<string, Hono> = { '3': await service('provisioner'), '4': await service('storage') };
    return { fetch: async (req: Request) => apps[new URL(req.url).port]!.fetch(req), ran };
  }

  it('raises both fences; afterwards the old head is refused and the new one obeyed', async () => {
    const h = await host();
    const oldHead = clientsOverTls(h.fetch, () => ({ epoch: 4, head: 'ws-a' }))(node);
    const newHead = clientsOverTls(h.fetch, () => ({ epoch: 5, head: 'ws-c' }))(node);
    expect((await oldHead.provisioner.DELETE('/vms/{taskId}', { params: { path: { taskId: 't-1' } } })).response.status).toBe(204);

    expect(await raiseFences(node, newHead, { epoch: 5, head: 'ws-c' })).toEqual({
      provisioner: { highestEpoch: 5, head: 'ws-c' },
      storage: { highestEpoch: 5, head: 'ws-c' },
    });

    const refused = await oldHead.provisioner.DELETE('/vms/{taskId}', { params: { path: { taskId: 't-2' } } });
    expect(refused.response.status).toBe(409);
    expect(refused.error).toMatchObject({ type: 'urn:cps:problem:stale-epoch', epoch: 4, highestEpoch: 5 });
    expect((await newHead.provisioner.DELETE('/vms/{taskId}', { params: { path: { taskId: 't-3' } } })).response.status).toBe(204);
    expect(h.ran).toEqual(['provisioner destroy t-1', 'provisioner destroy t-3']);

    const e = await raiseFences(node, oldHead, { epoch: 4, head: 'ws-a' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(UpstreamError);
    expect((e as UpstreamError).failure).toMatchObject({ nodeId: 'ws-b', type: 'urn:cps:problem:stale-epoch', status: 409 });
  });
});
