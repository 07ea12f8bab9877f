import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { pack } from 'tar-stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createLogger, problemErrorHandler } from '@cps/common';
import { storageClient, type StorageClient } from '@cps/openapi';
import { Accounts } from '../src/accounts/accounts.ts';
import { MemoryAccountStore } from '../src/accounts/memory-store.ts';
import { createApp } from '../src/app.ts';
import { BootstrapUploads } from '../src/uploads/bootstrap-upload.ts';
import { BootstrapArchiveStore } from '../src/uploads/bootstraps.ts';
import { makeFixture, type Fixture } from '../../storage/test/fixture.ts';
import { tarEntry } from '../../storage/test/tar-builder.ts';
import { fakeCluster, fakeNode } from './fakes.ts';

const problem = (t: string) => `urn:cps:problem:${t}`;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const MiB = 1024 * 1024;

/** Serves a Hono app on a loopback port (a real socket: streamed bodies, Content-Length, undici). */
async function listen(app: Hono): Promise<{ url: string; server: ServerType }> {
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => resolve({ url: `http://127.0.0.1:${info.port}`, server }));
  });
}

interface Harness {
  url: string;
  auth: Record<string, string>;
  archives: BootstrapArchiveStore;
  archiveDir: string;
  close(): Promise<void>;
}

/** A coordinator (real HTTP) whose local storage is `storage`, with one signed-in user's token. */
async function coordinator(storage: StorageClient, dir: string, limits = { maxBytes: 1 * MiB, maxFiles: 8 }): Promise<Harness> {
  const accounts = new Accounts({ store: new MemoryAccountStore(), now: () => new Date() });
  const alice = await accounts.createUser({ name: 'alice', password: 'alice-correct-horse' });
  const { value } = await accounts.createToken(alice.id, 'laptop');
  const { tasks, placer, clientsFor } = fakeCluster([fakeNode('node-a', '127.0.0.1')]);
  const archiveDir = path.join(dir, 'coordinator-bootstraps');
  const archives = new BootstrapArchiveStore(archiveDir);
  const app = createApp({
    log: createLogger('coordinator-test', 'silent'),
    tasks,
    placer,
    localStorage: storage,
    clientsFor,
    accounts,
    bootstraps: new BootstrapUploads({ archives, storage, ...limits }),
  });
  const { url, server } = await listen(app);
  return { url, auth: { authorization: `Bearer ${value}` }, archives, archiveDir, close: () => new Promise((r) => server.close(() => r())) };
}

let f: Fixture;
let storageServer: { url: string; server: ServerType };
let c: Harness;
beforeEach(async () => {
  // The real storage service (real qemu-img and mkfs.ext4) on a socket of its own.
  f = await makeFixture({ maxUploadBytes: 4 * MiB });
  storageServer = await listen(f.app);
  c = await coordinator(storageClient({ baseUrl: storageServer.url }), f.root);
});
afterEach(async () => {
  await c.close();
  await new Promise((r) => storageServer.server.close(() => r(undefined)));
  await f.cleanup();
});

