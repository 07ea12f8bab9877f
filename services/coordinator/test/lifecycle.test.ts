import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, serveApp, type Served } from '@cps/common';
import type { BootstrapArchives } from '../src/uploads/bootstraps.ts';
import { fakeNode, reach, signedInCluster, type FakeNode, type Who } from './fakes.ts';
import { readSse } from './sse.ts';

const problemType = (t: string) => `urn:cps:problem:${t}`;
async function until(ok: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error('not in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
/** An action's POST has no body: this header says no cross-site form sent it (the public door). */
const marked = { 'x-cps-request': '1' };

/** Archives the coordinator keeps (helper B's store in a node): one known id, bytes in memory. */
const archiveBytes = Buffer.from('run.sh\0 a tar archive, as far as the fake storage cares');
const knownBootstrap = 'b-0123456789abcdef01234567';
const archives: BootstrapArchives = {
  has: (id) => id === knownBootstrap,
  open: (id) => {
    if (id !== knownBootstrap) throw new Error(`no ${id}`);
    return Readable.from([archiveBytes.subarray(0, 10), archiveBytes.subarray(10)]);
  },
};

async function setup(node: FakeNode = fakeNode('node-a', '127.0.0.1'), now?: () => Date) {
  const c = await signedInCluster([node], { bootstraps: archives, ...(now ? { now } : {}) });
  const json = async (res: Response) => ({ status: res.status, type: res.headers.get('content-type'), body: res.status === 204 ? undefined : await res.json() });
  /** Submits as `who` and waits until the task runs. */
  const running = async (who: Who, body: object = { name: 'demo' }) => {
    const res = await c.request(who, 'POST', '/api/tasks', body);
    expect(res.status).toBe(202);
    const { id } = await res.json();
    await reach(c.tasks, id, 'running');
    return id as string;
  };
  return { ...c, node, json, running };
}

describe('task options reach the host', () => {
  it('passes network, checkpoints, cloud-init user-data and keepCopy to storage and the provisioner', async () => {
    const { node, running, tasks } = await setup();
    const id = await running('alice', { name: 'opts', network: 'none', checkpointEveryMin: 5, keepCopy: true, userData: '#cloud-config\nruncmd: [echo hi]\n' });
    expect(node.diskRequests).toEqual([{ image: 'tiny', diskMiB: 64, cloudInit: { userData: '#cloud-config\nruncmd: [echo hi]\n' }, keepCopy: true }]);
    expect(node.specs).toEqual([{
      name: 'opts', vcpus: 1, memoryMiB: 256,
      disks: [{ path: `/var/lib/cps/disks/${id}/root.qcow2`, format: 'qcow2', device: 'disk' }],
      boot: { kind: 'kernel', kernel: '/img/vmlinuz', initrd: '/img/initrd.img', cmdline: 'console=ttyS0' },
      checkpointEverySec: 300,
      network: 'none',
    }]);
    expect(tasks.require(id).request).toMatchObject({ network: 'none', checkpointEveryMin: 5, keepCopy: true });
  });

  it('sends nothing it was not asked for', async () => {
    const { node, running } = await setup();
    await running('alice');
    expect(node.diskRequests).toEqual([{ image: 'tiny', diskMiB: 64 }]);
    expect(Object.keys(node.specs[0] as object).sort()).toEqual(['boot', 'disks', 'memoryMiB', 'name', 'vcpus']);
  });

  it('boots an ISO image: the empty disk and the CD-ROM storage planned reach the provisioner as they are', async () => {
    const iso = fakeNode('node-a', '127.0.0.1', {
      disksAnswer: (id) => ({
        disks: [
          { path: `/var/lib/cps/disks/${id}/data.qcow2`, format: 'qcow2', device: 'disk' },
          { path: '/var/lib/cps/images/img-1/image.iso', format: 'raw', device: 'cdrom', readonly: true },
        ],
        boot: { kind: 'cdrom' },
      }),
    });
    const { running } = await setup(iso);
    const id = await running('alice', { name: 'installer', image: 'img-1', diskMiB: 2048 });
    expect(iso.diskRequests).toEqual([{ image: 'img-1', diskMiB: 2048 }]);
    expect(iso.specs[0]).toMatchObject({
      disks: [
        { path: `/var/lib/cps/disks/${id}/data.qcow2`, format: 'qcow2', device: 'disk' },
        { path: '/var/lib/cps/images/img-1/image.iso', format: 'raw', device: 'cdrom', readonly: true },
      ],
      boot: { kind: 'cdrom' },
    });
  });

  it('storage and the provisioner share DiskSpec and BootSpec, so the pass-through stays valid', async () => {
    const { parse } = await import('yaml');
    const { readFileSync } = await import('node:fs');
    const { specFiles } = await import('@cps/openapi');
    const schemas = (f: string) => (parse(readFileSync(f, 'utf8')) as { components: { schemas: Record<string, { description?: string }> } }).components.schemas;
    const strip = ({ description: _d, ...rest }: { description?: string }) => rest;
    for (const name of ['DiskSpec', 'BootSpec']) {
      const storage = strip(schemas(specFiles.storage)[name]!);
      const provisioner = strip(schemas(specFiles.provisioner)[name]!);
      // The provisioner describes each property more; the shapes (types, bounds, no other fields) match.
      expect(JSON.stringify(storage, (k, v) => (k === 'description' ? undefined : v))).toBe(JSON.stringify(provisioner, (k, v) => (k === 'description' ? undefined : v)));
    }
  });

  it('uploads the bootstrap archive to the chosen node and names the disk by the id that storage gave', async () => {
    const { node, running } = await setup();
    await running('alice', { name: 'boot', bootstrap: knownBootstrap });
    expect(node.bootstraps).toEqual([archiveBytes]);
    expect(node.calls[0]).toBe('POST /bootstraps');
    expect(node.diskRequests[0]!.bootstrap).toMatch(/^b-[0-9a-f]{24}$/);
    expect(node.diskRequests[0]!.bootstrap).not.toBe(knownBootstrap); // storage's content id, not the coordinator's
  });

  it('refuses a submit naming bootstrap files it does not keep (422), and makes no task', async () => {
    const { request, json, tasks } = await setup();
    const r = await json(await request('alice', 'POST', '/api/tasks', { name: 'x', bootstrap: 'b-ffffffffffffffffffffffff' }));
    expect(r.status).toBe(422);
    expect(r.type).toMatch(/^application\/problem\+json/);
    expect(r.body.type).toBe(problemType('unknown-bootstrap'));
    expect(r.body.detail).toContain('POST /api/bootstraps');
    expect(tasks.list()).toEqual([]);
  });

  it('accepts 64 KiB of user-data', async () => {
    const { request } = await setup();
    expect((await request('alice', 'POST', '/api/tasks', { name: 'x', userData: 'é'.repeat(65536) })).status).toBe(202);
  });

  const hostile: [string, object][] = [
    ['an unknown network', { network: 'bridge' }],
    ['a checkpoint every 0 minutes', { checkpointEveryMin: 0 }],
    ['a checkpoint interval past a week', { checkpointEveryMin: 10081 }],
    ['a fractional checkpoint interval', { checkpointEveryMin: 1.5 }],
    ['keepCopy as a string', { keepCopy: 'yes' }],
    ['user-data past 64 KiB', { userData: 'x'.repeat(65537) }],
    ['user-data that is not text', { userData: { a: 1 } }],
    ['a bootstrap id of another shape', { bootstrap: '../../etc/passwd' }],
    ['a bootstrap id in upper case', { bootstrap: 'b-0123456789ABCDEF01234567' }],
  ];
  it.each(hostile)('refuses %s (400)', async (_what, extra) => {
    const { request, json, tasks } = await setup();
    const r = await json(await request('alice', 'POST', '/api/tasks', { name: 'x', ...extra }));
    expect(r.status).toBe(400);
    expect(r.body.type).toBe(problemType('validation-failed'));
    expect(tasks.list()).toEqual([]);
  });
});

describe('suspend, resume, checkpoint, restart', () => {
  it('suspends and resumes the guest on its host; each answers 202 with the task', async () => {
    const { node, request, json, running } = await setup();
    const id = await running('alice');
    const s = await json(await request('alice', 'POST', `/api/tasks/${id}/suspend`, undefined, marked));
    expect(s.status).toBe(202);
    expect(s.body).toMatchObject({ id, state: 'suspended' });
    expect(node.paused.has(id)).toBe(true);
    // Again: it is suspended already, so nothing is asked of the host.
    expect((await json(await request('alice', 'POST', `/api/tasks/${id}/suspend`, undefined, marked))).body.state).toBe('suspended');
    const r = await json(await request('alice', 'POST', `/api/tasks/${id}/resume`, undefined, marked));
    expect(r).toMatchObject({ status: 202, body: { state: 'running' } });
    expect(node.paused.has(id)).toBe(false);
    expect(node.calls.filter((x) => x.startsWith('POST /vms'))).toEqual([`POST /vms/${id}/suspend`, `POST /vms/${id}/resume`]);
    expect(r.body.history.map((h: { state: string }) => h.state).slice(-2)).toEqual(['suspended', 'running']);
  });

  it('checkpoints a running guest, left running; the task gains lastCheckpointAt', async () => {
    const { node, request, json, running } = await setup();
    const id = await running('alice');
    const r = await json(await request('alice', 'POST', `/api/tasks/${id}/checkpoint`, undefined, marked));
    expect(r).toMatchObject({ status: 202, body: { state: 'running', lastCheckpointAt: '2026-12-01T10:05:00.000Z' } });
    expect(node.calls).toContain(`POST /vms/${id}/checkpoint {"leaveRunning":true}`);
    expect(r.body.history.at(-1).message).toMatch(/checkpoint written on node-a/);
  });

  it('restarts: the guest destroyed and made again from the same spec on the same host, the disks kept', async () => {
    const { node, request, json, running } = await setup();
    const id = await running('alice', { name: 'r', network: 'user' });
    const r = await json(await request('alice', 'POST', `/api/tasks/${id}/restart`, undefined, marked));
    expect(r).toMatchObject({ status: 202, body: { state: 'running', node: { nodeId: 'node-a' } } });
    expect(node.calls.slice(-2)).toEqual([`DELETE /vms/${id}`, `PUT /vms/${id}`]);
    expect(node.calls).not.toContain(`DELETE /disks/${id}`);
    expect(node.specs[1]).toEqual(node.specs[0]);
  });

  it('restarts a suspended task into running', async () => {
    const { request, json, running } = await setup();
    const id = await running('alice');
    await request('alice', 'POST', `/api/tasks/${id}/suspend`, undefined, marked);
    expect((await json(await request('alice', 'POST', `/api/tasks/${id}/restart`, undefined, marked))).body.state).toBe('running');
  });

  it('stops a suspended task', async () => {
    const { request, running, tasks, node } = await setup();
    const id = await running('alice');
    await request('alice', 'POST', `/api/tasks/${id}/suspend`, undefined, marked);
    expect((await request('alice', 'DELETE', `/api/tasks/${id}`)).status).toBe(202);
    await reach(tasks, id, 'stopped');
    expect(node.vms.has(id)).toBe(false);
  });

  it('refuses an action in a wrong state with 409 naming the state', async () => {
    const { request, json, running, tasks } = await setup();
    const id = await running('alice');
    await request('alice', 'POST', `/api/tasks/${id}/suspend`, undefined, marked);
    const cp = await json(await request('alice', 'POST', `/api/tasks/${id}/checkpoint`, undefined, marked));
    expect(cp).toMatchObject({ status: 409, body: { type: problemType('conflict'), state: 'suspended' } });
    expect(cp.body.detail).toContain('is suspended');
    await request('alice', 'DELETE', `/api/tasks/${id}`);
    await reach(tasks, id, 'stopped');
    for (const action of ['suspend', 'resume', 'checkpoint', 'restart']) {
      const r = await json(await request('alice', 'POST', `/api/tasks/${id}/${action}`, undefined, marked));
      expect(r.status).toBe(409);
      expect(r.body.detail).toContain('is stopped');
    }
  });

  it('refuses an action on a task that waits for a peer (it has no guest)', async () => {
    const c = await signedInCluster([]);
    const res = await c.request('alice', 'POST', '/api/tasks', { name: 'waits' });
    const { id } = await res.json();
    await reach(c.tasks, id, 'queued');
    const r = await c.request('alice', 'POST', `/api/tasks/${id}/suspend`, undefined, marked);
    expect(r.status).toBe(409);
    expect((await r.json()).detail).toContain('is queued');
    c.placer.close();
  });

  it('a refusal of the host is 502 upstream-failed and the task stays as it was', async () => {
    const node = fakeNode('node-a', '127.0.0.1', { failActions: ['hypervisor-error', 'libvirt: domain is locked'] });
    const { request, json, running, tasks } = await setup(node);
    const id = await running('alice');
    const r = await json(await request('alice', 'POST', `/api/tasks/${id}/suspend`, undefined, marked));
    expect(r.status).toBe(502);
    expect(r.body.type).toBe(problemType('upstream-failed'));
    expect(r.body.detail).toContain('libvirt: domain is locked');
    expect(tasks.require(id).state).toBe('running');
  });

  it('one action at a time: a second while the first is under way is 409; a stop meanwhile wins', async () => {
    let open!: () => void;
    const node = fakeNode('node-a', '127.0.0.1', { actionGate: new Promise<void>((r) => (open = r)) });
    const { request, json, running, tasks } = await setup(node);
    const id = await running('alice');
    const first = request('alice', 'POST', `/api/tasks/${id}/suspend`, undefined, marked);
    await until(() => node.calls.includes(`POST /vms/${id}/suspend`));
    const second = await json(await request('alice', 'POST', `/api/tasks/${id}/checkpoint`, undefined, marked));
    expect(second).toMatchObject({ status: 409, body: { type: problemType('conflict') } });
    expect(second.body.detail).toContain('another action');
    expect((await request('alice', 'DELETE', `/api/tasks/${id}`)).status).toBe(202);
    open();
    const done = await json(await first);
    expect(done.status).toBe(202);
    expect(done.body.state).not.toBe('suspended'); // the stop won: the pause is not recorded
    await reach(tasks, id, 'stopped');
  });

  it('only the owner or an admin acts; another user gets 404, no one signed in 401', async () => {
    const { request, running, node } = await setup();
    const id = await running('alice');
    expect((await request('bob', 'POST', `/api/tasks/${id}/suspend`, undefined, marked)).status).toBe(404);
    expect((await request(undefined, 'POST', `/api/tasks/${id}/suspend`, undefined, marked)).status).toBe(401);
    expect(node.paused.has(id)).toBe(false);
    expect((await request('admin', 'POST', `/api/tasks/${id}/suspend`, undefined, marked)).status).toBe(202);
    expect(node.paused.has(id)).toBe(true);
  });

  it.each(['UPPER', 'a_b', '-x', 'x'.repeat(64), 'a.b'])('refuses the task id %s (400)', async (bad) => {
    const { request } = await setup();
    const r = await request('alice', 'POST', `/api/tasks/${bad}/suspend`, undefined, marked);
    expect(r.status).toBe(400);
    expect((await r.json()).type).toBe(problemType('validation-failed'));
  });

  it('an unknown action is not a route', async () => {
    const { request, running } = await setup();
    const id = await running('alice');
    expect((await request('alice', 'POST', `/api/tasks/${id}/explode`, undefined, marked)).status).toBe(404);
  });
});

describe('DELETE /api/tasks/{id}?purge=true', () => {
  it('deletes the record of an ended task (204); it is gone from the list', async () => {
    const { request, running, tasks } = await setup();
    const id = await running('alice');
    await request('alice', 'DELETE', `/api/tasks/${id}`);
    await reach(tasks, id, 'stopped');
    expect((await request('alice', 'DELETE', `/api/tasks/${id}?purge=true`)).status).toBe(204);
    expect((await request('alice', 'GET', `/api/tasks/${id}`)).status).toBe(404);
    expect((await (await request('alice', 'GET', '/api/tasks')).json()).items).toEqual([]);
    expect((await request('alice', 'DELETE', `/api/tasks/${id}?purge=true`)).status).toBe(404);
  });

  it('refuses to purge a live task (409 "stop it first") and leaves it running', async () => {
    const { request, running, tasks } = await setup();
    const id = await running('alice');
    const r = await request('alice', 'DELETE', `/api/tasks/${id}?purge=true`);
    expect(r.status).toBe(409);
    expect((await r.json()).detail).toContain('stop it first');
    expect(tasks.require(id).state).toBe('running');
  });

  it('another user cannot purge (404); an admin can; purge=maybe is refused', async () => {
    const { request, running, tasks } = await setup();
    const id = await running('alice');
    await request('alice', 'DELETE', `/api/tasks/${id}`);
    await reach(tasks, id, 'stopped');
    expect((await request('bob', 'DELETE', `/api/tasks/${id}?purge=true`)).status).toBe(404);
    expect((await request('alice', 'DELETE', `/api/tasks/${id}?purge=maybe`)).status).toBe(400);
    expect((await request('admin', 'DELETE', `/api/tasks/${id}?purge=true`)).status).toBe(204);
    expect(tasks.get(id)).toBeUndefined();
  });

  it('purge=false is a plain stop', async () => {
    const { request, running, tasks } = await setup();
    const id = await running('alice');
    expect((await request('alice', 'DELETE', `/api/tasks/${id}?purge=false`)).status).toBe(202);
    await reach(tasks, id, 'stopped');
  });
});

describe('GET /api/tasks/{id}/events', () => {
  const log = createLogger('coordinator-test', 'silent');
  let served: Served | undefined;
  afterEach(async () => {
    await served?.close();
    served = undefined;
  });

  it('streams that one task: now, then each change (suspend, resume), and nothing of other tasks', async () => {
    const c = await setup();
    served = await serveApp(c.app, { port: 0, hostname: '127.0.0.1', log });
    const base = `http://127.0.0.1:${served.port}`;
    const id = await c.running('alice');
    const other = await c.running('alice', { name: 'other' });
    const abort = new AbortController();
    const res = await fetch(`${base}/api/tasks/${id}/events`, { headers: { host: 'localhost', ...c.as('alice') }, signal: abort.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const seen: string[] = [];
    for await (const msg of readSse(res.body!)) {
      if (msg.event !== 'task') continue;
      const t = JSON.parse(msg.data!);
      seen.push(`${t.id === id ? 'mine' : 'other'}:${t.state}`);
      if (seen.length === 1) {
        await c.request('alice', 'POST', `/api/tasks/${other}/suspend`, undefined, marked);
        await c.request('alice', 'POST', `/api/tasks/${id}/suspend`, undefined, marked);
      }
      if (t.state === 'suspended') await c.request('alice', 'POST', `/api/tasks/${id}/resume`, undefined, marked);
      if (seen.length === 3) break;
    }
    abort.abort();
    expect(seen).toEqual(['mine:running', 'mine:suspended', 'mine:running']);
  });

  it('another user gets 404, no one signed in 401, before any stream', async () => {
    const c = await setup();
    const id = await c.running('alice');
    expect((await c.request('bob', 'GET', `/api/tasks/${id}/events`)).status).toBe(404);
    expect((await c.request(undefined, 'GET', `/api/tasks/${id}/events`)).status).toBe(401);
    expect((await c.request('alice', 'GET', '/api/tasks/NOPE/events')).status).toBe(400);
  });
});

describe('download of the kept copy', () => {
  const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));

  async function stoppedWithCopy(now?: () => Date) {
    const c = await setup(fakeNode('node-a', '127.0.0.1', { exportBytes: bytes }), now);
    const id = await c.running('alice', { name: 'keep', keepCopy: true });
    await c.request('alice', 'DELETE', `/api/tasks/${id}`);
    await reach(c.tasks, id, 'stopped');
    return { ...c, id };
  }

  it('records where the copy is kept when the task stops, and lists its files with URLs', async () => {
    const { request, json, id, tasks } = await stoppedWithCopy();
    expect(tasks.require(id).download).toMatchObject({ nodeId: 'node-a', files: [{ name: 'root.qcow2', sizeBytes: 1000 }] });
    const r = await json(await request('alice', 'GET', `/api/tasks/${id}/download`));
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      files: [{ name: 'root.qcow2', sizeBytes: 1000, sha256: expect.stringMatching(/^[0-9a-f]{64}$/), url: `/api/tasks/${id}/download/root.qcow2` }],
      expiresAt: '2999-01-01T00:00:00.000Z',
    });
  });

  it('streams the whole file, and a Range as 206 with Content-Range', async () => {
    const { request, id } = await stoppedWithCopy();
    const whole = await request('alice', 'GET', `/api/tasks/${id}/download/root.qcow2`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(whole.headers.get('content-disposition')).toBe(`attachment; filename="${id}-root.qcow2"`);
    expect(Buffer.from(await whole.arrayBuffer())).toEqual(bytes);
    const part = await request('alice', 'GET', `/api/tasks/${id}/download/root.qcow2`, undefined, { range: 'bytes=600-' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 600-999/1000');
    expect(Buffer.from(await part.arrayBuffer())).toEqual(bytes.subarray(600));
    const suffix = await request('alice', 'GET', `/api/tasks/${id}/download/root.qcow2`, undefined, { range: 'bytes=-10' });
    expect(Buffer.from(await suffix.arrayBuffer())).toEqual(bytes.subarray(990));
  });

  it('answers a range past the end with 416 and the size; ignores a range it cannot parse', async () => {
    const { request, id } = await stoppedWithCopy();
    const past = await request('alice', 'GET', `/api/tasks/${id}/download/root.qcow2`, undefined, { range: 'bytes=5000-' });
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe('bytes */1000');
    expect((await past.json()).type).toBe(problemType('range-not-satisfiable'));
    for (const range of ['bytes=abc', 'pages=1-2', 'bytes=1-2,5-6', 'bytes=9-3']) {
      const r = await request('alice', 'GET', `/api/tasks/${id}/download/root.qcow2`, undefined, { range });
      expect(r.status).toBe(200);
      expect((await r.arrayBuffer()).byteLength).toBe(1000);
    }
    const long = await request('alice', 'GET', `/api/tasks/${id}/download/root.qcow2`, undefined, { range: `bytes=${'1'.repeat(300)}-` });
    expect(long.status).toBe(400);
  });

  it('refuses file names not in the copy or of another shape', async () => {
    const { request, id } = await stoppedWithCopy();
    expect((await request('alice', 'GET', `/api/tasks/${id}/download/other.qcow2`)).status).toBe(404);
    expect((await request('alice', 'GET', `/api/tasks/${id}/download/..%2Fetc%2Fpasswd`)).status).toBe(400);
    expect((await request('alice', 'GET', `/api/tasks/${id}/download/.hidden`)).status).toBe(400);
  });

  it('another user gets 404, no one signed in 401; an admin may download', async () => {
    const { request, id } = await stoppedWithCopy();
    expect((await request('bob', 'GET', `/api/tasks/${id}/download`)).status).toBe(404);
    expect((await request('bob', 'GET', `/api/tasks/${id}/download/root.qcow2`)).status).toBe(404);
    expect((await request(undefined, 'GET', `/api/tasks/${id}/download/root.qcow2`)).status).toBe(401);
    expect((await request('admin', 'GET', `/api/tasks/${id}/download/root.qcow2`)).status).toBe(200);
  });

  it('is 409 while the task runs, 404 for a task without keepCopy', async () => {
    const c = await setup();
    const keep = await c.running('alice', { name: 'k', keepCopy: true });
    const r = await c.json(await c.request('alice', 'GET', `/api/tasks/${keep}/download`));
    expect(r).toMatchObject({ status: 409, body: { state: 'running' } });
    expect(r.body.detail).toContain('when it stops');
    const plain = await c.running('alice');
    await c.request('alice', 'DELETE', `/api/tasks/${plain}`);
    await reach(c.tasks, plain, 'stopped');
    const n = await c.json(await c.request('alice', 'GET', `/api/tasks/${plain}/download`));
    expect(n.status).toBe(404);
    expect(n.body.detail).toContain('keepCopy');
  });

  it('is 404 once the copy has expired', async () => {
    let t = new Date('2026-12-01T10:00:00.000Z').getTime();
    const { request, id } = await stoppedWithCopy(() => new Date(t));
    expect((await request('alice', 'GET', `/api/tasks/${id}/download`)).status).toBe(200);
    t = new Date('2999-01-01T00:00:01.000Z').getTime();
    const r = await request('alice', 'GET', `/api/tasks/${id}/download/root.qcow2`);
    expect(r.status).toBe(404);
    expect((await r.json()).detail).toContain('expired');
  });
});
