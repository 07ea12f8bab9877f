import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { ProblemError } from '@cps/common';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { checkFilesystem, checkGuestPath } from '../src/copy-in.ts';
import { runTool, type RunTool, type ToolOptions } from '../src/tool.ts';
import { makeFixture, taskId, writeImage, type Fixture } from './fixture.ts';
import { tar, tarEntry } from './tar-builder.ts';

const problem = (t: string) => `urn:cps:problem:${t}`;
const runSh = '#!/bin/sh\necho copied in\n';

describe('checkGuestPath', () => {
  it.each(['/', '/opt', '/opt/job/', '/home/user.name/a-b_c+d@e=f,g~h', `/${'a'.repeat(1023)}`])('accepts %j', (p) => {
    expect(() => checkGuestPath(p)).not.toThrow();
  });

  it.each([
    '',
    'opt/job',
    './opt',
    '/opt/../etc',
    '/..',
    '/opt/.',
    '/opt//job',
    '/opt/job\u0000/x',
    '/opt job',
    '/opt:job',
    ':',
    '/opt/$(reboot)',
    '/opt/`id`',
    '/opt\\job',
    '/opt/job\n',
    `/${'a'.repeat(1024)}`,
  ])('refuses %j', (p) => {
    expect(() => checkGuestPath(p)).toThrow(ProblemError);
  });

  it('drops a trailing slash', () => {
    expect(checkGuestPath('/opt/job/')).toBe('/opt/job');
  });
});

describe('checkFilesystem', () => {
  it.each(['/dev/sda', '/dev/sda1', '/dev/sda15', '/dev/vg0/root', '/dev/mapper/vg-root'])('accepts %j', (fs) => expect(checkFilesystem(fs)).toBe(fs));
  it.each([
    'sda1',
    '/dev/',
    '/dev/sdb', // the appliance's own root disk: guestfish would "copy" there and succeed
    '/dev/sdb1',
    '/dev/vda1',
    '/dev/../etc/passwd',
    '/dev/vg/..',
    '/dev/./sda',
    '/etc/passwd',
    '/dev/sda1 : rm-rf /',
    '/dev/vg/lv/x',
    `/dev/vg/${'a'.repeat(64)}`,
  ])('refuses %j', (fs) => {
    expect(() => checkFilesystem(fs)).toThrow(ProblemError);
  });
});

