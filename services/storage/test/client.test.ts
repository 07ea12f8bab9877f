import { existsSync } from 'node:fs';
import { storageClient, viaApp } from '@cps/openapi';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeFixture, taskId, type Fixture } from './fixture.ts';

// The pattern other services use in their tests: the typed client of @cps/openapi, routed
// straight into the storage app with no socket.
let f: Fixture;
beforeEach(async () => {
  f = await makeFixture();
});
afterEach(() => f.cleanup());

describe('storage through the typed client', () => {
  it('creates, gets and discards a task disk set', async () => {
    const storage = storageClient(viaApp(f.app));
    const id = taskId();

    const put = await storage.PUT('/disks/{taskId}', { params: { path: { taskId: id } }, body: { image: 'tiny', diskMiB: 16 } });
    expect(put.response.status).toBe(201);
    const disks = put.data!;
    expect(disks.taskId).toBe(id);
    expect(disks.boot.kind).toBe('kernel');
    expect(existsSync(disks.disks[0]!.path)).toBe(true);

    const get = await storage.GET('/disks/{taskId}', { params: { path: { taskId: id } } });
    expect(get.data).toEqual(disks);

    const del = await storage.DELETE('/disks/{taskId}', { params: { path: { taskId: id } } });
    expect(del.response.status).toBe(204);
    expect(existsSync(disks.disks[0]!.path)).toBe(false);

    const gone = await storage.GET('/disks/{taskId}', { params: { path: { taskId: id } } });
    expect(gone.response.status).toBe(404);
    expect(gone.error).toMatchObject({ type: 'urn:cps:problem:not-found' });
  });

  it('returns problems as typed errors', async () => {
    const storage = storageClient(viaApp(f.app));
    const res = await storage.PUT('/disks/{taskId}', { params: { path: { taskId: taskId() } }, body: { image: 'nope', diskMiB: 16 } });
    expect(res.data).toBeUndefined();
    expect(res.error).toMatchObject({ type: 'urn:cps:problem:image-not-found', status: 404 });
    const images = await storage.GET('/images');
    expect(images.data?.items.map((i) => i.id)).toEqual(['tiny']);
  });
});
