import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile, symlink } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { storageClient, viaApp } from '@cps/openapi';
import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeFixture, taskId, type Fixture } from './fixture.ts';
import { tar, tarEntry } from './tar-builder.ts';

const problem = (t: string) => `urn:cps:problem:${t}`;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const runSh = '#!/bin/sh\necho moved\n';

let a: Fixture; // the source peer
let b: Fixture; // the destination peer
let servers: Array<ServerType | net.Server> = [];
beforeEach(async () => {
  a = await makeFixture();
  b = await makeFixture();
});
afterEach(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
  servers = [];
  await a.cleanup();
  await b.cleanup();
});

async function listen(app: { fetch: (r: Request) => Response | Promise<Response> }): Promise<number> {
  const s = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
  servers.push(s);
  await new Promise((r) => s.once('listening', r));
  return (s.address() as AddressInfo).port;
}

/** A TCP proxy to `port` that, while `cut.after` is set, drops the connection after that many bytes from upstream. */
async function cuttingProxy(port: number, cut: { after: number | null }): Promise<number> {
  const s = net.createServer((client) => {
    const up = net.connect(port, '127.0.0.1');
    let seen = 0;
    client.on('error', () => up.destroy());
    up.on('error', () => client.destroy());
    client.pipe(up);
    up.on('data', (chunk: Buffer) => {
      seen += chunk.length;
      if (cut.after !== null && seen > cut.after) {
        client.destroy();
        up.destroy();
        return;
      }
      client.write(chunk);
    });
    up.on('end', () => client.end());
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

/** POST /disks/{t}/pull from the node at `source` (a URL, read into the contract's sourceNode). */
const pull = (to: Fixture, t: string, source: string) => {
  const u = new URL(source);
  return pullFrom(to, t, { address: u.hostname, port: Number(u.port || 80) });
};
const pullFrom = (to: Fixture, t: string, sourceNode: unknown) =>
  to.app.request(`/disks/${t}/pull`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sourceNode }) });

/** A task on the source with a data disk, a bootstrap disk, a cloud-init seed and a 2 MiB checkpoint. */
async function sourceTask(): Promise<{ t: string; state: Buffer }> {
  const up = await a.app.request('/bootstraps', { method: 'POST', headers: { 'content-type': 'application/x-tar' }, body: tar(tarEntry('run.sh', runSh)) });
  const boot = await up.json();
  const t = taskId();
  await a.store.create(t, { image: 'tiny', diskMiB: 16, bootstrap: boot.id, cloudInit: { userData: '#cloud-config\n' } });
  const state = randomBytes(2 * 1024 * 1024);
  await mkdir(path.join(a.root, 'checkpoints', t), { recursive: true });
  await writeFile(path.join(a.root, 'checkpoints', t, 'state.bin'), state);
  await writeFile(path.join(a.root, 'checkpoints', t, 'checkpoint.json'), '{"at":"now"}');
  return { t, state };
}

const nothingAt = async (f: Fixture, t: string) => {
  expect(await readdir(f.layout.disksDir)).toEqual([]);
  expect(await readdir(f.layout.tmpDir)).toEqual([]);
  expect(await readdir(path.join(f.root, 'checkpoints')).catch(() => [])).toEqual([]);
  expect((await f.app.request(`/disks/${t}`)).status).toBe(404);
};

