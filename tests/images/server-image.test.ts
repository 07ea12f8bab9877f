import { execFileSync } from 'node:child_process';
import { copyFile, link, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, debian12Server, type BuildResult } from '@cps/storage/image-build.ts';
import { StorageLayout } from '@cps/storage/paths.ts';
import { runTool } from '@cps/storage/tool.ts';
import { buildDomainXml, domainNameOf, policyFor } from '@cps/provisioner/domainXml.ts';
import { makeFixture, taskId, type Fixture } from '../../services/storage/test/fixture.ts';
import { until } from '../helpers/until.ts';

// The debian-12-server image, built from Debian's packages into the machine's data dir (or found
// there with the same input hash: seconds), boots as a CPS task: storage's own disks (overlay,
// bootstrap disk, cloud-init seed), the provisioner's own domain XML, real libvirt, TCG unless the
// probe chose KVM. cloud-init must run the task's user-data and the image must run run.sh.
const dataDir = path.resolve(process.env.CPS_DATA_DIR ?? '/var/lib/cps');
const virsh = (...args: string[]) => execFileSync('virsh', ['-c', 'qemu:///system', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

let f: Fixture;
let built: BuildResult;
let buildLines: string[] = [];
let buildMs = 0;
const id = taskId();
const domain = domainNameOf(id);

beforeAll(async () => {
  const started = performance.now();
  built = await buildImage(debian12Server, { run: runTool, layout: new StorageLayout(dataDir), now: () => new Date(), progress: (l) => buildLines.push(l) });
  buildMs = performance.now() - started;
  console.log(`debian-12-server: ${built.cached ? 'cached' : 'built'} in ${(buildMs / 1000).toFixed(1)} s\n${buildLines.join('\n')}`);
  f = await makeFixture();
  // The fixture's data dir gets the built image's files (hard links where the file system allows).
  const dest = path.join(f.root, 'images', debian12Server.id);
  await mkdir(dest, { recursive: true, mode: 0o755 });
  for (const name of await readdir(built.dir)) {
    await link(path.join(built.dir, name), path.join(dest, name)).catch(() => copyFile(path.join(built.dir, name), path.join(dest, name)));
  }
}, 20 * 60_000);

afterAll(async () => {
  try {
    virsh('destroy', domain);
  } catch {
    // not running
  }
  await f?.cleanup();
});

describe('debian-12-server', () => {
  it('is listed with its metadata: a qcow2 disk booted by its own kernel, os, packages with versions', async () => {
    expect(buildLines.length).toBeGreaterThan(1);
    const { image, source } = await f.images.get(debian12Server.id);
    expect(image).toMatchObject({ kind: 'disk', format: 'qcow2', os: 'debian-12', desktop: false, inputHash: built.inputHash });
    expect(image.packages?.map((p) => p.name)).toEqual(expect.arrayContaining(['cloud-init', 'qemu-guest-agent', 'openssh-server', 'linux-image-cloud-amd64']));
    expect(source.kind === 'disk' && source.kernelBoot?.cmdline).toContain('root=/dev/vda');
    const info = JSON.parse(execFileSync('qemu-img', ['info', '-U', '--output=json', '-f', 'qcow2', source.kind === 'disk' ? source.file : ''], { encoding: 'utf8' }));
    expect(info['backing-filename']).toBeUndefined();
  });

  it('a second build of unchanged inputs finds the first', async () => {
    const lines: string[] = [];
    const again = await buildImage(debian12Server, { run: runTool, layout: new StorageLayout(dataDir), now: () => new Date(), progress: (l) => lines.push(l) });
    expect(again).toMatchObject({ cached: true, inputHash: built.inputHash });
  });

  it('boots as a task: cloud-init runs the user-data, the image runs run.sh from the bootstrap disk', async () => {
    const src = path.join(f.root, 'files');
    await mkdir(src, { recursive: true });
    await writeFile(path.join(src, 'run.sh'), '#!/bin/sh\necho "bootstrap-says: hello from $(. /etc/os-release; echo $ID-$VERSION_ID)"\nexit 3\n');
    const up = await f.app.request('/bootstraps', { method: 'POST', headers: { 'content-type': 'application/x-tar' }, body: execFileSync('tar', ['-C', src, '-cf', '-', '.']) });
    const boot = await up.json();
    expect(up.status, JSON.stringify(boot)).toBe(201);

    // runcmd runs in cloud-final, late in boot: its line on the serial port proves the seed was read.
    const userData = '#cloud-config\nruncmd:\n  - [sh, -c, "echo cps-user-data: applied on $(hostname) > /dev/ttyS0"]\n';
    const { disks } = await f.store.create(id, { image: debian12Server.id, diskMiB: 2048, bootstrap: boot.id, cloudInit: { userData } });
    expect(disks.boot.kind).toBe('kernel');
    const accel = existsSync(path.join(dataDir, 'accel.json')) ? JSON.parse(readFileSync(path.join(dataDir, 'accel.json'), 'utf8')).accelerator : 'tcg';
    await mkdir(path.join(f.root, 'logs'), { recursive: true, mode: 0o755 });
    const serial = path.join(f.root, 'logs', `${id}.serial.log`);
    const xml = buildDomainXml(
      { taskId: id, displayName: 'debian-12-server test', type: accel === 'kvm' ? 'kvm' : 'qemu', vcpus: 1, memoryMiB: 512, disks: disks.disks, boot: disks.boot, serialLog: serial, network: 'none', memtune: false },
      policyFor(f.root, id),
    );
    const xmlFile = path.join(f.root, 'domain.xml');
    await writeFile(xmlFile, xml);
    virsh('create', xmlFile);

    let seen = '';
    const read = async () => (seen = await readFile(serial, 'utf8').catch(() => ''));
    // Under TCG on a loaded machine Debian takes one to three minutes to reach cloud-final.
    const text = await until('the guest runs run.sh and the user-data', read, (t) => t.includes('cps-guest: bootstrap done') && /Cloud-init v\. \S+ finished/.test(t), 280_000, () => seen);
    expect(text).toMatch(/Linux version 6\.1\.\S+-cloud-amd64/);
    expect(text).toContain(`cps-user-data: applied on ${id}`);
    expect(text).toMatch(/Cloud-init v\. \S+ finished .* Datasource DataSourceNoCloud/);
    expect(text).toContain('bootstrap-says: hello from debian-12');
    expect(text).toContain('cps-guest: bootstrap done rc=3');
    // The image ships no SSH host keys: cloud-init made this task its own.
    expect(text).toContain('-----BEGIN SSH HOST KEY KEYS-----');
    expect(text).not.toContain('invalid locale settings');
    virsh('destroy', domain);
  }, 300_000);
});
