import { getRequestListener } from '@hono/node-server';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { doorLists } from '@cps/common';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeCluster, fakeNode, reach, type FakeNode } from '../../services/coordinator/test/fakes.ts';
import { newSerialText, wholeLines } from '../src/task/logs.ts';
import { memoryIo } from '../src/io.ts';
import { run } from '../src/main.ts';

// `cps task` actions, logs and download against the real coordinator app behind its public door.
let server: Server | undefined;
const dirs: string[] = [];
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const bytes = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7) % 256));

async function coordinator(node: FakeNode = fakeNode('node-a', '127.0.0.1', { exportBytes: bytes })) {
  let cluster: ReturnType<typeof fakeCluster> | undefined;
  const ranges: (string | undefined)[] = [];
  server = createServer((req, res) => {
    if (req.url?.includes('/download/')) ranges.push(req.headers.range);
    void getRequestListener(cluster!.app.fetch)(req, res);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  cluster = fakeCluster([node], { door: doorLists({ port }) });
  const cps = async (...argv: string[]) => {
    const io = memoryIo();
    const code = await run([...argv, '--url', `http://127.0.0.1:${port}`], io);
    return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
  };
  const tmp = () => {
    const d = mkdtempSync(path.join(tmpdir(), 'cps-cli-'));
    dirs.push(d);
    return d;
  };
  return { cps, cluster, node, ranges, tmp };
}

const idOf = (out: string) => /task (t-[0-9a-f]{8})/.exec(out)![1]!;

describe('cps task submit with options', () => {
  it('sends --network, --checkpoint-every, --keep-copy and --user-data; the host receives them', async () => {
    const { cps, cluster, node, tmp } = await coordinator();
    const file = path.join(tmp(), 'user-data');
    writeFileSync(file, '#cloud-config\nruncmd: [echo hello]\n');
    const r = await cps('task', 'submit', '--name', 'o', '--network', 'none', '--checkpoint-every', '2', '--keep-copy', '--user-data', file);
    expect(r).toMatchObject({ code: 0, err: '' });
    const id = idOf(r.out);
    await reach(cluster.tasks, id, 'running');
    expect(node.diskRequests[0]).toEqual({ image: 'tiny', diskMiB: 64, cloudInit: { userData: '#cloud-config\nruncmd: [echo hello]\n' }, keepCopy: true });
    expect(node.specs[0]).toMatchObject({ network: 'none', checkpointEverySec: 120 });
  });

  it.each([
    [['--network', 'bridge'], /--network must be user or none/],
    [['--checkpoint-every', '0'], /--checkpoint-every must be between 1 and 10080/],
    [['--bootstrap', 'nope'], /is not a bootstrap id/],
    [['--user-data', '/no/such/file'], /cannot read --user-data \/no\/such\/file: ENOENT/],
  ])('refuses %s before sending anything', async (flags, message) => {
    const { cps, cluster } = await coordinator();
    const r = await cps('task', 'submit', '--name', 'x', ...flags);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(message);
    expect(cluster.tasks.list()).toEqual([]);
  });

  it('says what the coordinator says of an unknown bootstrap', async () => {
    const { cps } = await coordinator();
    const r = await cps('task', 'submit', '--name', 'x', '--bootstrap', 'b-0123456789abcdef01234567');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/no bootstrap files b-0123456789abcdef01234567 on this coordinator/);
  });
});

describe('cps task suspend, resume, checkpoint, restart, delete', () => {
  it('drives a task through each action and prints its state', async () => {
    const { cps, cluster, node } = await coordinator();
    const id = idOf((await cps('task', 'submit', '--name', 'a')).out);
    await reach(cluster.tasks, id, 'running');
    expect(await cps('task', 'suspend', id)).toMatchObject({ code: 0, out: `task ${id} suspended` });
    expect(node.paused.has(id)).toBe(true);
    expect(await cps('task', 'resume', id)).toMatchObject({ code: 0, out: `task ${id} running` });
    expect((await cps('task', 'checkpoint', id)).out).toBe(`task ${id}: checkpoint written at 2026-12-01T10:05:00.000Z; it is running`);
    expect((await cps('task', 'restart', id)).out).toBe(`task ${id} restarted; it is running`);
    const refused = await cps('task', 'delete', id);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/stop it first/);
    await cps('task', 'stop', id, '--wait', '--interval', '10');
    expect(await cps('task', 'delete', id)).toMatchObject({ code: 0, out: `task ${id} deleted` });
    expect(cluster.tasks.get(id)).toBeUndefined();
  });

  it('tells a wrong state as the coordinator says it', async () => {
    const { cps, cluster } = await coordinator();
    const id = idOf((await cps('task', 'submit', '--name', 'a')).out);
    await reach(cluster.tasks, id, 'running');
    const r = await cps('task', 'resume', id);
    expect(r.code).toBe(0); // running already: resume is a no-op
    await cps('task', 'suspend', id);
    const cp = await cps('task', 'checkpoint', id);
    expect(cp.code).toBe(1);
    expect(cp.err).toMatch(/is suspended; checkpoint needs it running/);
    expect((await cps('task', 'suspend', 'Not-An-Id')).code).toBe(2);
  });
});

