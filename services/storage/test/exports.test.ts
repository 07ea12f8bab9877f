import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { getRequestListener } from '@hono/node-server';
import { Contract } from '@cps/common';
import { specFiles } from '@cps/openapi';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseRange } from '../src/ranges.ts';
import { makeFixture, taskId, type Fixture } from './fixture.ts';
import { tar, tarEntry } from './tar-builder.ts';

const contract = Contract.fromFile(specFiles.storage);
const problem = (t: string) => `urn:cps:problem:${t}`;
const runSh = '#!/bin/sh\necho kept\n';

let f: Fixture;
let api: ReturnType<typeof request>;
beforeEach(async () => {
  f = await makeFixture();
  api = request(getRequestListener(f.app.fetch));
});
afterEach(() => f.cleanup());

const binary = (req: request.Test) =>
  req.buffer(true).parse((res, cb) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => cb(null, Buffer.concat(chunks)));
  });

/** A task with a bootstrap disk that asked for a copy, then ended. */
async function endedTaskWithCopy(): Promise<string> {
  const boot = (await api.post('/bootstraps').set('content-type', 'application/x-tar').send(tar(tarEntry('run.sh', runSh, { mode: 0o755 }))).expect(201)).body;
  const t = taskId();
  await api.put(`/disks/${t}`).set('content-type', 'application/json').send({ image: 'tiny', diskMiB: 16, bootstrap: boot.id, keepCopy: true }).expect(201);
  await api.delete(`/disks/${t}`).expect(204);
  return t;
}

describe('byte ranges', () => {
  it.each([
    [undefined, 100, { kind: 'full' }],
    ['bytes=0-49', 100, { kind: 'partial', start: 0, end: 49 }],
    ['bytes=50-', 100, { kind: 'partial', start: 50, end: 99 }],
    ['bytes=90-200', 100, { kind: 'partial', start: 90, end: 99 }],
    ['bytes=-10', 100, { kind: 'partial', start: 90, end: 99 }],
    ['bytes=-200', 100, { kind: 'partial', start: 0, end: 99 }],
    ['bytes=100-', 100, { kind: 'unsatisfiable' }],
    ['bytes=-0', 100, { kind: 'unsatisfiable' }],
    ['bytes=0-', 0, { kind: 'unsatisfiable' }],
    ['bytes=5-1', 100, { kind: 'full' }],
    ['bytes=0-1,5-6', 100, { kind: 'full' }],
    ['items=0-1', 100, { kind: 'full' }],
    ['bytes=-', 100, { kind: 'full' }],
    ['bytes=99999999999999999-', 100, { kind: 'unsatisfiable' }],
  ])('%j of %d bytes', (header, size, want) => {
    expect(parseRange(header, size)).toEqual(want);
  });
});

describe('kept copies of ended tasks', () => {
  it('keeps compressed qcow2 copies when asked, and none otherwise', async () => {
    const t = await endedTaskWithCopy();
    const exp = (await api.get(`/exports/${t}`).expect(200)).body;
    contract.check('Export', exp);
    expect(exp.files.map((x: { name: string }) => x.name)).toEqual(['data.qcow2', 'bootstrap.qcow2']);
    expect(exp.expiresAt).toBe('2026-11-26T12:00:00.000Z');
    expect((await api.get('/exports').expect(200)).body.items).toEqual([exp]);
    const file = path.join(f.root, 'exports', t, 'bootstrap.qcow2');
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', file], { encoding: 'utf8' }));
    expect(info.format).toBe('qcow2');
    expect(info['backing-filename']).toBeUndefined();
    expect(await readdir(f.layout.tmpDir)).toEqual([]);

    const plain = taskId();
    await api.put(`/disks/${plain}`).set('content-type', 'application/json').send({ image: 'tiny', diskMiB: 8 }).expect(201);
    await api.delete(`/disks/${plain}`).expect(204);
    expect((await api.get(`/exports/${plain}`)).body.type).toBe(problem('not-found'));
  });

  it('a download resumed half-way with Range and If-Range is the whole disk: qemu-img check passes, run.sh is inside', async () => {
    const t = await endedTaskWithCopy();
    const exp = (await api.get(`/exports/${t}`).expect(200)).body;
    const meta = exp.files.find((x: { name: string }) => x.name === 'bootstrap.qcow2');
    const url = `/exports/${t}/bootstrap.qcow2`;
    const half = Math.floor(meta.sizeBytes / 2);

    const first = await binary(api.get(url).set('range', `bytes=0-${half - 1}`)).expect(206);
    expect(first.headers['content-range']).toBe(`bytes 0-${half - 1}/${meta.sizeBytes}`);
    expect(first.headers['accept-ranges']).toBe('bytes');
    const etag = String(first.headers.etag);
    expect(etag).toBe(`"${meta.sha256}"`);
    expect(first.body.length).toBe(half);
    const rest = await binary(api.get(url).set('range', `bytes=${half}-`).set('if-range', etag)).expect(206);
    expect(rest.headers['content-range']).toBe(`bytes ${half}-${meta.sizeBytes - 1}/${meta.sizeBytes}`);

    const whole = Buffer.concat([first.body, rest.body]);
    expect(createHash('sha256').update(whole).digest('hex')).toBe(meta.sha256);
    const saved = path.join(f.root, 'downloaded.qcow2');
    await writeFile(saved, whole);
    execFileSync('qemu-img', ['check', '-q', saved]);
    const raw = path.join(f.root, 'downloaded.raw');
    execFileSync('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', saved, raw]);
    expect(execFileSync('debugfs', ['-R', 'cat /run.sh', raw], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })).toBe(runSh);

    // A stale If-Range gets the whole file; a range past the end gets 416 with the size.
    const stale = await binary(api.get(url).set('range', `bytes=${half}-`).set('if-range', '"stale"')).expect(200);
    expect(stale.body.equals(whole)).toBe(true);
    const past = await api.get(url).set('range', `bytes=${meta.sizeBytes}-`);
    expect(past.status).toBe(416);
    expect(past.headers['content-range']).toBe(`bytes */${meta.sizeBytes}`);
    expect((await api.get(`/exports/${t}/nope.qcow2`)).body.type).toBe(problem('not-found'));
    expect((await api.get(`/exports/${t}/..%2Ftask.json`)).status).toBe(400);
  });

  it('copies expire: not served after the retention period, and swept from disk', async () => {
    const t = await endedTaskWithCopy();
    f.clock.now = new Date('2026-11-26T11:59:59Z');
    expect(await f.exports.sweep()).toEqual([]);
    await api.get(`/exports/${t}`).expect(200);
    f.clock.now = new Date('2026-11-26T12:00:00Z');
    expect((await api.get(`/exports/${t}`)).body.type).toBe(problem('not-found'));
    expect((await api.get(`/exports/${t}/data.qcow2`)).status).toBe(404);
    expect((await api.get('/exports').expect(200)).body.items).toEqual([]);
    expect(await f.exports.sweep()).toEqual([t]);
    expect(await readdir(f.layout.exportsDir)).toEqual([]);
  });

  it('deletes a copy on request', async () => {
    const t = await endedTaskWithCopy();
    await api.delete(`/exports/${t}`).expect(204);
    await api.delete(`/exports/${t}`).expect(204);
    expect((await api.get(`/exports/${t}`)).status).toBe(404);
  });
});
