// cps image upload and cps bootstrap upload against a real coordinator app whose local storage is
// the real storage service (qemu-img, mkfs.ext4), each on a loopback socket.
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@cps/common';
import { storageClient } from '@cps/openapi';
import { Accounts } from '../../services/coordinator/src/accounts/accounts.ts';
import { MemoryAccountStore } from '../../services/coordinator/src/accounts/memory-store.ts';
import { createApp } from '../../services/coordinator/src/app.ts';
import { BootstrapUploads } from '../../services/coordinator/src/uploads/bootstrap-upload.ts';
import { BootstrapArchiveStore } from '../../services/coordinator/src/uploads/bootstraps.ts';
import { fakeCluster, fakeNode } from '../../services/coordinator/test/fakes.ts';
import { makeFixture, type Fixture } from '../../services/storage/test/fixture.ts';
import { memoryIo } from '../src/io.ts';
import { run } from '../src/main.ts';
import { progressLine, progressReporter } from '../src/upload/progress.ts';

const MiB = 1024 * 1024;
const listen = (app: Hono) =>
  new Promise<{ url: string; server: ServerType }>((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (i: AddressInfo) => resolve({ url: `http://127.0.0.1:${i.port}`, server }));
  });

let f: Fixture;
let work: string;
let servers: ServerType[] = [];
let url: string;
let env: NodeJS.ProcessEnv;
let archives: BootstrapArchiveStore;

beforeAll(async () => {
  f = await makeFixture({ maxUploadBytes: 16 * MiB });
  work = await mkdtemp(path.join(tmpdir(), 'cps-cli-upload-'));
  const storage = await listen(f.app);
  const accounts = new Accounts({ store: new MemoryAccountStore(), now: () => new Date() });
  const alice = await accounts.createUser({ name: 'alice', password: 'alice-correct-horse' });
  const { value } = await accounts.createToken(alice.id, 'cli');
  const { tasks, placer, clientsFor } = fakeCluster([fakeNode('node-a', '127.0.0.1')]);
  const local = storageClient({ baseUrl: storage.url });
  archives = new BootstrapArchiveStore(path.join(work, 'archives'));
  const coordinator = await listen(
    createApp({ log: createLogger('t', 'silent'), tasks, placer, localStorage: local, clientsFor, accounts, bootstraps: new BootstrapUploads({ archives, storage: local, maxBytes: 4 * MiB, maxFiles: 100 }) }),
  );
  servers = [storage.server, coordinator.server];
  url = coordinator.url;
  env = { CPS_TOKEN: value, CPS_URL: url, HOME: work };
});
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(() => r(undefined)))));
  await f.cleanup();
  await rm(work, { recursive: true, force: true });
});