const postImage = (body: BodyInit | null, query: Record<string, string> = { name: 'My disk' }, headers: Record<string, string> = {}) =>
  fetch(`${c.url}/api/images?${new URLSearchParams(query)}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream', ...c.auth, ...headers }, body, duplex: 'half' } as RequestInit);

async function expectProblem(res: Response, status: number, type: string): Promise<Record<string, unknown>> {
  expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = (await res.json()) as Record<string, unknown>;
  expect({ status: res.status, type: body.type }).toEqual({ status, type: problem(type) });
  return body;
}

describe('POST /api/images', () => {
  it('streams a raw image into storage: 201 with storage Image, listed, the same bytes again 200', async () => {
    const bytes = randomBytes(512 * 1024);
    const res = await postImage(bytes, { name: 'My disk', format: 'raw', sha256: sha(bytes) });
    expect(res.status).toBe(201);
    const image = await res.json();
    expect(image).toMatchObject({ id: `img-${sha(bytes).slice(0, 24)}`, name: 'My disk', kind: 'disk', format: 'raw', builtin: false, sizeBytes: bytes.length, sha256: sha(bytes) });
    expect((await readFile(path.join(f.root, 'images', image.id, 'disk.raw'))).equals(bytes)).toBe(true);
    const list = await (await fetch(`${c.url}/api/images`)).json();
    expect(list.items.map((i: { id: string }) => i.id)).toContain(image.id);
    const again = await postImage(bytes, { name: 'Another name' });
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(image);
  });

  it('passes storage refusals on as the same problem, and keeps nothing', async () => {
    const bytes = randomBytes(64 * 1024);
    const empty = await postImage(Buffer.alloc(0), { name: 'empty' });
    await expectProblem(empty, 422, 'image-rejected');
    const wrongSha = await expectProblem(await postImage(bytes, { name: 'x', sha256: 'a'.repeat(64) }), 400, 'upload-incomplete');
    expect(wrongSha.detail).toMatch(/^storage: the bytes hash to [0-9a-f]{64}/);
    await expectProblem(await postImage(bytes, { name: 'x', format: 'qcow2' }), 422, 'image-rejected');
    // Larger than storage's CPS_STORAGE_MAX_UPLOAD_MIB (4 MiB here), with and without a Content-Length.
    await expectProblem(await postImage(randomBytes(5 * MiB), { name: 'big' }), 413, 'payload-too-large');
    const chunks = new ReadableStream<Uint8Array>({
      start(ctl) {
        for (let i = 0; i < 5; i++) ctl.enqueue(randomBytes(MiB));
        ctl.close();
      },
    });
    await expectProblem(await postImage(chunks, { name: 'big' }), 413, 'payload-too-large');
    // After refusals that cut the body short, the next upload still goes through.
    const after = await postImage(bytes, { name: 'after' });
    expect(after.status).toBe(201);
    const kept = ((await after.json()) as { id: string }).id;
    expect((await readdir(path.join(f.root, 'images'))).sort()).toEqual([kept, 'tiny'].sort());
    expect(await readdir(f.layout.tmpDir)).toEqual([]);
  });

  it.each([
    ['no name', {}],
    ['a path as the name', { name: '../../etc/passwd' }],
    ['markup as the name', { name: '<script>' }],
    ['an unknown format', { name: 'x', format: 'vmdk' }],
    ['a short sha256', { name: 'x', sha256: 'abc' }],
  ])('refuses %s before storage sees a byte', async (_what, query) => {
    await expectProblem(await postImage(randomBytes(1024), query as Record<string, string>), 400, 'validation-failed');
    expect(await readdir(f.layout.tmpDir)).toEqual([]);
  });

  it('needs a signed-in user, and the octet-stream type (a form cannot post it cross-site)', async () => {
    await expectProblem(await fetch(`${c.url}/api/images?name=x`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: 'abc' }), 401, 'authentication-required');
    await expectProblem(await postImage('abc', { name: 'x' }, { 'content-type': 'text/plain', 'x-cps-request': '1' }), 415, 'unsupported-media-type');
    await expectProblem(await postImage('abc', { name: 'x' }, { 'content-type': 'multipart/form-data; boundary=x', 'x-cps-request': '1' }), 415, 'unsupported-media-type');
    // Without CPS's mark a form type is what any page may post: the door refuses it first.
    await expectProblem(await postImage('abc', { name: 'x' }, { 'content-type': 'text/plain' }), 403, 'cross-site-request');
  });
});

describe('POST /api/images streams (a recording storage beside the real one)', () => {
  it('hands the first bytes to storage before the client has sent the rest, with the Content-Length', async () => {
    let sawFirst!: () => void;
    const firstArrived = new Promise<void>((r) => (sawFirst = r));
    const seen: { length?: string | undefined; bytes: number } = { bytes: 0 };
    const recording = new Hono();
    recording.onError(problemErrorHandler());
    recording.post('/images', async (ctx) => {
      seen.length = ctx.req.header('content-length');
      for await (const chunk of ctx.req.raw.body as unknown as AsyncIterable<Uint8Array>) {
        seen.bytes += chunk.byteLength;
        sawFirst();
      }
      return ctx.json({ id: 'img-000000000000000000000000', name: ctx.req.query('name'), kind: 'disk', format: 'raw', builtin: false, sizeBytes: seen.bytes }, 201);
    });
    const rec = await listen(recording);
    const h = await coordinator(storageClient({ baseUrl: rec.url }), f.root);
    try {
      const total = 3 * 256 * 1024;
      // The client sends a quarter, then waits until storage has it: a coordinator that read the
      // whole body first would never pass it on, and this test would time out.
      const body = new ReadableStream<Uint8Array>({
        async start(ctl) {
          ctl.enqueue(randomBytes(256 * 1024));
          await firstArrived;
          ctl.enqueue(randomBytes(256 * 1024));
          ctl.enqueue(randomBytes(256 * 1024));
          ctl.close();
        },
      });
      const res = await fetch(`${h.url}/api/images?name=slow`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(total), ...h.auth },
        body,
        duplex: 'half',
      } as RequestInit);
      expect(res.status).toBe(201);
      expect(seen).toEqual({ length: String(total), bytes: total });
    } finally {
      await h.close();
      await new Promise((r) => rec.server.close(() => r(undefined)));
    }
  });
});

/** A tar made by a maintained library, as `tar -c` would. */
async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const p = pack();
  for (const [name, body] of Object.entries(files)) p.entry({ name }, body);
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of p) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const postTar = (tar: Buffer, headers: Record<string, string> = {}) =>
  fetch(`${c.url}/api/bootstraps`, { method: 'POST', headers: { 'content-type': 'application/x-tar', ...c.auth, ...headers }, body: new Uint8Array(tar) });
// A form is what any web page may post; CPS's own clients mark theirs (public-door's x-cps-request).
const postFiles = (files: Array<[string, string | Blob, string?]>, headers: Record<string, string> = { ...c.auth, 'x-cps-request': '1' }) => {
  const form = new FormData();
  for (const [field, value, name] of files) {
    if (typeof value === 'string') form.append(field, value);
    else form.append(field, value, name);
  }
  return fetch(`${c.url}/api/bootstraps`, { method: 'POST', headers, body: form });
};
const keptFiles = async () => (await readdir(c.archiveDir)).sort();

describe('POST /api/bootstraps', () => {
  it('takes one tar: checked and built by storage, the same id as storage gives, kept here for placement', async () => {
    const tar = await tarOf({ 'run.sh': 'echo hello from run.sh\n', 'data/input.txt': '42\n' });
    const res = await postTar(tar);
    expect(res.status).toBe(201);
    const b = await res.json();
    expect(b).toEqual({ id: `b-${sha(tar).slice(0, 24)}`, sizeBytes: tar.length, files: expect.arrayContaining(['run.sh', 'data/input.txt']) });
    // Storage built its disk under the same id: any node's storage sent these bytes answers it too.
    expect((await f.bootstraps.get(b.id)).sha256).toBe(sha(tar));
    expect(c.archives.has(b.id)).toBe(true);
    expect(c.archives.sizeOf(b.id)).toBe(tar.length);
    const copy: Buffer[] = [];
    for await (const chunk of c.archives.open(b.id)) copy.push(chunk as Buffer);
    expect(Buffer.concat(copy).equals(tar)).toBe(true);
    const again = await postTar(tar);
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(b);
    expect(await keptFiles()).toEqual([`${b.id}.json`, `${b.id}.tar`]);
  });

  it('packs several files of a form into one tar, relative paths kept; the same files give the same id', async () => {
    const files: Array<[string, Blob, string]> = [
      ['file', new Blob(['#!/bin/sh\n. ./lib/util.sh\n']), 'run.sh'],
      ['file', new Blob(['greet() { echo hi; }\n']), 'lib/util.sh'],
    ];
    const res = await postFiles(files);
    expect(res.status).toBe(201);
    const b = await res.json();
    expect(b.id).toMatch(/^b-[0-9a-f]{24}$/);
    expect([...b.files].sort()).toEqual(['lib/util.sh', 'run.sh']);
    expect((await f.bootstraps.get(b.id)).files.map((x) => x.path).sort()).toEqual(expect.arrayContaining(['lib/util.sh', 'run.sh']));
    const tarText = await text(c.archives.open(b.id));
    expect(tarText).toContain('greet() { echo hi; }');
    // In another order: the same archive, so 200 and the same id.
    const again = await postFiles([files[1]!, files[0]!]);
    expect(again.status).toBe(200);
    expect((await again.json()).id).toBe(b.id);
  });

  const hostileFiles: Array<[string, string]> = [
    ['a ".." part', '../escape.sh'],
    ['a ".." deeper down', 'a/../../escape.sh'],
    ['an absolute name', '/etc/cron.d/evil'],
    ['a backslash', 'a\\..\\b'],
  ];
  it.each(hostileFiles)('refuses a form file named with %s (archive-rejected, as storage checks), keeping nothing', async (_what, name) => {
    const body = await expectProblem(await postFiles([['file', new Blob(['x']), name], ['file', new Blob(['echo ok']), 'run.sh']]), 422, 'archive-rejected');
    expect(String(body.detail)).toMatch(/^storage: /);
    expect(await keptFiles()).toEqual([]);
  });

  const hostileTars: Array<[string, Buffer]> = [
    ['a symbolic link', Buffer.concat([tarEntry('link', '', { type: '2', linkname: '/etc/passwd' }), Buffer.alloc(1024)])],
    ['a hard link', Buffer.concat([tarEntry('run.sh', 'x'), tarEntry('hard', '', { type: '1', linkname: 'run.sh' }), Buffer.alloc(1024)])],
    ['a device', Buffer.concat([tarEntry('dev', '', { type: '3' }), Buffer.alloc(1024)])],
    ['a ".." entry', Buffer.concat([tarEntry('../x', 'x'), Buffer.alloc(1024)])],
    ['a broken checksum', Buffer.concat([tarEntry('run.sh', 'x', { badChecksum: true }), Buffer.alloc(1024)])],
    ['random bytes', randomBytes(4096)],
  ];
  it.each(hostileTars)('refuses a tar with %s (archive-rejected), keeping nothing', async (_what, tar) => {
    await expectProblem(await postTar(tar), 422, 'archive-rejected');
    expect(await keptFiles()).toEqual([]);
  });

  it('refuses a part that is not a file, an empty form, too many files, and too many bytes', async () => {
    await expectProblem(await postFiles([['note', 'just text']]), 400, 'validation-failed');
    const empty = await fetch(`${c.url}/api/bootstraps`, { method: 'POST', headers: { ...c.auth, 'x-cps-request': '1', 'content-type': 'multipart/form-data; boundary=xyz' }, body: '--xyz--\r\n' });
    await expectProblem(empty, 400, 'validation-failed');
    const nine = Array.from({ length: 9 }, (_, i): [string, Blob, string] => ['file', new Blob([`${i}`]), `f${i}.txt`]);
    await expectProblem(await postFiles(nine), 413, 'payload-too-large');
    await expectProblem(await postFiles([['file', new Blob([randomBytes(MiB + 1)]), 'big.bin']]), 413, 'payload-too-large');
    await expectProblem(await postTar(Buffer.concat([tarEntry('big.bin', randomBytes(MiB + 1)), Buffer.alloc(1024)])), 413, 'payload-too-large');
    expect(await keptFiles()).toEqual([]);
  });

  it('needs a signed-in user and one of the two content types', async () => {
    const tar = await tarOf({ 'run.sh': 'echo hi\n' });
    await expectProblem(await fetch(`${c.url}/api/bootstraps`, { method: 'POST', headers: { 'content-type': 'application/x-tar' }, body: new Uint8Array(tar) }), 401, 'authentication-required');
    await expectProblem(await postTar(tar, { 'content-type': 'application/json' }), 415, 'unsupported-media-type');
    await expectProblem(await postTar(tar, { 'content-type': 'text/plain', 'x-cps-request': '1' }), 415, 'unsupported-media-type');
    // A form without CPS's mark is what a cross-site page could send: refused at the door.
    await expectProblem(await postFiles([['file', new Blob(['echo hi']), 'run.sh']], c.auth), 403, 'cross-site-request');
    expect(await keptFiles()).toEqual([]);
  });
});
