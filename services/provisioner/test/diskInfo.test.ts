import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, ProblemError } from '@cps/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.ts';
import { walkDiskChain, type ChainLink } from '../src/diskChain.ts';
import { qemuImgLayerReader } from '../src/diskInfo.ts';
import { policyFor } from '../src/domainXml.ts';
import { connectLibvirt, type Hypervisor } from '../src/hypervisor.ts';

// Real files made with the real qemu-img; the guests run on libvirt's test driver.
const top = mkdtempSync(join(tmpdir(), 'cps-prov-chain-'));
const dataDir = join(top, 'data');
// A file of the host outside the data dir, standing in for /etc/passwd.
const hostFile = join(top, 'passwd');
const taskId = `t-${randomBytes(4).toString('hex')}`;
const own = join(dataDir, 'disks', taskId);
const image = join(dataDir, 'images', 'img-1', 'disk.qcow2');
const roots = policyFor(dataDir, taskId).readRoots;
const read = qemuImgLayerReader();
const qemuImg = (...args: string[]) => execFileSync('qemu-img', args, { stdio: 'pipe' });
const overlayOn = (name: string, backing: string, format: 'qcow2' | 'raw') => {
  const f = join(own, name);
  qemuImg('create', '-q', '-f', 'qcow2', '-b', backing, '-F', format, f, '16M');
  return f;
};
const refusal = async (disk: ChainLink) => {
  const err = await walkDiskChain(disk, roots, read, 'disks[0]').then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ProblemError);
  expect((err as ProblemError).problemType).toBe('disk-rejected');
  return (err as ProblemError).message;
};

beforeAll(() => {
  mkdirSync(own, { recursive: true });
  mkdirSync(join(dataDir, 'images', 'img-1'), { recursive: true });
  writeFileSync(hostFile, 'root:x:0:0:root:/root:/bin/bash\n'.repeat(64));
  qemuImg('create', '-q', '-f', 'qcow2', image, '16M');
});
afterAll(() => rmSync(top, { recursive: true, force: true }));

describe('disk chains of real files', () => {
  it('accepts an overlay on the image store, and the image itself', async () => {
    const root = overlayOn('root.qcow2', image, 'qcow2');
    expect(await walkDiskChain({ path: root, format: 'qcow2' }, roots, read)).toEqual([{ path: root, format: 'qcow2' }, { path: image, format: 'qcow2' }]);
    expect(await walkDiskChain({ path: image, format: 'qcow2' }, roots, read)).toHaveLength(1);
  });

  it('refuses an overlay whose backing file is a host file outside the data dir', async () => {
    const evil = overlayOn('evil.qcow2', hostFile, 'raw');
    expect(await refusal({ path: evil, format: 'qcow2' })).toMatch(new RegExp(`backing file "${hostFile}" is not one storage built`));
    const passwd = overlayOn('passwd.qcow2', '/etc/passwd', 'raw');
    expect(await refusal({ path: passwd, format: 'qcow2' })).toMatch(/"\/etc\/passwd"/);
  });

  it('refuses a backing file in the image store that is a link to a host file', async () => {
    mkdirSync(join(dataDir, 'images', 'img-link'), { recursive: true });
    const link = join(dataDir, 'images', 'img-link', 'disk.raw');
    symlinkSync(hostFile, link);
    expect(await refusal({ path: overlayOn('linked.qcow2', link, 'raw'), format: 'qcow2' })).toMatch(/through a link/);
  });

  it('refuses an external data file, even one inside the task folder', async () => {
    const data = join(own, 'data.raw');
    writeFileSync(data, Buffer.alloc(0));
    const f = join(own, 'with-data.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-o', `data_file=${data}`, f, '1M');
    expect(await refusal({ path: f, format: 'qcow2' })).toMatch(/external data file/);
  });

  it('refuses a vmdk given as qcow2, a fifo and a missing file; a qcow2 given as raw stays raw', async () => {
    const vmdk = join(own, 'x.vmdk');
    qemuImg('create', '-q', '-f', 'vmdk', vmdk, '1M');
    expect(await refusal({ path: vmdk, format: 'qcow2' })).toMatch(/cannot read it as qcow2/);
    const fifo = join(own, 'fifo.raw');
    execFileSync('mkfifo', [fifo]);
    expect(await refusal({ path: fifo, format: 'raw' })).toMatch(/not a regular file/);
    expect(await refusal({ path: join(own, 'absent.qcow2'), format: 'qcow2' })).toMatch(/cannot be read \(ENOENT\)/);
    // Opened as raw, QEMU reads its bytes and follows nothing the header names.
    const evil = overlayOn('evil-raw.qcow2', hostFile, 'raw');
    expect(await walkDiskChain({ path: evil, format: 'raw' }, roots, read)).toEqual([{ path: evil, format: 'raw' }]);
  });
});

describe('PUT /vms refuses a disk whose chain leaves what storage built', () => {
  let hv: Hypervisor;
  let app: ReturnType<typeof createApp>;
  beforeAll(async () => {
    hv = await connectLibvirt('test:///default');
    app = createApp({ hypervisor: hv, dataDir, accelerator: async () => 'tcg', share: { vcpus: 2, memoryMiB: 1024, diskMiB: 100 }, log: createLogger('provisioner-test', 'silent') });
  });
  afterAll(async () => {
    await hv.remove(`cps-${taskId}`);
    await hv.close();
  });
  const put = (disk: string) =>
    app.request(`/vms/${taskId}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'm', vcpus: 1, memoryMiB: 128, disks: [{ path: disk, format: 'qcow2', device: 'disk' }], boot: { kind: 'disk' } }),
    });

  it('422 disk-rejected and no domain for an overlay on a host file; 201 for an overlay on the image store', async () => {
    const r = await put(overlayOn('api-evil.qcow2', hostFile, 'raw'));
    expect(r.status).toBe(422);
    expect(r.headers.get('content-type')).toContain('application/problem+json');
    const body = await r.json();
    expect(body).toMatchObject({ type: 'urn:cps:problem:disk-rejected' });
    expect(body.detail).toContain(hostFile);
    expect(await hv.inspect(`cps-${taskId}`)).toBeFalsy();
    expect((await put(overlayOn('api-good.qcow2', image, 'qcow2'))).status).toBe(201);
  });
});
