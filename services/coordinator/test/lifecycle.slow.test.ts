import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coordinatorClient, type CoordinatorSchemas } from '@cps/openapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeUser, startNode, type RunningNode } from '../../../tests/helpers/cps-node.ts';
import { makeDataDir } from '../../../tests/helpers/hosts-data.ts';

// One real node (cps up: real libvirt, QEMU under TCG, storage's qemu-img and xorriso), one tiny
// guest, driven through the coordinator's API as a user would: submitted with bootstrap files,
// cloud-init user-data and keepCopy; suspended, resumed, checkpointed, restarted, stopped; its kept
// copy downloaded in two ranges and checked by qemu-img.
type Task = CoordinatorSchemas['Task'];
const base = 18760;
const dataDir = mkdtempSync(join(tmpdir(), 'cps-lifecycle-'));
chmodSync(dataDir, 0o755);
makeDataDir(dataDir);
const work = mkdtempSync(join(tmpdir(), 'cps-lifecycle-work-'));
// The owner-first policy would pause the guest when the machine is busy (other suites): off here,
// so the states seen are the ones this test asked for.
const env = { CPS_DATA_DIR: dataDir, CPS_START_TIMEOUT_MS: '180000', CPS_OWNER_FIRST: 'false' };
const url = `http://127.0.0.1:${base}`;
const marker = `lifecycle-run-sh-${Math.random().toString(16).slice(2, 10)}`;
const userData = `#cloud-config\n# ${marker}\nruncmd: [echo hello]\n`;

let node: RunningNode | undefined;
let user: Awaited<ReturnType<typeof makeUser>>;
let taskId = '';
/** Every task this file made, so a failed run leaves no guest behind. */
const made: string[] = [];

const auth = () => ({ authorization: `Bearer ${user.token}` });
const api = () => coordinatorClient({ baseUrl: url, headers: { ...auth(), 'x-cps-request': '1' } });
const virsh = (...args: string[]) => execFileSync('virsh', ['-c', 'qemu:///system', ...args], { encoding: 'utf8' }).trim();