describe('TaskDisksRequest.copyIn (guestfish faked; the real one in copy-in.slow.test.ts)', () => {
  let f: Fixture;
  let calls: Array<{ args: readonly string[]; opts?: ToolOptions; files: Record<string, string> }>;
  let fail: boolean;
  beforeEach(async () => {
    calls = [];
    fail = false;
    // debugfs is real (it unpacks the bootstrap disk); guestfish records what it was given and what the folder held.
    const guestRun: RunTool = async (cmd, args, opts) => {
      if (cmd !== 'guestfish') return runTool(cmd, args, opts);
      const files: Record<string, string> = {};
      const copyAt = args.indexOf('copy-in');
      for (const p of copyAt < 0 ? [] : args.slice(copyAt + 1, -1)) {
        const name = path.basename(p);
        files[name] = name === 'data' ? (await readdir(p)).join(',') : await readFile(p, 'utf8');
      }
      calls.push({ args, ...(opts ? { opts } : {}), files });
      if (fail) throw new ProblemError('tool-failed', 'guestfish --rw exited with status 1: mount_options_stub: /dev/sda2: No such file or directory');
      return { stdout: '', stderr: '' };
    };
    f = await makeFixture({ guestRun });
    await writeImage(f.root, 'deb', { id: 'deb', name: 'Debian', kind: 'disk', format: 'raw', file: 'disk.raw' }, { 'disk.raw': Buffer.alloc(1024 * 1024) });
  });
  afterEach(() => f.cleanup());

  const put = (t: string, body: unknown) => f.app.request(`/disks/${t}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const bootstrap = async () => {
    const res = await f.app.request('/bootstraps', {
      method: 'POST',
      headers: { 'content-type': 'application/x-tar' },
      body: tar(tarEntry('run.sh', runSh, { mode: 0o755 }), tarEntry('data/', '', { type: '5' }), tarEntry('data/in.txt', 'input\n')),
    });
    expect(res.status).toBe(201);
    return ((await res.json()) as { id: string }).id;
  };
  const nothingLeft = async () => {
    expect(await readdir(f.layout.disksDir)).toEqual([]);
    expect(await readdir(f.layout.tmpDir)).toEqual([]);
  };

  it("runs guestfish on the task's staging overlay with the archive's files, the device and the target, under TCG", async () => {
    const b = await bootstrap();
    const t = taskId();
    const req = { image: 'deb', diskMiB: 8, copyIn: { bootstrap: b, target: '/opt/job/', filesystem: '/dev/sda' } };
    const res = await put(t, req);
    expect(res.status).toBe(201);
    expect(calls).toHaveLength(1);
    const { args, opts, files } = calls[0]!;
    const disk = args[3]!;
    expect(path.basename(disk)).toBe('root.qcow2');
    expect(path.basename(path.dirname(disk))).toMatch(new RegExp(`^\\.staging-${t}-`));
    const unpacked = path.dirname(args.at(-2)!);
    expect(args).toEqual(['--rw', '--format=qcow2', '-a', disk, '-m', '/dev/sda', 'mkdir-p', '/opt/job', ':', 'copy-in', path.join(unpacked, 'data'), path.join(unpacked, 'run.sh'), '/opt/job']);
    expect(files).toEqual({ 'run.sh': runSh, data: 'in.txt' }); // lost+found of the CPSBOOT disk is not copied
    expect(opts?.env).toEqual({ LIBGUESTFS_BACKEND: 'direct', LIBGUESTFS_BACKEND_SETTINGS: 'force_tcg' });
    expect(opts?.timeoutMs).toBeGreaterThan(0);
    // No separate bootstrap disk: the files are in the main disk.
    expect(((await res.json()) as { disks: Array<{ path: string }> }).disks.map((d) => path.basename(d.path))).toEqual(['root.qcow2']);
    expect(await readdir(f.layout.tmpDir)).toEqual([]);

    expect((await put(t, req)).status).toBe(200);
    expect(calls).toHaveLength(1);
    const other = await put(t, { ...req, copyIn: { ...req.copyIn, target: '/srv' } });
    expect({ status: other.status, type: ((await other.json()) as { type: string }).type }).toEqual({ status: 409, type: problem('conflict') });
  });

  it('without a filesystem, lets libguestfs find the OS root by inspection (-i)', async () => {
    const b = await bootstrap();
    expect((await put(taskId(), { image: 'deb', diskMiB: 8, copyIn: { bootstrap: b, target: '/' } })).status).toBe(201);
    expect(calls[0]!.args.slice(4, 7)).toEqual(['-i', 'mkdir-p', '/']);
  });

  it('a failing guestfish leaves no disks and no unpacked files', async () => {
    const b = await bootstrap();
    fail = true;
    const res = await put(taskId(), { image: 'deb', diskMiB: 8, copyIn: { bootstrap: b, target: '/opt', filesystem: '/dev/sda2' } });
    const body = (await res.json()) as { type: string; detail: string };
    expect({ status: res.status, type: body.type }).toEqual({ status: 500, type: problem('tool-failed') });
    expect(body.detail).toContain('/dev/sda2');
    await nothingLeft();
  });

  it('refuses copyIn for kernel and iso images, an unknown bootstrap, and hostile targets, before guestfish runs', async () => {
    const b = await bootstrap();
    const cases: Array<[unknown, number, string]> = [
      [{ image: 'tiny', diskMiB: 8, copyIn: { bootstrap: b, target: '/opt' } }, 400, 'bad-request'],
      [{ image: 'deb', diskMiB: 8, copyIn: { bootstrap: `b-${'0'.repeat(24)}`, target: '/opt' } }, 404, 'not-found'],
      [{ image: 'deb', diskMiB: 8, copyIn: { bootstrap: b, target: '/opt/../../etc' } }, 400, 'path-not-allowed'],
      [{ image: 'deb', diskMiB: 8, copyIn: { bootstrap: b, target: 'opt' } }, 400, 'validation-failed'],
      [{ image: 'deb', diskMiB: 8, copyIn: { bootstrap: b, target: '/opt\u0000x' } }, 400, 'validation-failed'],
      [{ image: 'deb', diskMiB: 8, copyIn: { bootstrap: b, target: `/${'a'.repeat(1100)}` } }, 400, 'validation-failed'],
      [{ image: 'deb', diskMiB: 8, copyIn: { bootstrap: b, target: '/opt', filesystem: '/etc/passwd' } }, 400, 'validation-failed'],
      [{ image: 'deb', diskMiB: 8, copyIn: { bootstrap: b, target: '/opt', filesystem: '/dev/sdb' } }, 400, 'validation-failed'],
      [{ image: 'deb', diskMiB: 8, copyIn: { bootstrap: b, target: '/opt', extra: 1 } }, 400, 'validation-failed'],
      [{ image: 'deb', diskMiB: 8, copyIn: { target: '/opt' } }, 400, 'validation-failed'],
    ];
    for (const [body, status, type] of cases) {
      const res = await put(taskId(), body);
      expect({ body, status: res.status, type: ((await res.json()) as { type: string }).type }).toEqual({ body, status, type: problem(type) });
    }
    expect(calls).toEqual([]);
    await nothingLeft();
  });
});