describe('transfer between peers', () => {
  it('a transfer cut off half-way leaves nothing at the destination; the retry completes and is verified', async () => {
    const { t, state } = await sourceTask();
    const cut = { after: 1024 * 1024 as number | null };
    const source = `http://127.0.0.1:${await cuttingProxy(await listen(a.app), cut)}`;

    const broken = await pull(b, t, source);
    const body = await broken.json();
    expect({ status: broken.status, type: body.type }).toEqual({ status: 502, type: problem('transfer-failed') });
    await nothingAt(b, t);

    cut.after = null;
    const ok = await pull(b, t, source);
    const disks = await ok.json();
    expect(ok.status, JSON.stringify(disks)).toBe(201);
    const dir = path.join(b.root, 'disks', t);
    expect(disks.disks.map((d: { path: string }) => d.path)).toEqual([path.join(dir, 'data.qcow2'), path.join(dir, 'bootstrap.raw'), path.join(dir, 'seed.iso')]);
    expect(disks.boot.kernel).toBe(path.join(b.root, 'images', 'tiny', 'vmlinuz'));
    for (const name of ['data.qcow2', 'bootstrap.raw', 'seed.iso']) {
      expect(sha(await readFile(path.join(dir, name)))).toBe(sha(await readFile(path.join(a.root, 'disks', t, name))));
    }
    expect(sha(await readFile(path.join(b.root, 'checkpoints', t, 'state.bin')))).toBe(sha(state));
    expect(await readFile(path.join(b.root, 'checkpoints', t, 'checkpoint.json'), 'utf8')).toBe('{"at":"now"}');
    expect(execFileSync('debugfs', ['-R', 'cat /run.sh', path.join(dir, 'bootstrap.raw')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toBe(runSh);
    expect(await readdir(b.layout.tmpDir)).toEqual([]);

    // Pulled twice: the same disks, 200.
    const again = await pull(b, t, source);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(disks);
  });

  it('an overlay moves onto the destination copy of its (content-addressed) base image', async () => {
    const base = path.join(a.root, 'base.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', base, '8M']);
    const bytes = await readFile(base);
    const upload = (f: Fixture) => f.app.request('/images?name=base', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes });
    const img = await (await upload(a)).json();
    const t = taskId();
    await a.store.create(t, { image: img.id, diskMiB: 8 });
    const source = `http://127.0.0.1:${await listen(a.app)}`;

    const missing = await pull(b, t, source);
    expect({ status: missing.status, type: (await missing.json()).type }).toEqual({ status: 404, type: problem('image-not-found') });
    await nothingAt(b, t);

    expect((await upload(b)).status).toBe(201);
    const ok = await pull(b, t, source);
    expect(ok.status).toBe(201);
    const overlay = path.join(b.root, 'disks', t, 'root.qcow2');
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', overlay], { encoding: 'utf8' }));
    expect(info['backing-filename']).toBe(path.join(b.root, 'images', img.id, 'disk.qcow2'));
    execFileSync('qemu-img', ['check', '-q', overlay]);
  });

  it('refuses a source whose bytes do not match its manifest, and a manifest naming files outside the task', async () => {
    const { t } = await sourceTask();
    const real = await (await a.app.request(`/disks/${t}/files`)).json();
    // A lying peer: the real manifest, but one file's hash changed.
    const liar = new Hono();
    liar.get('/disks/:t/files', (c) => c.json({ ...real, files: real.files.map((f: { sha256: string }, i: number) => (i === 0 ? { ...f, sha256: 'f'.repeat(64) } : f)) }));
    liar.get('/disks/:t/files/:area/:name', (c) => a.app.fetch(new Request(`http://a${c.req.path}`)));
    const bLied = await makeFixture({ peer: () => storageClient(viaApp(liar)) });
    try {
      const res = await pull(bLied, t, 'http://127.0.0.1:1');
      const body = await res.json();
      expect({ status: res.status, type: body.type }).toEqual({ status: 502, type: problem('transfer-failed') });
      expect(body.detail).toContain('hashes to');
      await nothingAt(bLied, t);

      const evil = new Hono();
      evil.get('/disks/:t/files', (c) => c.json({ ...real, files: [...real.files, { area: 'checkpoints', name: '../../etc/passwd', sizeBytes: 1, sha256: 'a'.repeat(64) }] }));
      const bEvil = await makeFixture({ peer: () => storageClient(viaApp(evil)) });
      try {
        const r2 = await pull(bEvil, t, 'http://127.0.0.1:1');
        expect({ status: r2.status, type: (await r2.json()).type }).toEqual({ status: 502, type: problem('transfer-failed') });
        await nothingAt(bEvil, t);
      } finally {
        await bEvil.cleanup();
      }
    } finally {
      await bLied.cleanup();
    }
  });

  it('the source never lists or serves a symlink planted among the checkpoints, nor unlisted files', async () => {
    const { t } = await sourceTask();
    await symlink('/etc/passwd', path.join(a.root, 'checkpoints', t, 'passwd'));
    const m = await (await a.app.request(`/disks/${t}/files`)).json();
    expect(m.files.map((f: { area: string; name: string }) => `${f.area}/${f.name}`)).toEqual([
      'disks/data.qcow2',
      'disks/bootstrap.raw',
      'disks/seed.iso',
      'checkpoints/checkpoint.json',
      'checkpoints/state.bin',
    ]);
    expect((await a.app.request(`/disks/${t}/files/checkpoints/passwd`)).status).toBe(404);
    expect((await a.app.request(`/disks/${t}/files/disks/task.json`)).status).toBe(404);
    expect((await a.app.request(`/disks/${t}/files/images/x`)).status).toBe(400);
    expect((await a.app.request(`/disks/${t}/files/disks/..%2F..%2Fetc`)).status).toBe(400);
    const ranged = await a.app.request(`/disks/${t}/files/checkpoints/state.bin`, { headers: { range: 'bytes=0-9' } });
    expect(ranged.status).toBe(206);
    expect((await ranged.arrayBuffer()).byteLength).toBe(10);
  });

  it('refuses a pull request with a malformed source node', async () => {
    const bad: unknown[] = [
      'http://127.0.0.1:8083',
      { address: '127.0.0.1' },
      { address: '127.0.0.1', port: 0 },
      { address: '127.0.0.1', port: 70000 },
      { address: '127.0.0.1/admin', port: 80 },
      { address: 'a@b', port: 80 },
      { address: '127.0.0.1\u0000', port: 80 },
      { address: '', port: 80 },
      { address: '127.0.0.1', port: 80, path: '/x' },
    ];
    for (const node of bad) {
      const res = await pullFrom(b, taskId(), node);
      expect({ node, status: res.status, type: (await res.json()).type }).toEqual({ node, status: 400, type: problem('validation-failed') });
    }
    const legacy = await b.app.request(`/disks/${taskId()}/pull`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ source: 'http://127.0.0.1:1' }) });
    expect(legacy.status).toBe(400);
    const dead = await pull(b, taskId(), 'http://127.0.0.1:1');
    expect({ status: dead.status, type: (await dead.json()).type }).toEqual({ status: 502, type: problem('transfer-failed') });
  });
});
