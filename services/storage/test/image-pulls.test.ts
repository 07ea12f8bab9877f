import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { Contract, publicRoutesOfFile } from '@cps/common';
import { specFiles, storageClient, type StorageClient } from '@cps/openapi';
import { Hono } from 'hono';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.ts';
import { MiB } from '../src/capacity.ts';
import { ImagePulls, type ImageHolder } from '../src/image-pulls.ts';
import { uploadedImageId } from '../src/uploads.ts';
import { makeFixture, memoryLogger, taskId, type Fixture } from './fixture.ts';

const problem = (t: string) => `urn:cps:problem:${t}`;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

let a: Fixture; // holds the image
let b: Fixture; // a task placed here needs it
let bytes: Buffer;
let imageId: string;
/** Every peer's storage app by address; holders name their address, the client is routed there. */
let apps: Map<string, { fetch: (r: Request) => Response | Promise<Response> }>;
/** Requests each fake or real holder saw for the bytes. */
let fileGets: Map<string, number>;

beforeEach(async () => {
  a = await makeFixture();
  b = await makeFixture();
  bytes = randomBytes(256 * 1024);
  const up = await a.app.request(`/images?name=shared&format=raw&sha256=${sha(bytes)}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(bytes) });
  expect(up.status).toBe(201);
  imageId = (await up.json()).id;
  apps = new Map();
  fileGets = new Map();
  apps.set('10.0.0.1', counted('10.0.0.1', a.app));
});
afterEach(async () => {
  await a.cleanup();
  await b.cleanup();
});

function counted(address: string, app: { fetch: (r: Request) => Response | Promise<Response> }) {
  return {
    fetch: (r: Request) => {
      if (new URL(r.url).pathname.endsWith('/file')) fileGets.set(address, (fileGets.get(address) ?? 0) + 1);
      return app.fetch(r);
    },
  };
}

/** A client for the peer at `baseUrl`, routed into its app (the cluster's TLS is serveApp's, tested in common). */
const peer = (baseUrl: string): StorageClient => {
  const app = apps.get(new URL(baseUrl).hostname);
  return storageClient({ baseUrl, fetch: (req: Request) => (app ? Promise.resolve(app.fetch(req)) : Promise.reject(new Error('connection refused'))) });
};

function pullsFor(f: Fixture, holders: ImageHolder[], o: { quotaMiB?: number; maxBytes?: number } = {}) {
  return new ImagePulls({
    images: f.images,
    uploads: f.uploads,
    holders: async () => holders,
    peer,
    contract: Contract.fromFile(specFiles.storage),
    space: () => f.store.space(),
    ...(o.quotaMiB !== undefined ? { quotaBytes: o.quotaMiB * MiB } : {}),
    maxBytes: o.maxBytes ?? 64 * MiB,
    now: () => 0,
    log: memoryLogger().log,
  });
}

const holder = (nodeId: string, address: string): ImageHolder => ({ nodeId, address, port: 8083 });
const A = holder('ws-a', '10.0.0.1');

/** b's app with image pulls from `holders`. */
const appWith = (pulls: ImagePulls) => createApp({ images: b.images, disks: b.store, uploads: b.uploads, bootstraps: b.bootstraps, exports: b.exports, transfers: b.transfers, log: memoryLogger().log, imagePulls: pulls });

/** A holder that answers GET /images/{id} with `record` and serves `body` (with `headers`) as the bytes. */
function fakeHolder(address: string, record: Record<string, unknown>, body: () => BodyInit | null, headers: Record<string, string> = {}) {
  const app = new Hono();
  app.get('/images/:id', (c) => c.json(record));
  app.get('/images/:id/file', () => new Response(body(), { status: 200, headers: { 'content-type': 'application/octet-stream', ...headers } }));
  apps.set(address, counted(address, app));
}

const record = () => ({ id: imageId, name: 'shared', kind: 'disk', format: 'raw', builtin: false, sizeBytes: bytes.length, sha256: sha(bytes) });

/** b holds nothing of a failed pull: no image folder but tiny's, no staging left. */
async function nothingLeft(f: Fixture) {
  expect((await readdir(f.layout.imagesDir)).sort()).toEqual(['tiny']);
  expect(await readdir(f.layout.tmpDir).catch(() => [])).toEqual([]);
}

describe('a peer without an uploaded image fetches it from one that holds it', () => {
  it('PUT /disks pulls the image first, verified, and says where it came from', async () => {
    const res = await appWith(pullsFor(b, [A])).request(`/disks/${taskId()}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: imageId, diskMiB: 16 }) });
    expect(res.status, await res.clone().text()).toBe(201);
    const disks = await res.json();
    expect(disks.imagePull).toMatchObject({ imageId, fromNode: 'ws-a', sizeBytes: bytes.length });
    const here = (await b.images.get(imageId)).image;
    expect(here).toMatchObject({ id: imageId, sha256: sha(bytes), sizeBytes: bytes.length, format: 'raw' });
    expect(await readdir(b.layout.tmpDir)).toEqual([]);
    // A second task of it builds from the copy here: no second download.
    const again = await appWith(pullsFor(b, [A])).request(`/disks/${taskId()}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ image: imageId, diskMiB: 16 }) });
    expect(again.status).toBe(201);
    expect((await again.json()).imagePull).toBeUndefined();
    expect(fileGets.get('10.0.0.1')).toBe(1);
  });

  it('two pulls of one image at once share one download', async () => {
    const pulls = pullsFor(b, [A]);
    const [x, y] = await Promise.all([pulls.ensure(imageId), pulls.ensure(imageId)]);
    expect(x).toEqual(y);
    expect(x?.fromNode).toBe('ws-a');
    expect(fileGets.get('10.0.0.1')).toBe(1);
  });

  it('bytes that hash to another digest leave nothing, and the next holder is tried', async () => {
    const other = randomBytes(bytes.length);
    fakeHolder('10.0.0.9', record(), () => new Uint8Array(other));
    const pulls = pullsFor(b, [holder('liar', '10.0.0.9'), A]);
    const got = await pulls.ensure(imageId);
    expect(got?.fromNode).toBe('ws-a');
    expect(fileGets.get('10.0.0.9')).toBe(1);
    expect((await b.images.get(imageId)).image.sha256).toBe(sha(bytes));
  });

  it('a wrong digest from the only holder: transfer-failed, nothing kept', async () => {
    fakeHolder('10.0.0.9', record(), () => new Uint8Array(randomBytes(bytes.length)));
    await expect(pullsFor(b, [holder('liar', '10.0.0.9')]).ensure(imageId)).rejects.toMatchObject({ problemType: 'transfer-failed', message: expect.stringMatching(/hash/) });
    await nothingLeft(b);
  });

  it('a stream cut off halfway leaves nothing; a retry from a whole holder succeeds', async () => {
    const half = bytes.subarray(0, bytes.length / 2);
    fakeHolder('10.0.0.9', record(), () => new ReadableStream({ start(c) { c.enqueue(new Uint8Array(half)); c.error(new Error('connection reset')); } }));
    const cut = pullsFor(b, [holder('cut', '10.0.0.9')]);
    await expect(cut.ensure(imageId)).rejects.toMatchObject({ problemType: 'transfer-failed' });
    await nothingLeft(b);
    // A short body that simply ends is refused too.
    fakeHolder('10.0.0.8', record(), () => new Uint8Array(half));
    await expect(pullsFor(b, [holder('short', '10.0.0.8')]).ensure(imageId)).rejects.toMatchObject({ problemType: 'transfer-failed', message: expect.stringMatching(/ended after|not the/) });
    await nothingLeft(b);
    expect((await pullsFor(b, [holder('cut', '10.0.0.9'), A]).ensure(imageId))?.fromNode).toBe('ws-a');
  });

  it('a body longer than the record says is cut at the declared size', async () => {
    fakeHolder('10.0.0.9', record(), () => new ReadableStream({ start(c) { c.enqueue(new Uint8Array(bytes)); c.enqueue(new Uint8Array(64 * 1024)); c.close(); } }));
    await expect(pullsFor(b, [holder('long', '10.0.0.9')]).ensure(imageId)).rejects.toMatchObject({ problemType: 'transfer-failed', message: expect.stringMatching(/more than the \d+ bytes/) });
    await nothingLeft(b);
  });

  it('hostile records and headers are refused before a byte is kept', async () => {
    const cases: Array<[string, Record<string, unknown>, Record<string, string>]> = [
      ['other bytes than the id names', { ...record(), sha256: 'f'.repeat(64) }, {}],
      ['another id', { ...record(), id: 'img-' + 'e'.repeat(24) }, {}],
      ['a path as its name', { ...record(), name: '../../etc/passwd' }, {}],
      ['a kernel image', { ...record(), kind: 'kernel', format: undefined }, {}],
      ['a negative size', { ...record(), sizeBytes: -1 }, {}],
      ['a Content-Length not its size', record(), { 'content-length': String(bytes.length + 1) }],
    ];
    for (const [why, rec, headers] of cases) {
      fakeHolder('10.0.0.9', rec, () => new Uint8Array(bytes), headers);
      await expect(pullsFor(b, [holder('hostile', '10.0.0.9')]).ensure(imageId), why).rejects.toMatchObject({ problemType: 'transfer-failed' });
      await nothingLeft(b);
    }
  });

  it('an image beyond the donor quota or the free space is refused without downloading', async () => {
    const small = Buffer.alloc(2 * MiB, 7);
    const up = await a.app.request(`/images?name=big&format=raw`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: new Uint8Array(small) });
    const big = (await up.json()).id;
    await expect(pullsFor(b, [A], { quotaMiB: 1 }).ensure(big)).rejects.toMatchObject({ problemType: 'quota-exceeded' });
    await expect(pullsFor(b, [A], { maxBytes: MiB }).ensure(big)).rejects.toMatchObject({ problemType: 'payload-too-large' });
    const full = await makeFixture({ freeBytes: async () => 65 * MiB, reserveMiB: 64 });
    try {
      await expect(pullsFor(full, [A]).ensure(big)).rejects.toMatchObject({ problemType: 'insufficient-capacity' });
      await nothingLeft(full);
    } finally {
      await full.cleanup();
    }
    expect(fileGets.get('10.0.0.1') ?? 0).toBe(0);
    await nothingLeft(b);
  });

  it('no holder: image-not-found; a holder that cannot be reached is skipped', async () => {
    await expect(pullsFor(b, []).ensure(imageId)).rejects.toMatchObject({ problemType: 'image-not-found' });
    const empty = await makeFixture();
    try {
      apps.set('10.0.0.7', empty.app);
      await expect(pullsFor(b, [holder('empty', '10.0.0.7')]).ensure(imageId)).rejects.toMatchObject({ problemType: 'image-not-found' });
    } finally {
      await empty.cleanup();
    }
    expect((await pullsFor(b, [holder('gone', '10.0.0.66'), A]).ensure(imageId))?.fromNode).toBe('ws-a');
  });

  it('an image that is not an uploaded one is never asked for', async () => {
    await expect(pullsFor(b, [A]).ensure('debian-12-server')).rejects.toMatchObject({ problemType: 'image-not-found' });
    expect(await pullsFor(b, [A]).ensure('tiny')).toBeUndefined();
    expect(fileGets.size).toBe(0);
  });
});

describe('GET /images/{imageId}/file (the holder side)', () => {
  it('serves an uploaded image’s bytes with its digest as ETag; built-in and unknown images are not served', async () => {
    const res = await a.app.request(`/images/${imageId}/file`);
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(`"${sha(bytes)}"`);
    expect(Buffer.from(await res.arrayBuffer()).equals(bytes)).toBe(true);
    const tiny = await a.app.request('/images/tiny/file');
    expect(tiny.status).toBe(404);
    expect((await tiny.json()).type).toBe(problem('image-not-found'));
    expect((await a.app.request(`/images/${uploadedImageId('0'.repeat(64))}/file`)).status).toBe(404);
    expect((await a.app.request('/images/..%2Fetc/file')).status).toBe(400);
  });

  it('is a member route: not among the contract’s public routes (a stranger is refused by mutual TLS)', () => {
    const routes = publicRoutesOfFile(specFiles.storage);
    expect(JSON.stringify(routes)).not.toMatch(/images/);
  });
});
