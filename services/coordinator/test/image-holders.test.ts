import { discoveryClient, storageClient, viaApp } from '@cps/openapi';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { imageRoutes } from '../src/api/images.ts';
import { coordinatorContract } from '../src/api/contract.ts';
import type { NodeAddress } from '../src/clients.ts';

const sha = (c: string) => c.repeat(64);
const uploaded = (c: string) => ({ id: `img-${sha(c).slice(0, 24)}`, name: `up ${c}`, kind: 'disk', format: 'raw', builtin: false, sizeBytes: 1, sha256: sha(c) });
const tiny = { id: 'tiny', name: 'tiny', kind: 'kernel', builtin: true, sizeBytes: 1, sha256: sha('0') };
const ports = { coordinator: 1, discovery: 2, provisioner: 3, storage: 4, vncGateway: 5 };
const peer = (nodeId: string, state: string) => ({ nodeId, address: `10.0.0.${nodeId.length}`, ports, uptimeSec: 1, lastSeenMs: 0, state, head: false });

function storageOf(items: unknown[] | 'down') {
  const app = new Hono();
  app.get('/images', (c) => (items === 'down' ? c.json({ type: 'x' }, 503) : c.json({ items })));
  return storageClient(viaApp(app));
}

function setup() {
  const disc = new Hono();
  disc.get('/self', (c) => c.json({ ...peer('ws-1', 'alive') }));
  disc.get('/peers', (c) => c.json({ items: [peer('ws-2', 'alive'), peer('ws-3', 'alive'), peer('ws-4', 'dead'), peer('ws-5', 'alive')] }));
  const stores: Record<string, ReturnType<typeof storageOf>> = {
    'ws-2': storageOf([uploaded('a'), uploaded('b'), tiny]),
    'ws-3': storageOf('down'),
    'ws-4': storageOf([uploaded('a')]),
    'ws-5': storageOf([{ ...uploaded('a'), sha256: sha('f') }]), // other bytes under that id: not a holder
  };
  const asked: string[] = [];
  const app = imageRoutes({
    contract: coordinatorContract,
    storage: storageOf([uploaded('a'), tiny]),
    discovery: discoveryClient(viaApp(disc)),
    clientsFor: (n: NodeAddress) => (asked.push(n.nodeId), { storage: stores[n.nodeId]!, provisioner: undefined as never }),
  });
  return { app, asked };
}

describe('GET /api/images says which nodes hold each uploaded image', () => {
  it('this node and the alive peers whose storage lists the same bytes; built-in images have no holders', async () => {
    const { app, asked } = setup();
    const res = await app.request('/api/images');
    expect(res.status).toBe(200);
    const { items } = await res.json();
    expect(items).toEqual([
      { id: uploaded('a').id, name: 'up a', kind: 'disk', holders: ['ws-1', 'ws-2'] },
      { id: 'tiny', name: 'tiny', kind: 'kernel' },
    ]);
    expect(asked.sort()).toEqual(['ws-2', 'ws-3', 'ws-5']);
  });

  it('without a peer view the list is as before', async () => {
    const app = imageRoutes({ contract: coordinatorContract, storage: storageOf([uploaded('a')]) });
    expect((await (await app.request('/api/images')).json()).items).toEqual([{ id: uploaded('a').id, name: 'up a', kind: 'disk' }]);
  });
});
