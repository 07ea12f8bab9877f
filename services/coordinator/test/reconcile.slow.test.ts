import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { memberFetch, serviceUrl, type Fetch } from '@cps/common';
import { coordinatorClient, provisionerClient, storageClient, type CoordinatorSchemas } from '@cps/openapi';
import { clusterTlsOf, loadNodeIdentity, Removals } from '@cps/trust';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeUser, startNode, type RunningNode } from '../../../tests/helpers/cps-node.ts';
import { openRegistry, registryPath } from '../src/registry/db.ts';
import { makeDataDir } from '../../../tests/helpers/hosts-data.ts';
import { until as untilHolds } from '../../../tests/helpers/until.ts';

// kill -9 the coordinator of a real node (cps up, real libvirt and QEMU) with tasks running,
// queued and stopped, and an orphan guest beside them; start it again and look as a user would.
type Task = CoordinatorSchemas['Task'];
const base = 18720;
const dataDir = mkdtempSync(join(tmpdir(), 'cps-reconcile-'));
chmodSync(dataDir, 0o755);
makeDataDir(dataDir);
// Three small guests at once (the task's, the orphan, another coordinator's): more than 2 cores lend by default.
const env = { CPS_DATA_DIR: dataDir, CPS_START_TIMEOUT_MS: '180000', CPS_SHARE_VCPUS: '4' };
const lanAddress = Object.values(networkInterfaces()).flat().find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

let node: RunningNode | undefined;
let admin: Awaited<ReturnType<typeof makeUser>>;
let member: Fetch;
let nodeId: string;
const ids: Record<'running' | 'queued' | 'stopped', string> = { running: '', queued: '', stopped: '' };
const small = { vcpus: 1, memoryMiB: 128, diskMiB: 64, image: 'tiny' };
const guests = { orphan: 't-orphan-mine', theirs: 't-orphan-theirs', rowLost: '' };

const api = () => coordinatorClient({ baseUrl: `http://127.0.0.1:${base}`, headers: { authorization: `Bearer ${admin.token}` } });
const provisioner = () => provisionerClient({ baseUrl: serviceUrl('127.0.0.1', base + 2), fetch: member });
const storage = () => storageClient({ baseUrl: serviceUrl('127.0.0.1', base + 3), fetch: member });

/** Polls, with this node's output in the error when it times out. */
const until = <T,>(what: string, read: () => Promise<T>, ok: (t: T) => boolean, timeoutMs = 120_000) => untilHolds(what, read, ok, timeoutMs, () => node?.output() ?? '');
const task = async (id: string) => (await api().GET('/api/tasks/{taskId}', { params: { path: { taskId: id } } })).data as Task;
const submit = async (body: CoordinatorSchemas['TaskRequest']) => {
  const r = await api().POST('/api/tasks', { body });
  if (!r.data) throw new Error(`submit answered ${r.response.status}: ${JSON.stringify(r.error)}`);
  return r.data.id;
};

/** A guest made straight through this node's storage and provisioner, as a coordinator would, but with no task. */
async function guestWithoutTask(taskId: string, placedBy: string) {
  const disks = (await storage().PUT('/disks/{taskId}', { params: { path: { taskId } }, body: { image: 'tiny', diskMiB: 64 } })).data!;
  const vm = await provisioner().PUT('/vms/{taskId}', { params: { path: { taskId } }, body: { name: `no task ${taskId}`, vcpus: 1, memoryMiB: 128, disks: disks.disks, boot: disks.boot, placedBy } });
  expect(vm.response.status, JSON.stringify(vm.error)).toBe(201);
}

beforeAll(async () => {
  node = await startNode(base, env, 180_000);
  admin = await makeUser(dataDir, 'admin');
  const identity = loadNodeIdentity(dataDir);
  nodeId = identity.nodeId;
  member = memberFetch(clusterTlsOf(identity, () => new Removals()));
}, 240_000);

