import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeFixture, taskId, type Fixture } from './fixture.ts';

// A backup peer copying a task's latest checkpoint: verified, the previous copy kept until the new
// one is whole, and only what changed fetched again.
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let a: Fixture; // the task's host
let b: Fixture; // a backup peer
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

/** A proxy to `port` that, while `cut.after` is set, drops the connection after that many bytes. */
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

const copy = (to: Fixture, t: string, port: number) =>
  to.app.request(`/checkpoints/${t}/pull`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ sourceNode: { address: '127.0.0.1', port } }) });

async function checkpointOn(f: Fixture, t: string, state: Buffer, meta = '{"taskId":"x"}'): Promise<void> {
  await mkdir(path.join(f.root, 'checkpoints', t), { recursive: true });
  await writeFile(path.join(f.root, 'checkpoints', t, 'state.sav'), state);
  await writeFile(path.join(f.root, 'checkpoints', t, 'checkpoint.json'), meta);
}

describe('checkpoint copies on a backup peer', () => {
  it('copies the checkpoint, verified; a second copy fetches only what changed; reports bytes moved', async () => {
    const t = taskId();
    const state = randomBytes(1024 * 1024);
    await checkpointOn(a, t, state);
    const port = await listen(a.app);

    const first = await copy(b, t, port);
    const body = await first.json();
    expect(first.status, JSON.stringify(body)).toBe(201);
    expect(body).toMatchObject({ taskId: t, sizeBytes: state.length + 14, bytesMoved: state.length + 14 });
    expect(sha(await readFile(path.join(b.root, 'checkpoints', t, 'state.sav')))).toBe(sha(state));

    // A new checkpoint.json, the same state: only the small file crosses the network.
    await writeFile(path.join(a.root, 'checkpoints', t, 'checkpoint.json'), '{"taskId":"y!"}');
    const second = await (await copy(b, t, port)).json();
    expect(second.bytesMoved).toBe(15);
    expect(await readFile(path.join(b.root, 'checkpoints', t, 'checkpoint.json'), 'utf8')).toBe('{"taskId":"y!"}');

    const state2 = randomBytes(1024 * 1024);
    await writeFile(path.join(a.root, 'checkpoints', t, 'state.sav'), state2);
    expect((await (await copy(b, t, port)).json()).bytesMoved).toBe(state2.length);
    expect(sha(await readFile(path.join(b.root, 'checkpoints', t, 'state.sav')))).toBe(sha(state2));
    expect(await readdir(path.join(b.root, 'checkpoints'))).toEqual([t]);
    expect(await readdir(b.layout.tmpDir)).toEqual([]);
  });

  it('a copy cut off half-way leaves the previous copy as it was', async () => {
    const t = taskId();
    const old = randomBytes(512 * 1024);
    await checkpointOn(a, t, old);
    const cut = { after: null as number | null };
    const port = await cuttingProxy(await listen(a.app), cut);
    expect((await copy(b, t, port)).status).toBe(201);

    await writeFile(path.join(a.root, 'checkpoints', t, 'state.sav'), randomBytes(2 * 1024 * 1024));
    cut.after = 1024 * 1024;
    const broken = await copy(b, t, port);
    expect(broken.status).toBe(502);
    expect((await broken.json()).type).toBe('urn:cps:problem:transfer-failed');
    expect(sha(await readFile(path.join(b.root, 'checkpoints', t, 'state.sav')))).toBe(sha(old));
    expect(await readdir(path.join(b.root, 'checkpoints'))).toEqual([t]);
    expect(await readdir(b.layout.tmpDir)).toEqual([]);
  });

  it('lists only plain files: a symlink planted in the checkpoint folder is neither listed nor served', async () => {
    const t = taskId();
    await checkpointOn(a, t, randomBytes(1000));
    await symlink('/etc/passwd', path.join(a.root, 'checkpoints', t, 'passwd'));
    const m = await (await a.app.request(`/checkpoints/${t}/files`)).json();
    expect(m.files.map((f: { name: string }) => f.name).sort()).toEqual(['checkpoint.json', 'state.sav']);
    expect((await a.app.request(`/disks/${t}/files/checkpoints/passwd`)).status).toBe(404);
    expect((await a.app.request(`/checkpoints/${taskId()}/files`)).status).toBe(404);
  });

  it('refuses a source whose manifest lies (another task, a disk file, a name twice), keeping nothing new', async () => {
    const t = taskId();
    const lies = [
      { taskId: 't-other', files: [] },
      { taskId: t, files: [{ area: 'disks', name: 'data.qcow2', sizeBytes: 1, sha256: 'a'.repeat(64) }] },
      { taskId: t, files: [1, 2].map(() => ({ area: 'checkpoints', name: 'state.sav', sizeBytes: 1, sha256: 'a'.repeat(64) })) },
      { taskId: t, files: [{ area: 'checkpoints', name: '../../etc/passwd', sizeBytes: 1, sha256: 'a'.repeat(64) }] },
    ];
    for (const lie of lies) {
      const port = await listen({ fetch: () => Response.json(lie) });
      const r = await copy(b, t, port);
      expect(r.status, JSON.stringify(lie)).toBe(502);
      expect(await readdir(path.join(b.root, 'checkpoints')).catch(() => [])).toEqual([]);
    }
  });

  it('refuses a file whose hash is not the listed one', async () => {
    const t = taskId();
    const good = randomBytes(4096);
    const port = await listen({
      fetch: (req: Request) =>
        new URL(req.url).pathname.endsWith('/files')
          ? Response.json({ taskId: t, files: [{ area: 'checkpoints', name: 'state.sav', sizeBytes: good.length, sha256: sha(good) }] })
          : new Response(randomBytes(good.length)),
    });
    const r = await copy(b, t, port);
    expect(r.status).toBe(502);
    expect((await r.json()).detail).toMatch(/hashes to/);
    expect(await readdir(path.join(b.root, 'checkpoints')).catch(() => [])).toEqual([]);
  });
});
