import { createHash, randomBytes } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { storageClient, viaApp } from '@cps/openapi';
import type { PlacementOptions } from '../src/placement.ts';
import { imageDigests } from '../src/uploads/image-digests.ts';
import { makeFixture, type Fixture } from '../../storage/test/fixture.ts';
import { fakeCluster, fakeNode, reach } from './fakes.ts';

let f: Fixture;
beforeEach(async () => {
  f = await makeFixture();
});
afterEach(() => f.cleanup());

describe('PUBLISH names the image by its digest (from this node’s real storage)', () => {
  it('an uploaded image: its SHA-256 goes out with the requirements; a built-in image: none', async () => {
    const storage = storageClient(viaApp(f.app));
    const bytes = randomBytes(128 * 1024);
    const up = await storage.POST('/images', {
      params: { query: { name: 'mine' } },
      body: bytes as unknown as string,
      bodySerializer: (b: unknown) => b as BodyInit,
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(up.response.status).toBe(201);
    const sha = createHash('sha256').update(bytes).digest('hex');
    const { tasks, discovery, placer } = fakeCluster([fakeNode('node-a', '127.0.0.1')], { imageDigest: imageDigests(storage) } as Partial<PlacementOptions>);
    const mine = tasks.create('uploaded', { vcpus: 1, memoryMiB: 256, diskMiB: 64, image: up.data!.id });
    void placer.place(mine.id);
    await reach(tasks, mine.id, 'running');
    const builtin = tasks.create('tiny', { vcpus: 1, memoryMiB: 256, diskMiB: 64, image: 'tiny' });
    void placer.place(builtin.id);
    await reach(tasks, builtin.id, 'running');
    const unknown = tasks.create('gone', { vcpus: 1, memoryMiB: 256, diskMiB: 64, image: 'img-000000000000000000000000' });
    void placer.place(unknown.id);
    await reach(tasks, unknown.id, 'running');
    const byTask = new Map(discovery.publishes.map((p) => [p.taskId, p.requirements]));
    expect(byTask.get(mine.id)).toMatchObject({ image: up.data!.id, imageSha256: sha });
    expect(byTask.get(builtin.id)).not.toHaveProperty('imageSha256');
    expect(byTask.get(unknown.id)).not.toHaveProperty('imageSha256');
    placer.close();
  });
});