afterAll(async () => {
  await node?.stop();
  // Whatever a failed run left: the guests of this data dir only.
  const { execFileSync } = await import('node:child_process');
  for (const id of [...Object.values(ids), ...Object.values(guests)]) {
    try {
      if (id) execFileSync('virsh', ['-c', 'qemu:///system', 'destroy', `cps-${id}`], { stdio: 'ignore' });
    } catch {
      /* not there: the test cleaned up after itself */
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
}, 60_000);

describe('a coordinator killed with kill -9 and started again', () => {
  it('lists every task once, the running one controllable, and the orphan guest as one', async () => {
    ids.running = await submit({ name: 'runs on', ...small });
    ids.queued = await submit({ name: 'waits', ...small, notBefore: new Date(Date.now() + 24 * 3600_000).toISOString() });
    ids.stopped = await submit({ name: 'ended', ...small, notBefore: new Date(Date.now() + 24 * 3600_000).toISOString() });
    await until('the queued ones wait', () => task(ids.stopped), (t) => t.state === 'queued');
    expect((await api().DELETE('/api/tasks/{taskId}', { params: { path: { taskId: ids.stopped } } })).response.status).toBe(202);
    await until('the cancelled one is stopped', () => task(ids.stopped), (t) => t.state === 'stopped');
    // A task whose registry row will be lost while the coordinator is down: its guest, placed by
    // this coordinator, becomes an orphan.
    guests.rowLost = await submit({ name: 'row lost', ...small });
    for (const id of [ids.running, guests.rowLost]) {
      await until('the guest runs', () => task(id), (t) => t.state === 'running' || t.state === 'failed', 200_000);
      expect((await task(id)).state).toBe('running');
    }
    expect((await provisioner().GET('/vms/{taskId}', { params: { path: { taskId: ids.running } } })).data?.placedBy).toBe(nodeId);
    await guestWithoutTask(guests.orphan, nodeId);
    await guestWithoutTask(guests.theirs, 'another-coordinator');

    const pid = Number(/coordinator started \(pid (\d+),/.exec(node!.output())?.[1]);
    expect(pid).toBeGreaterThan(0);
    process.kill(pid, 'SIGKILL');
    if (node!.proc.exitCode === null) await once(node!.proc, 'exit');
    expect(node!.output()).toMatch(/coordinator DIED \(killed by SIGKILL\)/);
    // cps up stopped the node's other services; the guests did not go with them (libvirt runs them).
    const { execFileSync } = await import('node:child_process');
    for (const id of [ids.running, guests.orphan]) expect(execFileSync('virsh', ['-c', 'qemu:///system', 'domstate', `cps-${id}`]).toString().trim()).toBe('running');

    const registry = openRegistry(registryPath(dataDir), { now: () => new Date() });
    expect(registry.tasks.delete(guests.rowLost)).toBe(true);
    registry.close();

    node = await startNode(base, env, 180_000);
    const adopted = await until('the running task is adopted', () => task(ids.running), (t) => t.history.some((h) => h.message?.startsWith('adopted after restart')));
    expect(adopted.state).toBe('running');
    expect(adopted.history.at(-1)?.message).toBe(`adopted after restart: the guest is running on ${nodeId}`);

    const list = (await api().GET('/api/tasks')).data!.items;
    expect(list.map((t) => t.id).sort()).toEqual(Object.values(ids).sort()); // all listed, once (the lost row is gone)
    expect(Object.fromEntries(list.map((t) => [t.name, t.state]))).toEqual({ 'runs on': 'running', waits: 'queued', ended: 'stopped' });

    const orphans = await until('the orphan is listed', async () => (await api().GET('/api/orphans')).data!.items, (items) => items.length > 0);
    expect(orphans.map((o) => [o.taskId, o.node.nodeId, o.name, o.state]).sort()).toEqual(
      [[guests.orphan, nodeId, `no task ${guests.orphan}`, 'running'], [guests.rowLost, nodeId, 'row lost', 'running']].sort(),
    );

    // The one whose row was lost is adopted for a user, who sees it and can stop it.
    const user = await makeUser(dataDir);
    const taken = await api().POST('/api/orphans/{taskId}/adopt', { params: { path: { taskId: guests.rowLost } }, body: { owner: user.name } });
    expect(taken.response.status, JSON.stringify(taken.error)).toBe(201);
    expect(taken.data).toMatchObject({ id: guests.rowLost, name: 'row lost', state: 'running', owner: { name: user.name }, request: { vcpus: 1, memoryMiB: 128, image: 'tiny' } });
    const asUser = coordinatorClient({ baseUrl: `http://127.0.0.1:${base}`, headers: { authorization: `Bearer ${user.token}` } });
    expect((await asUser.GET('/api/tasks')).data!.items.map((t) => t.id)).toEqual([guests.rowLost]);
    expect((await asUser.DELETE('/api/tasks/{taskId}', { params: { path: { taskId: guests.rowLost } } })).response.status).toBe(202);
    await until('the adopted orphan stops', () => task(guests.rowLost), (t) => t.state === 'stopped' || t.state === 'failed', 60_000);
    expect((await task(guests.rowLost)).state).toBe('stopped');
    expect((await provisioner().GET('/vms/{taskId}', { params: { path: { taskId: guests.rowLost } } })).response.status).toBe(404);

    // The running task is controllable: a stop takes its guest away.
    expect((await api().DELETE('/api/tasks/{taskId}', { params: { path: { taskId: ids.running } } })).response.status).toBe(202);
    await until('the adopted task stops', () => task(ids.running), (t) => t.state === 'stopped' || t.state === 'failed', 60_000);
    expect((await task(ids.running)).state).toBe('stopped');
    expect((await provisioner().GET('/vms/{taskId}', { params: { path: { taskId: ids.running } } })).response.status).toBe(404);

    // The orphan can be stopped: its guest and disks go.
    expect((await api().DELETE('/api/orphans/{taskId}', { params: { path: { taskId: guests.orphan } } })).response.status).toBe(204);
    expect((await provisioner().GET('/vms/{taskId}', { params: { path: { taskId: guests.orphan } } })).response.status).toBe(404);
    expect((await storage().GET('/disks/{taskId}', { params: { path: { taskId: guests.orphan } } })).response.status).toBe(404);
    expect((await api().GET('/api/orphans')).data!.items).toEqual([]);
    // Another coordinator's guest was never ours: still there.
    expect((await provisioner().GET('/vms/{taskId}', { params: { path: { taskId: guests.theirs } } })).response.status).toBe(200);
    await provisioner().DELETE('/vms/{taskId}', { params: { path: { taskId: guests.theirs } } });
    await storage().DELETE('/disks/{taskId}', { params: { path: { taskId: guests.theirs } } });
  }, 600_000);
});

describe("the node's public port", () => {
  it('signs in over https with a Secure cookie, over loopback HTTP without', async () => {
    const body = JSON.stringify({ name: admin.name, password: admin.password });
    const headers = { 'content-type': 'application/json' };
    const overHttps = await memberFetch(clusterTlsOf(loadNodeIdentity(dataDir), () => new Removals()), { anonymous: true })(
      new Request(`https://127.0.0.1:${base}/api/session`, { method: 'POST', headers, body }),
    );
    expect(overHttps.status).toBe(200);
    const secure = overHttps.headers.getSetCookie().find((c) => c.startsWith('cps_session='))!;
    expect(secure).toMatch(/; Secure/);
    expect(secure).toMatch(/; HttpOnly/);
    const plain = await fetch(`http://127.0.0.1:${base}/api/session`, { method: 'POST', headers, body });
    expect(plain.status).toBe(200);
    expect(plain.headers.getSetCookie().find((c) => c.startsWith('cps_session='))).not.toMatch(/Secure/);
  });

  it.runIf(lanAddress)('answers plain HTTP from the LAN address only with the way to https', async () => {
    const ask = (method: string) =>
      new Promise<{ status: number; location?: string }>((resolve, reject) => {
        const req = httpRequest({ host: lanAddress, port: base, method, path: '/docs', headers: { connection: 'close', 'content-type': 'application/json' } }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
        });
        req.on('error', reject);
        req.end(method === 'POST' ? '{}' : undefined);
      });
    expect(await ask('GET')).toEqual({ status: 308, location: `https://${lanAddress}:${base}/docs` });
    expect((await ask('POST')).status).toBe(426);
  });

  it('serves the API reference', async () => {
    const res = await fetch(`http://127.0.0.1:${base}/docs`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('/docs/swagger-ui-bundle.js');
  });
});