async function until<T>(what: string, get: () => Promise<T>, ok: (t: T) => boolean, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  while (Date.now() < deadline) {
    last = await get().catch(() => undefined as T);
    if (last !== undefined && ok(last)) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(last)?.slice(0, 500)})\n${node?.output().slice(-4000)}`);
}
const task = async () => (await api().GET('/api/tasks/{taskId}', { params: { path: { taskId } } })).data as Task;
const serial = async () => (await api().GET('/api/tasks/{taskId}/serial', { params: { path: { taskId } }, parseAs: 'text' })).data ?? '';
async function act(action: 'suspend' | 'resume' | 'checkpoint' | 'restart'): Promise<Task> {
  const r = await api().POST(`/api/tasks/{taskId}/${action}`, { params: { path: { taskId } } });
  expect(r.response.status, `${action}: ${JSON.stringify(r.error)}`).toBe(202);
  return r.data!;
}

beforeAll(async () => {
  node = await startNode(base, env, 180_000);
  user = await makeUser(dataDir);
}, 240_000);

afterAll(async () => {
  await node?.stop();
  for (const id of made) {
    try {
      execFileSync('virsh', ['-c', 'qemu:///system', 'destroy', `cps-${id}`], { stdio: 'ignore' });
    } catch {
      /* gone: the test stopped it */
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}, 60_000);

describe('a task through its whole life on a real node', () => {
  // First, on a fresh node: after the long test below, the provisioner's watchdog did not report a
  // killed guest within 60 s (2 runs of 2; alone ~1 s): reported to the lead, not this file's subject.
  it("says so when the guest's QEMU is killed on the host, unasked (the host's events)", async () => {
    const created = await api().POST('/api/tasks', { body: { name: 'killed', vcpus: 1, memoryMiB: 128, diskMiB: 64, image: 'tiny' } });
    taskId = created.data!.id;
    made.push(taskId);
    await until('the guest runs', task, (t) => t.state === 'running' || t.state === 'failed', 200_000);
    virsh('destroy', `cps-${taskId}`);
    const failed = await until('the task fails', task, (t) => t.state !== 'running', 60_000);
    expect(failed.state).toBe('failed');
    expect(failed.error?.type).toBe('urn:cps:problem:guest-ended');
    expect(failed.error?.detail).toMatch(/the guest is gone and no one asked/);
    // A stop cleans up what is left (the disks) and ends it.
    await api().DELETE('/api/tasks/{taskId}', { params: { path: { taskId } } });
    expect((await until('stopped', task, (t) => t.state === 'stopped' || t.state === 'failed', 60_000)).state).toBe('stopped');
  }, 300_000);

  it('runs with its bootstrap files and user-data, suspends, resumes, checkpoints, restarts, stops, and its kept copy downloads whole', async () => {
    // The bootstrap files, uploaded as a tar: the guest runs run.sh from its bootstrap disk.
    writeFileSync(join(work, 'run.sh'), `echo ${marker}\n`);
    const tar = execFileSync('tar', ['-C', work, '-cf', '-', 'run.sh']);
    const up = await fetch(`${url}/api/bootstraps`, { method: 'POST', headers: { ...auth(), 'content-type': 'application/x-tar', 'x-cps-request': '1' }, body: tar });
    expect(up.status, await up.clone().text()).toBeLessThan(300);
    const bootstrap = ((await up.json()) as { id: string }).id;

    const created = await api().POST('/api/tasks', {
      body: { name: 'lifecycle', vcpus: 1, memoryMiB: 128, diskMiB: 64, image: 'tiny', bootstrap, userData, keepCopy: true, network: 'none' },
    });
    expect(created.response.status, JSON.stringify(created.error)).toBe(202);
    taskId = created.data!.id;
    made.push(taskId);
    const running = await until('the guest runs', task, (t) => t.state === 'running' || t.state === 'failed', 200_000);
    expect(running.state, JSON.stringify(running.error)).toBe('running');
    await until("run.sh's output on the serial console", serial, (s) => s.includes(marker), 120_000);

    // The user-data reached the host as a NoCloud seed (volume cidata) attached to the guest.
    const xml = virsh('dumpxml', `cps-${taskId}`);
    const seed = /<source file='([^']*seed\.iso)'/.exec(xml)?.[1];
    expect(seed, xml).toBeDefined();
    expect(execFileSync('xorriso', ['-indev', seed!, '-pvd_info'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toMatch(/Volume Id\s*:\s*cidata/);
    execFileSync('xorriso', ['-osirrox', 'on', '-indev', seed!, '-extract', '/user-data', join(work, 'user-data')], { stdio: 'ignore' });
    expect(execFileSync('cat', [join(work, 'user-data')], { encoding: 'utf8' })).toBe(userData);
    // network none: no NIC.
    expect(xml).not.toMatch(/<interface /);

    expect((await act('suspend')).state).toBe('suspended');
    expect(virsh('domstate', `cps-${taskId}`)).toBe('paused');
    expect((await act('resume')).state).toBe('running');
    expect(virsh('domstate', `cps-${taskId}`)).toBe('running');

    const cp = await act('checkpoint');
    expect(cp.state).toBe('running');
    expect(Date.parse(cp.lastCheckpointAt!)).toBeGreaterThan(Date.parse(running.updatedAt) - 1);
    expect(virsh('domstate', `cps-${taskId}`)).toBe('running');

    // A hard reset: the guest boots again from the same disks, so run.sh runs again.
    // The guest counts seconds since its boot on the serial console ("cps-guest: tick N"), and the
    // provisioner starts the log anew at a boot: after a reset the count starts again, and run.sh
    // runs again.
    const lastTick = (s: string) => Math.max(0, ...[...s.matchAll(/cps-guest: tick (\d+)/g)].map((m) => Number(m[1])));
    const before = await until('the guest has run a while', serial, (s) => lastTick(s) >= 12, 120_000);
    expect((await act('restart')).state).toBe('running');
    expect(virsh('domstate', `cps-${taskId}`)).toBe('running');
    const after = await until('run.sh runs again after the reset', serial, (s) => s.includes(marker) && s.includes('bootstrap done'), 120_000);
    expect(lastTick(after)).toBeLessThan(lastTick(before));

    const stop = await api().DELETE('/api/tasks/{taskId}', { params: { path: { taskId } } });
    expect(stop.response.status).toBe(202);
    const stopped = await until('the task stops with its copy kept', task, (t) => t.state === 'stopped' || t.state === 'failed', 180_000);
    expect(stopped.state, JSON.stringify(stopped.history)).toBe('stopped');
    expect(stopped.download?.files.length).toBeGreaterThan(0);

    const list = await api().GET('/api/tasks/{taskId}/download', { params: { path: { taskId } } });
    expect(list.response.status).toBe(200);
    const file = list.data!.files.find((f) => f.name === 'data.qcow2') ?? list.data!.files[0]!;
    // In two ranges, as a resumed download fetches it.
    const half = Math.floor(file.sizeBytes / 2);
    const first = await fetch(`${url}${file.url}`, { headers: { ...auth(), range: `bytes=0-${half - 1}` } });
    expect(first.status).toBe(206);
    expect(first.headers.get('content-range')).toBe(`bytes 0-${half - 1}/${file.sizeBytes}`);
    const rest = await fetch(`${url}${file.url}`, { headers: { ...auth(), range: `bytes=${half}-` } });
    expect(rest.status).toBe(206);
    const bytes = Buffer.concat([Buffer.from(await first.arrayBuffer()), Buffer.from(await rest.arrayBuffer())]);
    expect(bytes.length).toBe(file.sizeBytes);
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(file.sha256);
    const past = await fetch(`${url}${file.url}`, { headers: { ...auth(), range: `bytes=${file.sizeBytes + 10}-` } });
    expect(past.status).toBe(416);
    const out = join(work, file.name);
    writeFileSync(out, bytes);
    // qemu-img check exits non-zero on any corruption or leak.
    expect(execFileSync('qemu-img', ['check', '-f', 'qcow2', out], { encoding: 'utf8' })).toMatch(/No errors were found/);

    // The record of the ended task goes when asked, and only then.
    expect((await api().DELETE('/api/tasks/{taskId}', { params: { path: { taskId }, query: { purge: 'true' } } })).response.status).toBe(204);
    expect((await api().GET('/api/tasks/{taskId}', { params: { path: { taskId } } })).response.status).toBe(404);
  }, 600_000);
});
