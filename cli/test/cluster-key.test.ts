import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { clusterKey } from '../src/up/cluster-key.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cps-key-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('clusterKey', () => {
  it('leaves CPS_CLUSTER_KEY and CPS_PEP_INSECURE=1 alone', async () => {
    expect(await clusterKey({ CPS_CLUSTER_KEY: 'k'.repeat(16) }, dir)).toEqual({ source: 'env' });
    expect(await clusterKey({ CPS_PEP_INSECURE: '1' }, dir)).toEqual({ source: 'insecure' });
  });

  it('makes a key once, readable by its owner only, and reads the same one back', async () => {
    const first = await clusterKey({}, join(dir, 'new'));
    expect(first).toMatchObject({ source: 'file', created: true, path: join(dir, 'new', 'cluster.key') });
    expect(((await stat(join(dir, 'new', 'cluster.key'))).mode & 0o777).toString(8)).toBe('600');
    const again = await clusterKey({}, join(dir, 'new'));
    expect(again).toMatchObject({ source: 'file', created: false });
    expect(again.source === 'file' && first.source === 'file' && again.key === first.key).toBe(true);
  });

  it('replaces a key too short to be one', async () => {
    await writeFile(join(dir, 'cluster.key'), 'short\n');
    const r = await clusterKey({}, dir);
    expect(r).toMatchObject({ source: 'file', created: true });
    expect((await readFile(join(dir, 'cluster.key'), 'utf8')).trim()).toHaveLength(64);
  });

  it('falls back to a one-off key, saying why, when the data dir cannot hold one', async () => {
    await writeFile(join(dir, 'file'), 'x');
    const r = await clusterKey({}, join(dir, 'file'));
    expect(r).toMatchObject({ source: 'ephemeral', why: expect.stringContaining('cannot') });
  });
});