describe('cps image upload', () => {
  it('uploads a raw image with its SHA-256: prints the id, a progress line per 10% (no terminal)', async () => {
    const bytes = randomBytes(3 * MiB);
    const file = path.join(work, 'my disk.img');
    await writeFile(file, bytes);
    const io = memoryIo(env);
    expect(await run(['image', 'upload', file], io)).toBe(0);
    const sha = createHash('sha256').update(bytes).digest('hex');
    expect(io.stdout).toEqual([`img-${sha.slice(0, 24)}`]);
    const lines = io.stderr.filter((l) => l.startsWith('uploaded '));
    expect(lines.map((l) => l.split(' ')[1])).toEqual(['10%', '20%', '30%', '40%', '50%', '60%', '70%', '80%', '90%', '100%']);
    expect(lines.at(-1)).toMatch(/^uploaded 100% \(3\.0 MiB of 3\.0 MiB, [\d.]+ [KM]iB\/s\)$/);
    expect(io.stderr.at(-1)).toMatch(/^uploaded: my disk\.img \(disk, raw, 3145728 bytes\); use it with cps task submit --image img-/);
    // (Buffer.equals: a deep toEqual of megabytes takes seconds.)
    expect((await readFile(path.join(f.root, 'images', `img-${sha.slice(0, 24)}`, 'disk.raw'))).equals(bytes)).toBe(true);
    const again = memoryIo(env);
    expect(await run(['image', 'upload', file, '--name', 'again'], again)).toBe(0);
    expect(again.stderr.at(-1)).toMatch(/^already there: /);
  });

  it('says what the node refused: a file that is not the format it claims', async () => {
    const file = path.join(work, 'fake.qcow2');
    await writeFile(file, randomBytes(64 * 1024));
    const io = memoryIo(env);
    expect(await run(['image', 'upload', file], io)).toBe(1);
    expect(io.stderr.at(-1)).toMatch(/^error: .*storage: /);
  });

  it('refuses bad usage before sending anything', async () => {
    const io = memoryIo(env);
    expect(await run(['image', 'upload'], io)).toBe(2);
    expect(await run(['image', 'upload', path.join(work, 'missing.iso')], io)).toBe(1);
    expect(io.stderr.at(-1)).toMatch(/no such file/);
    expect(await run(['image', 'upload', 'x.img', '--format', 'vmdk'], io)).toBe(2);
    expect(await run(['image', 'upload', 'x.img', '--name', '../etc'], io)).toBe(2);
  });

  it('draws a bar on a terminal: at most every 100 ms, always the last', () => {
    const drawn: string[] = [];
    let t = 0;
    const p = progressReporter(10 * MiB, { live: (l) => drawn.push(l), line: () => undefined }, () => t);
    for (let i = 1; i <= 10; i++) {
      t += 50;
      p.sent(i * MiB);
    }
    expect(drawn).toHaveLength(6);
    expect(drawn.at(-1)).toBe(progressLine(10 * MiB, 10 * MiB, 500));
    expect(progressLine(5 * MiB, 10 * MiB, 1000, 10)).toBe('[#####·····]  50%  5.0 MiB/10.0 MiB  5.0 MiB/s');
  });
});

describe('cps bootstrap upload', () => {
  it('sends a folder’s files (paths kept) and prints the id the node’s storage gives', async () => {
    const dir = path.join(work, 'job');
    await mkdir(path.join(dir, 'lib'), { recursive: true });
    await writeFile(path.join(dir, 'run.sh'), 'echo hello from run.sh\n');
    await writeFile(path.join(dir, 'lib', 'util.sh'), 'greet() { :; }\n');
    const io = memoryIo(env);
    expect(await run(['bootstrap', 'upload', dir], io)).toBe(0);
    const id = io.stdout[0]!;
    expect(id).toMatch(/^b-[0-9a-f]{24}$/);
    expect((await f.bootstraps.get(id)).files.map((x) => x.path)).toEqual(expect.arrayContaining(['run.sh', 'lib/util.sh']));
    expect(archives.has(id)).toBe(true);
    expect(io.stderr.at(-1)).toMatch(/^2 files .*cps task submit --bootstrap b-/);
  });

  it('sends one .tar as it is: the id is its SHA-256', async () => {
    const p = pack();
    p.entry({ name: 'run.sh' }, 'echo tar\n');
    p.finalize();
    const chunks: Buffer[] = [];
    for await (const c of p) chunks.push(c as Buffer);
    const tar = Buffer.concat(chunks);
    const file = path.join(work, 'job.tar');
    await writeFile(file, tar);
    const io = memoryIo(env);
    expect(await run(['bootstrap', 'upload', file], io)).toBe(0);
    expect(io.stdout).toEqual([`b-${createHash('sha256').update(tar).digest('hex').slice(0, 24)}`]);
  });

  it('refuses a link in the folder, naming it, and an empty folder', async () => {
    const dir = path.join(work, 'linked');
    await mkdir(dir);
    await writeFile(path.join(dir, 'run.sh'), 'echo\n');
    await symlink('/etc/passwd', path.join(dir, 'passwd'));
    const io = memoryIo(env);
    expect(await run(['bootstrap', 'upload', dir], io)).toBe(1);
    expect(io.stderr.at(-1)).toBe(`error: ${path.join(dir, 'passwd')} is a symbolic link; bootstrap files are regular files and folders`);
    const empty = path.join(work, 'empty');
    await mkdir(empty);
    expect(await run(['bootstrap', 'upload', empty], io)).toBe(1);
    expect(await run(['bootstrap', 'upload'], io)).toBe(2);
  });
});
