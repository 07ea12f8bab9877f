import { existsSync } from 'node:fs';
import path from 'node:path';
import { fenceDir } from '@cps/common';
import { FenceGuard } from '@cps/head/election/fence-guard.ts';
import { storageClient, viaApp } from '@cps/openapi';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.ts';
import { makeFixture, taskId, type Fixture } from './fixture.ts';

let f: Fixture;
let app: ReturnType<typeof createApp>;
/** The node's provisioner's guard: a second process on the same fence folder. */
let provisioner: FenceGuard;
beforeEach(async () => {
  f = await makeFixture();
  const { images, store: disks, uploads, bootstraps, exports, transfers } = f;
  const fence = await FenceGuard.open(fenceDir(f.root));
  app = createApp({ images, disks, uploads, bootstraps, exports, transfers, fence, log: pino({ level: 'silent' }) });
  provisioner = await FenceGuard.open(fenceDir(f.root));
});
afterEach(() => f.cleanup());

const head = (epoch: number, node: string) => ({ 'CPS-Epoch': String(epoch), 'CPS-Head': node });
const put = (id: string, h: Record<string, string>) =>
  app.request(`/disks/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json', ...h }, body: JSON.stringify({ image: 'tiny', diskMiB: 32 }) });

describe('storage: a command of an older head changes nothing', () => {
  it('refuses to make, discard or delete for the old head once the node has seen a newer epoch', async () => {
    const kept = taskId();
    expect((await put(kept, head(1, 'n1'))).status).toBe(201);
    const disk = path.join(f.root, 'disks', kept, 'data.qcow2');
    expect(existsSync(disk)).toBe(true);

    await provisioner.admit(2, 'n2'); // the new head showed the node's provisioner its epoch

    const refused = await app.request(`/disks/${kept}`, { method: 'DELETE', headers: head(1, 'n1') });
    expect(refused.status).toBe(409);
    expect(refused.headers.get('content-type')).toBe('application/problem+json');
    expect(await refused.json()).toMatchObject({ type: 'urn:cps:problem:stale-epoch', detail: 'epoch 1 (from n1) is older than epoch 2, the highest this host has seen', epoch: 1, highestEpoch: 2 });
    expect(existsSync(disk)).toBe(true);
    expect((await app.request(`/disks/${kept}`)).status).toBe(200);

    const notMade = taskId();
    expect((await put(notMade, head(1, 'n1'))).status).toBe(409);
    expect(existsSync(path.join(f.root, 'disks', notMade))).toBe(false);
    expect((await app.request('/images/tiny', { method: 'DELETE', headers: head(1, 'n1') })).status).toBe(409);
    expect(f.toolCalls.filter((c) => c.args.some((a) => a.includes(notMade)))).toEqual([]); // no qemu-img ran for it

    expect((await app.request(`/disks/${kept}`, { method: 'DELETE', headers: head(2, 'n2') })).status).toBe(204);
    expect(existsSync(disk)).toBe(false);
  });

  it('GET /fence and POST /fence through the typed client; a restart keeps the highest epoch', async () => {
    const client = storageClient(viaApp(app));
    expect((await client.GET('/fence')).data).toEqual({ highestEpoch: 0 });
    const raised = await client.POST('/fence', { params: { header: { 'CPS-Epoch': 7, 'CPS-Head': 'n4' } } });
    expect(raised.data).toEqual({ highestEpoch: 7, head: 'n4' });
    const stale = await client.POST('/fence', { params: { header: { 'CPS-Epoch': 6, 'CPS-Head': 'n3' } } });
    expect(stale.response.status).toBe(409);
    expect(stale.error).toMatchObject({ type: 'urn:cps:problem:stale-epoch', epoch: 6, highestEpoch: 7 });

    const reopened = await FenceGuard.open(fenceDir(f.root));
    expect(reopened.highest).toBe(7);
    expect(await reopened.current()).toEqual({ highestEpoch: 7, head: 'n4' });
  });

  it('without a fence there is no /fence, and commands are as before', async () => {
    expect((await f.app.request('/fence')).status).toBe(404);
    expect((await f.app.request(`/disks/${taskId()}`, { method: 'PUT', headers: { 'content-type': 'application/json', ...head(1, 'n1') }, body: JSON.stringify({ image: 'tiny', diskMiB: 32 }) })).status).toBe(201);
  });
});
