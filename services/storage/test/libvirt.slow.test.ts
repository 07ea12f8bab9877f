import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixture, taskId, writeImage, type Fixture } from './fixture.ts';

// Real libvirt: a domain started on the disks storage made must be able to open them, with
// libvirt's dynamic_ownership handing the files to the qemu user (and back at the end).
const virsh = (...args: string[]) => execFileSync('virsh', ['-c', 'qemu:///system', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

let f: Fixture;
const id = taskId();
const domain = `cps-${id}`;

beforeAll(async () => {
  f = await makeFixture();
  const dir = await writeImage(f.root, 'base', { id: 'base', name: 'Base', kind: 'disk', format: 'qcow2', file: 'disk.qcow2' });
  execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', path.join(dir, 'disk.qcow2'), '16M']);
});

afterAll(async () => {
  try {
    virsh('destroy', domain);
  } catch {
    // not running
  }
  await f?.cleanup();
});

describe('disks under libvirt', () => {
  it('a transient QEMU domain opens a data disk and an overlay with its base image', async () => {
    const data = (await f.store.create(id, { image: 'tiny', diskMiB: 16 })).disks.disks[0]!.path;
    const overlay = (await f.store.create(`${id}-o`, { image: 'base', diskMiB: 16 })).disks.disks[0]!.path;
    const disk = (file: string, dev: string) =>
      `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${file}'/><target dev='${dev}' bus='virtio'/></disk>`;
    const xml = `<domain type='qemu'><name>${domain}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>
      <os><type arch='x86_64'>hvm</type><boot dev='hd'/></os>
      <devices>${disk(data, 'vda')}${disk(overlay, 'vdb')}<graphics type='vnc' listen='127.0.0.1' autoport='yes'/></devices></domain>`;
    const xmlFile = path.join(f.root, 'domain.xml');
    await writeFile(xmlFile, xml);
    virsh('create', xmlFile);
    expect(virsh('domstate', domain).trim()).toBe('running');
    const qemuUid = Number(execFileSync('id', ['-u', 'libvirt-qemu'], { encoding: 'utf8' }).trim());
    expect(statSync(data).uid).toBe(qemuUid);
    virsh('destroy', domain);
    expect(statSync(data).uid).toBe(0); // restored when the domain stops
  });
});
