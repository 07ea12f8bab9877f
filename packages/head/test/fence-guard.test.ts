import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProblemError, problemTypeUri } from '@cps/common';
import { describe, expect, it } from 'vitest';
import { FenceGuard } from '../src/index.ts';

const fresh = () => {
  const dir = mkdtempSync(join(tmpdir(), 'cps-fence-'));
  return { dir, path: join(dir, 'fence') };
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
    expect(JSON.parse(readFileSync(join(path, 'epoch-7.json'), 'utf8'))).toEqual({ highestEpoch: 7, holder: 'b' });
    expect(readdirSync(path)).toEqual(['epoch-7.json']); // no temporary file left behind
    const again = await FenceGuard.open(path);
    expect(again.highest).toBe(7);
    expect(await again.current()).toEqual({ highestEpoch: 7, head: 'b' });
    await expect(again.admit(6, 'a')).rejects.toMatchObject({ extensions: { epoch: 6, highestEpoch: 7 } });
  });

  it('if the epoch cannot be written, the newer command is not let through either', async () => {
    const { path, dir } = fresh();
    const g = await FenceGuard.open(path);
    await g.admit(1);
    rmSync(dir, { recursive: true }); // the disk went away under the host
    await expect(g.admit(2)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(g.highest).toBe(1);
    // Nor the current one: without the folder the other process's raises cannot be seen.
    await expect(g.admit(1)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('does not start over in a data dir that is gone', async () => {
    const { dir } = fresh();
    await expect(FenceGuard.open(join(dir, 'missing', 'fence'))).rejects.toMatchObject({ code: 'ENOENT' });
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

  it.each(['', 'not json', '{"highestEpoch":-3}', '{"highestEpoch":"7"}', '{"highestEpoch":6}', '{}'])('refuses to start from an unreadable mark %j rather than forget the epoch', async (text) => {
    const { path } = fresh();
    mkdirSync(path);
    writeFileSync(join(path, 'epoch-7.json'), text);
    await expect(FenceGuard.open(path)).rejects.toThrow();
  });

  it.each(['epoch.json', 'epoch-07.json', 'epoch-0.json', 'epoch-99999999999999999.json', 'epoch-7.json.bak'])('refuses a folder holding %j, which is no mark of its own', async (name) => {
    const { path } = fresh();
    mkdirSync(path);
    writeFileSync(join(path, name), '{"highestEpoch":7}');
    await expect(FenceGuard.open(path)).rejects.toThrow(/not an epoch mark/);
  });

  it('refuses a file where the folder should be', async () => {
    const { path } = fresh();
    writeFileSync(path, '{"highestEpoch":7}');
    await expect(FenceGuard.open(path)).rejects.toThrow();
  });
});

describe('FenceGuard: the provisioner and storage of one node share one fence', () => {
  it('an epoch one process let through fences the other at its next command', async () => {
    const { path } = fresh();
    const provisioner = await FenceGuard.open(path);
    const storage = await FenceGuard.open(path);
    await provisioner.admit(5, 'b');
    expect(storage.highest).toBe(0); // not read yet
    await expect(storage.admit(4, 'a')).rejects.toMatchObject({ problemType: 'stale-epoch', extensions: { epoch: 4, highestEpoch: 5 } });
    expect(storage.highest).toBe(5);
    expect(await storage.current()).toEqual({ highestEpoch: 5, head: 'b' });
    await storage.admit(7, 'c');
    await expect(provisioner.admit(5, 'b')).rejects.toMatchObject({ extensions: { epoch: 5, highestEpoch: 7 } });
  });

  it('two raises at once: the larger stays, and afterwards both refuse the smaller', async () => {
    const { path } = fresh();
    const a = await FenceGuard.open(path);
    const b = await FenceGuard.open(path);
    for (let round = 0; round < 20; round++) {
      const low = 2 * round + 1;
      const high = low + 1;
      // Either order may win the race to the folder; whatever happens, the larger epoch is the fence.
      const [first, second] = round % 2 ? [a, b] : [b, a];
      const [, raised] = await Promise.allSettled([first.admit(low, 'old'), second.admit(high, 'new')]);
      expect(raised.status).toBe('fulfilled');
      await expect(a.admit(low, 'old')).rejects.toMatchObject({ problemType: 'stale-epoch' });
      await expect(b.admit(low, 'old')).rejects.toMatchObject({ problemType: 'stale-epoch' });
      expect(await a.current()).toEqual({ highestEpoch: high, head: 'new' });
    }
    const again = await FenceGuard.open(path);
    expect(again.highest).toBe(40);
    expect(readdirSync(path).filter((n) => n.startsWith('.tmp-'))).toEqual([]);
  });

  it('two real processes raising at once: every epoch let through has its mark on disk, and the largest stays', async () => {
    const { path } = fresh();
    mkdirSync(path);
    const run = (first: number) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', new URL('./fence-raiser.ts', import.meta.url).pathname, path, String(first), '80', '2']);
    const [odd, even] = await Promise.all([run(1), run(2)]);
    const admitted = (out: string) => out.split('\n').filter((l) => l.startsWith('admitted ')).map((l) => Number(l.slice(9)));
    const both = [...admitted(odd.stdout), ...admitted(even.stdout)];
    expect(both).toContain(80); // the largest is never refused
    const marks = new Set(readdirSync(path));
    for (const e of both) expect(marks.has(`epoch-${e}.json`), `epoch ${e}`).toBe(true);
    const after = await FenceGuard.open(path);
    expect(after.highest).toBe(80);
    await expect(after.admit(79)).rejects.toMatchObject({ problemType: 'stale-epoch' });
  });
});
