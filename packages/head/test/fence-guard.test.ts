import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProblemError, problemTypeUri } from '@cps/common';
import { describe, expect, it } from 'vitest';
import { FenceGuard } from '../src/index.ts';

const fresh = () => {
  const dir = mkdtempSync(join(tmpdir(), 'cps-fence-'));
  return { dir, path: join(dir, 'epoch.json') };
};

describe('FenceGuard: a host keeps the highest epoch and refuses older ones', () => {
  it('starts at 0, lets the current epoch and newer ones through, refuses older ones naming both', async () => {
    const { path } = fresh();
    const g = await FenceGuard.open(path);
    expect(g.highest).toBe(0);
    await g.admit(3, 'a');
    await g.admit(3, 'a'); // the current head's next command
    await g.admit(5, 'b');
    const e = await g.admit(4, 'a').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProblemError);
    const p = e as ProblemError;
    expect(p.problemType).toBe('stale-epoch');
    expect(p.status).toBe(409);
    expect(p.extensions).toEqual({ epoch: 4, highestEpoch: 5 });
    expect(p.message).toBe('epoch 4 (from a) is older than epoch 5, the highest this host has seen');
    expect(problemTypeUri(p.problemType)).toBe('urn:cps:problem:stale-epoch');
    expect(g.highest).toBe(5);
  });

  it('remembers across a restart: the file is written before a newer epoch is let through', async () => {
    const { path, dir } = fresh();
    const g = await FenceGuard.open(path);
    await g.admit(7, 'b');
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({ highestEpoch: 7, holder: 'b' });
    expect(readdirSync(dir)).toEqual(['epoch.json']); // no temporary file left behind
    const again = await FenceGuard.open(path);
    expect(again.highest).toBe(7);
    await expect(again.admit(6, 'a')).rejects.toMatchObject({ extensions: { epoch: 6, highestEpoch: 7 } });
  });

  it('if the epoch cannot be written, the newer command is not let through either', async () => {
    const { path, dir } = fresh();
    const g = await FenceGuard.open(path);
    await g.admit(1);
    rmSync(dir, { recursive: true }); // the disk went away under the host
    await expect(g.admit(2)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(g.highest).toBe(1);
    await g.admit(1); // the current epoch still passes: nothing needs writing
  });

  it('calls run in order, so a racing older command cannot slip past a newer one being written', async () => {
    const { path } = fresh();
    const g = await FenceGuard.open(path);
    const results = await Promise.allSettled([g.admit(2), g.admit(9), g.admit(3), g.admit(9)]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(g.highest).toBe(9);
  });

  it.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60, '3' as unknown as number, null as unknown as number])('hostile epoch %j is a bad request', async (epoch) => {
    const { path } = fresh();
    const g = await FenceGuard.open(path);
    await expect(g.admit(epoch)).rejects.toMatchObject({ problemType: 'bad-request' });
    expect(g.highest).toBe(0);
  });

  it.each(['', 'not json', '{"highestEpoch":-3}', '{"highestEpoch":"7"}', '{}'])('refuses to start from an unreadable file %j rather than forget the epoch', async (text) => {
    const { path } = fresh();
    writeFileSync(path, text);
    await expect(FenceGuard.open(path)).rejects.toThrow();
  });
});
