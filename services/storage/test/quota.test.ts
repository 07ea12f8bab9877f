import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { storageClient, viaApp } from '@cps/openapi';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diskQuotaMiB } from '../src/share-quota.ts';
import { makeFixture, taskId, type Fixture } from './fixture.ts';
import { tar, tarEntry } from './tar-builder.ts';

const problem = (t: string) => `urn:cps:problem:${t}`;

describe("the donor's disk quota", () => {
  let f: Fixture;
  beforeEach(async () => {
    f = await makeFixture({ quotaMiB: 100 });
  });
  afterEach(() => f.cleanup());

  const put = (t: string, body: unknown) => f.app.request(`/disks/${t}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const capacity = async () => (await f.app.request('/capacity')).json();

  it('refuses a disk that would exceed the share, counts every disk at its full size, and frees it on discard', async () => {
    expect(await capacity()).toMatchObject({ quotaMiB: 100, committedMiB: 0, availableMiB: 100 });
    const first = taskId();
    expect((await put(first, { image: 'tiny', diskMiB: 64 })).status).toBe(201);
    expect(await capacity()).toMatchObject({ quotaMiB: 100, committedMiB: 64, availableMiB: 36 });

    const over = await put(taskId(), { image: 'tiny', diskMiB: 37 });
    const body = await over.json();
    expect({ status: over.status, type: body.type }).toEqual({ status: 409, type: problem('quota-exceeded') });
    expect(body).toMatchObject({ wantMiB: 37, quotaMiB: 100, committedMiB: 64 });
    expect((await readdir(f.layout.disksDir)).sort()).toEqual([first]);

    // A bootstrap disk counts too (16 MiB or more for the smallest).
    const boot = await (await f.app.request('/bootstraps', { method: 'POST', headers: { 'content-type': 'application/x-tar' }, body: tar(tarEntry('run.sh', 'true\n')) })).json();
    expect((await put(taskId(), { image: 'tiny', diskMiB: 30, bootstrap: boot.id })).status).toBe(409);
    expect((await put(taskId(), { image: 'tiny', diskMiB: 36 })).status).toBe(201);
    expect(await capacity()).toMatchObject({ committedMiB: 100, availableMiB: 0 });

    await f.app.request(`/disks/${first}`, { method: 'DELETE' });
    expect(await capacity()).toMatchObject({ committedMiB: 36, availableMiB: 64 });
  });

  it('refuses a transfer that would exceed the share before fetching anything', async () => {
    const src = await makeFixture();
    try {
      const t = taskId();
      await src.store.create(t, { image: 'tiny', diskMiB: 200 });
      const d2 = await makeFixture({ quotaMiB: 100, peer: () => storageClient(viaApp(src.app)) });
      try {
        const res = await d2.app.request(`/disks/${t}/pull`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sourceNode: { address: '127.0.0.1', port: 1 } }) });
        expect({ status: res.status, type: (await res.json()).type }).toEqual({ status: 409, type: problem('quota-exceeded') });
        expect(await readdir(d2.layout.disksDir)).toEqual([]);
        expect(await readdir(d2.layout.tmpDir)).toEqual([]);
      } finally {
        await d2.cleanup();
      }
    } finally {
      await src.cleanup();
    }
  });
});

describe('where the quota comes from', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'cps-quota-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('CPS_SHARE_DISK_MIB wins over the policy file', async () => {
    await writeFile(path.join(dir, 'share-policy.json'), '{"diskMiB": 500}');
    expect(diskQuotaMiB({ CPS_SHARE_DISK_MIB: 42 }, dir)).toBe(42);
    expect(diskQuotaMiB({ CPS_SHARE_DISK_MIB: 0 }, dir)).toBe(0);
  });

  it('reads diskMiB from share-policy.json, or a YAML file CPS_SHARE_POLICY_FILE names', async () => {
    await writeFile(path.join(dir, 'share-policy.json'), '{"vcpus": 2, "diskMiB": 500}');
    expect(diskQuotaMiB({}, dir)).toBe(500);
    const yaml = path.join(dir, 'policy.yaml');
    await writeFile(yaml, 'vcpus: 2\ndiskMiB: 2048\n');
    expect(diskQuotaMiB({ CPS_SHARE_POLICY_FILE: yaml }, dir)).toBe(2048);
  });

  it.each([
    ['no file', null],
    ['not JSON or YAML', '{{{'],
    ['no diskMiB', '{"vcpus": 1}'],
    ['a negative diskMiB', '{"diskMiB": -5}'],
    ['a string diskMiB', '{"diskMiB": "lots"}'],
    ['a list', '[1,2]'],
  ])('no quota with %s', async (_what, text) => {
    if (text !== null) await writeFile(path.join(dir, 'share-policy.json'), text);
    expect(diskQuotaMiB({}, dir)).toBeUndefined();
  });
});