describe('cps task logs', () => {
  it('shows serial lines as text: CRLF ends dropped, escapes made harmless', async () => {
    const { serialLine } = await import('../src/commands/task.ts');
    expect(serialLine('cps-tiny:~# \u001b[6nhello\r')).toBe('cps-tiny:~# \uFFFD[6nhello');
  });

  it('prints the serial log', async () => {
    const { cps, cluster } = await coordinator();
    const id = idOf((await cps('task', 'submit', '--name', 'a')).out);
    await reach(cluster.tasks, id, 'running');
    const r = await cps('task', 'logs', id);
    expect(r).toMatchObject({ code: 0, out: 'cps-guest: up\ncps-guest: tick 1\n' });
  });

  it('--follow prints the lines, then stops when the task ends', async () => {
    const { cps, cluster } = await coordinator();
    const id = idOf((await cps('task', 'submit', '--name', 'a')).out);
    await reach(cluster.tasks, id, 'running');
    const following = cps('task', 'logs', id, '--follow', '--interval', '20');
    await new Promise((r) => setTimeout(r, 100));
    cluster.placer.stop(id);
    await reach(cluster.tasks, id, 'stopped');
    const r = await following;
    expect(r.code).toBe(0);
    expect(r.out).toBe('cps-guest: up\ncps-guest: tick 1');
    expect(r.err).toBe(`task ${id} is stopped`);
  });

  it('finds what is new in a sliding window', () => {
    expect(newSerialText('a\nb\n', 'a\nb\nc\n')).toBe('c\n');
    // The window slid by 21 characters: the old tail is still in it.
    expect(newSerialText('A' + 'x'.repeat(300) + 'END', 'x'.repeat(280) + 'END' + 'more')).toBe('more');
    expect(newSerialText('old', 'unrelated')).toBe('unrelated');
    expect(wholeLines('a\nb\npart')).toEqual({ lines: ['a', 'b'], rest: 'part' });
  });
});

describe('cps task download', () => {
  async function stoppedWithCopy() {
    const c = await coordinator();
    const id = idOf((await c.cps('task', 'submit', '--name', 'k', '--keep-copy')).out);
    await reach(c.cluster.tasks, id, 'running');
    await c.cps('task', 'stop', id, '--wait', '--interval', '10');
    return { ...c, id };
  }

  it('downloads the kept copy with progress lines and checks its SHA-256', async () => {
    const { cps, id, tmp } = await stoppedWithCopy();
    const out = tmp();
    const r = await cps('task', 'download', id, '--out', out);
    expect(r.code).toBe(0);
    expect(r.out).toBe(path.join(out, `${id}-root.qcow2`));
    expect(readFileSync(r.out)).toEqual(bytes);
    expect(r.err).toMatch(/root\.qcow2: 25% \(0\.1 MiB of 0\.3 MiB\)/);
    expect(r.err).toMatch(/root\.qcow2: done, 0\.3 MiB, SHA-256 checked/);
  });

  it('resumes a partial file with Range', async () => {
    const { cps, id, tmp, ranges } = await stoppedWithCopy();
    const out = tmp();
    writeFileSync(path.join(out, `${id}-root.qcow2`), bytes.subarray(0, 120_000));
    const r = await cps('task', 'download', id, '--out', out);
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/resuming at 0\.1 MiB of 0\.3 MiB/);
    expect(ranges).toEqual(['bytes=120000-']);
    expect(createHash('sha256').update(readFileSync(r.out)).digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
    // Whole already: nothing is fetched again.
    expect((await cps('task', 'download', id, '--out', out)).err).toMatch(/already here, whole/);
    expect(ranges).toHaveLength(1);
  });

  it('a partial file that is not a start of the copy ends in a clear error', async () => {
    const { cps, id, tmp } = await stoppedWithCopy();
    const out = tmp();
    writeFileSync(path.join(out, `${id}-root.qcow2`), Buffer.alloc(1000, 0xff));
    const r = await cps('task', 'download', id, '--out', out);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/does not match the copy's SHA-256 .*delete it and download again/);
  });

  it('says why there is nothing to download', async () => {
    const { cps, cluster } = await coordinator();
    const id = idOf((await cps('task', 'submit', '--name', 'k')).out);
    await reach(cluster.tasks, id, 'running');
    const r = await cps('task', 'download', id);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/not submitted with keepCopy/);
  });
});
