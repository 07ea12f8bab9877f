import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { provisionerClient, storageClient, viaApp } from '@cps/openapi';
import type { ClientsFor } from '../src/clients.ts';
import { fakeCluster, fakeNode, reach } from './fakes.ts';

const ADDR = { interface: 'enp1s0', family: 'ipv4', address: '10.0.2.15', prefix: 24 };

/** The fake node's provisioner, but GET /vms/{taskId} answers as `vmAnswer` says (with the fake's VM underneath). */
function clusterWith(vmAnswer: (vm: Record<string, unknown>) => Response | Promise<Response>) {
  const node = fakeNode('node-a', '127.0.0.1');
  const front = new Hono();
  front.get('/vms/:taskId', async (c) => {
    const r = await node.provisioner.request(c.req.url);
    if (r.status !== 200) return r;
    return vmAnswer(await r.json());
  });
  front.all('*', (c) => node.provisioner.fetch(c.req.raw));
  const clientsFor: ClientsFor = () => ({ storage: storageClient(viaApp(node.storage)), provisioner: provisionerClient(viaApp(front)) });
  const cluster = fakeCluster([node], { clientsFor });
  return { ...cluster, http: request(getRequestListener(cluster.app.fetch)) };
}

describe('a task shows its guest\'s addresses (the provisioner\'s, from the guest agent)', () => {
  it('passes them on while the task runs', async () => {
    const { http, tasks } = clusterWith((vm) => Response.json({ ...vm, addresses: [ADDR] }));
    const { body } = await http.post('/api/tasks').send({ name: 'with-agent' }).expect(202);
    expect(body.addresses).toBeUndefined();
    await reach(tasks, body.id, 'running');
    const got = await http.get(`/api/tasks/${body.id}`).expect(200);
    expect(got.body.addresses).toEqual([ADDR]);
    // Not stored: the list of tasks (no per-task peer call) and the record have none.
    expect(tasks.require(body.id)).not.toHaveProperty('addresses');
  });

  it('shows the task without them when the guest has none or its peer fails', async () => {
    for (const answer of [(vm: Record<string, unknown>) => Response.json(vm), () => new Response('{"type":"urn:cps:problem:hypervisor-error"}', { status: 502, headers: { 'content-type': 'application/problem+json' } })]) {
      // Placement reads the guest too: it answers well until the task runs.
      let placed = false;
      const { http, tasks } = clusterWith((vm) => (placed ? answer(vm) : Response.json(vm)));
      const { body } = await http.post('/api/tasks').send({ name: 'no-agent' }).expect(202);
      await reach(tasks, body.id, 'running');
      placed = true;
      const got = await http.get(`/api/tasks/${body.id}`).expect(200);
      expect(got.body.state).toBe('running');
      expect(got.body.addresses).toBeUndefined();
    }
  });
});
