import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeFixture, taskId, type Fixture } from './fixture.ts';

// A real tiny guest boots with a bootstrap disk storage built and runs its run.sh, whose output
// reaches the serial console. The domain is started the way test/libvirt.slow.test.ts does it.
const dataDir = path.resolve(process.env.CPS_DATA_DIR ?? '/var/lib/cps');
const tinyDir = path.join(dataDir, 'images', 'tiny');
const virsh = (...args: string[]) => execFileSync('virsh', ['-c', 'qemu:///system', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/'/g, '&apos;');

let f: Fixture;
const id = taskId();
const domain = `cps-${id}`;

beforeAll(async () => {
  if (!existsSync(path.join(tinyDir, 'vmlinuz'))) throw new Error(`no tiny image in ${tinyDir}: run scripts/build-tiny-image.sh first`);
  f = await makeFixture();
  // The fixture's tiny is fake; put the real one in its place.
  for (const name of ['vmlinuz', 'initrd.img', 'image.json']) await copyFile(path.join(tinyDir, name), path.join(f.root, 'images', 'tiny', name));
});

afterAll(async () => {
  try {
    virsh('destroy', domain);
  } catch {
    // not running
  }
  await f?.cleanup();
});

describe('a bootstrap disk in a real guest', () => {
  it('the tiny guest runs run.sh from the CPSBOOT disk and its output appears on serial', async () => {
    const src = path.join(f.root, 'files');
    await mkdir(path.join(src, 'data'), { recursive: true });
    await writeFile(path.join(src, 'run.sh'), '#!/bin/sh\necho "bootstrap-says: $(cat data/greeting.txt)"\nexit 3\n');
    await writeFile(path.join(src, 'data', 'greeting.txt'), 'hello from the user\n');
    const archive = execFileSync('tar', ['-C', src, '-cf', '-', '.']);
    const up = await f.app.request('/bootstraps', { method: 'POST', headers: { 'content-type': 'application/x-tar' }, body: archive });
    const boot = await up.json();
    expect(up.status, JSON.stringify(boot)).toBe(201);

    const { disks } = await f.store.create(id, { image: 'tiny', diskMiB: 16, bootstrap: boot.id });
    expect(disks.boot.kind).toBe('kernel');
    if (disks.boot.kind !== 'kernel') return;
    const accel = existsSync(path.join(dataDir, 'accel.json')) ? JSON.parse(readFileSync(path.join(dataDir, 'accel.json'), 'utf8')).accelerator : 'tcg';
    const serial = path.join(f.root, 'serial.log');
    const diskXml = disks.disks
      .map((d, i) => `<disk type='file' device='disk'><driver name='qemu' type='${d.format}'/><source file='${d.path}'/><target dev='vd${'ab'[i]}' bus='virtio'/></disk>`)
      .join('');
    const xml = `<domain type='${accel === 'kvm' ? 'kvm' : 'qemu'}'><name>${domain}</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>
      <os><type arch='x86_64'>hvm</type><kernel>${disks.boot.kernel}</kernel><initrd>${disks.boot.initrd}</initrd><cmdline>${xmlEscape(disks.boot.cmdline ?? '')}</cmdline></os>
      <devices>${diskXml}<serial type='pty'><log file='${serial}' append='off'/><target port='0'/></serial><console type='pty'><target type='serial' port='0'/></console></devices></domain>`;
    const xmlFile = path.join(f.root, 'domain.xml');
    await writeFile(xmlFile, xml);
    virsh('create', xmlFile);

    let text = '';
    for (let i = 0; i < 240 && !text.includes('cps-guest: bootstrap done'); i++) {
      await sleep(500);
      text = await readFile(serial, 'utf8').catch(() => '');
    }
    expect(text).toContain('cps-guest: up');
    expect(text).toContain('bootstrap-says: hello from the user');
    expect(text).toContain('cps-guest: bootstrap done rc=3');
    virsh('destroy', domain);
  });
});
