import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@cps/common';
import { accelReader } from '../src/accel.ts';
import { createApp } from '../src/app.ts';
import { connectLibvirt, type Hypervisor } from '../src/hypervisor.ts';
import { probeMemoryCapMode } from '../src/memoryCap.ts';
import { taskUuid } from '../src/taskUuid.ts';
import { until } from '../../../tests/helpers/until.ts';

// A real tiny guest checkpointed, its save image tampered with (virsh save-image-define: another
// serial log path, another title; then by hand: an extra disk naming a host file), then restored:
// it runs under the XML rebuilt from its spec, none of the tampering in the running domain, its
// serial counter going on from where it stopped; the image with the extra disk is not restored.
const uri = process.env.CPS_LIBVIRT_URI ?? 'qemu:///system';
const dataDir = resolve(process.env.CPS_DATA_DIR ?? '/var/lib/cps');
const image = join(dataDir, 'images', 'tiny');
const taskId = `t-${randomBytes(4).toString('hex')}`;
const domain = `cps-${taskId}`;
const evilLog = `/tmp/cps-evil-${taskId}.log`;
const work = mkdtempSync(join(tmpdir(), 'cps-tamper-'));
const virsh = (...args: string[]) => execFileSync('virsh', ['-c', uri, ...args], { encoding: 'utf8', timeout: 60_000 });

let hv: Hypervisor;
let app: ReturnType<typeof createApp>;

const serial = async () => (await app.request(`/vms/${taskId}/serial`)).text();
const ticks = (log: string) => [...log.matchAll(/cps-guest: tick (\d+)/g)].map((m) => Number(m[1]));
let lastLog = '';
const lastTick = async () => {
  lastLog = await serial();
  return Math.max(0, ...ticks(lastLog));
};
const waitForTick = (above: number): Promise<number> => until(`a tick above ${above} in the serial log`, lastTick, (t) => t > above, 60_000, () => lastLog);
const post = (op: string) => app.request(`/vms/${taskId}/${op}`, { method: 'POST' });

/** Writes `xml` into a QEMU save image's header in place (qemu_saveimage.h: XML\0 then the cookie, padded to data_len). */
function rewriteSaveImageXml(file: string, xml: string): void {
  const fd = openSync(file, 'r+');
  try {
    const head = Buffer.alloc(92);
    readSync(fd, head, 0, 92, 0);
    expect(head.subarray(0, 16).toString('latin1')).toBe('LibvirtQemudSave');
    const dataLen = head.readUInt32LE(20);
    const cookieOffset = head.readUInt32LE(32);
    const data = Buffer.alloc(dataLen);
    readSync(fd, data, 0, dataLen, 92);
    const cookieEnd = data.indexOf(0, cookieOffset);
    const cookie = cookieOffset > 0 ? data.subarray(cookieOffset, cookieEnd + 1) : Buffer.alloc(0);
    const next = Buffer.concat([Buffer.from(xml), Buffer.from([0]), cookie]);
    expect(next.length).toBeLessThan(dataLen);
    const out = Buffer.concat([next, Buffer.alloc(dataLen - next.length)]);
    if (cookieOffset > 0) head.writeUInt32LE(Buffer.byteLength(xml) + 1, 32);
    writeSync(fd, head, 0, 92, 0);
    writeSync(fd, out, 0, dataLen, 92);
  } finally {
    closeSync(fd);
  }
}

beforeAll(async () => {
  if (!existsSync(join(image, 'vmlinuz'))) throw new Error(`no tiny image in ${image}: run scripts/build-tiny-image.sh first`);
  hv = await connectLibvirt(uri);
  const log = createLogger('provisioner-slow', 'silent');
  app = createApp({ hypervisor: hv, dataDir, accelerator: accelReader(dataDir, log), memoryCap: probeMemoryCapMode(), log });
});

afterAll(async () => {
  await hv?.remove(domain).catch(() => undefined);
  await hv?.close();
  rmSync(join(dataDir, 'checkpoints', taskId), { recursive: true, force: true });
  rmSync(join(dataDir, 'logs', `${taskId}.serial`), { force: true });
  rmSync(evilLog, { force: true });
  rmSync(work, { recursive: true, force: true });
});

describe('restore from data: a tampered save image runs only under the XML rebuilt from the spec', () => {
  it('checkpoints a real guest, restores it under rebuilt XML after its image was tampered with, and it counts on', async () => {
    const meta = JSON.parse(readFileSync(join(image, 'image.json'), 'utf8')) as { cmdline: string };
    const spec = { name: 'restore from data', vcpus: 1, memoryMiB: 128, disks: [], boot: { kind: 'kernel', kernel: join(image, 'vmlinuz'), initrd: join(image, 'initrd.img'), cmdline: meta.cmdline } };
    const put = await app.request(`/vms/${taskId}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
    expect(put.status, await put.clone().text()).toBe(201);
    expect(virsh('domuuid', domain).trim()).toBe(taskUuid(taskId));
    await waitForTick(2);

    const cp = await post('checkpoint');
    expect(cp.status, await cp.clone().text()).toBe(200);
    const file = (await cp.json()).path as string;
    const atCheckpoint = await lastTick();

    // Tamper with the XML inside the image: a host path and a title (libvirt lets these change).
    const saved = virsh('save-image-dumpxml', file, '--security-info');
    expect(saved).toContain(`<uuid>${taskUuid(taskId)}</uuid>`);
    const ownLog = join(dataDir, 'logs', `${taskId}.serial`);
    expect(saved).toContain(ownLog);
    const tampered = saved.replace(ownLog, evilLog).replace(/<title>[^<]*<\/title>/, '<title>tampered</title>');
    writeFileSync(join(work, 'tampered.xml'), tampered);
    virsh('save-image-define', file, join(work, 'tampered.xml'));
    const after = virsh('save-image-dumpxml', file);
    expect(after).toContain(evilLog);
    expect(after).toContain('<title>tampered</title>');
    const restored = await post('restore');
    expect(restored.status, await restored.clone().text()).toBe(201);
    const live = virsh('dumpxml', domain);
    expect(live).toContain(`<uuid>${taskUuid(taskId)}</uuid>`);
    expect(live).toContain(ownLog);
    expect(live).not.toContain(evilLog);
    expect(live).not.toContain('tampered');
    expect(live).not.toContain('/etc/hostname');
    expect(live).toContain('<title>restore from data</title>');

    const next = await waitForTick(atCheckpoint);
    expect(next).toBeGreaterThan(atCheckpoint);
    const log = await serial();
    expect(log.match(/cps-guest: up/g)).toHaveLength(1);
    const all = ticks(log);
    for (let i = 1; i < all.length; i++) expect(all[i]).toBeGreaterThan(all[i - 1]!);
    expect(all).toContain(atCheckpoint + 1);
    expect(existsSync(evilLog)).toBe(false);

    // Again, now adding a device to the image: an extra disk naming a host file. libvirt's
    // save-image-define refuses that edit (ABI check), so the header is rewritten by hand, as a
    // hostile peer would: the XML, then the cookie after it, inside the same data_len. Restored
    // under our XML, libvirt finds the devices differ and refuses: the disk never runs.
    const again = await post('checkpoint');
    expect(again.status, await again.clone().text()).toBe(200);
    const withDisk = virsh('save-image-dumpxml', file, '--security-info').replace(
      '</devices>',
      "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/etc/hostname'/><target dev='vdz' bus='virtio'/><readonly/></disk></devices>",
    );
    rewriteSaveImageXml(file, withDisk);
    expect(virsh('save-image-dumpxml', file)).toContain('/etc/hostname');
    const third = await post('restore');
    expect(third.status, await third.clone().text()).toBe(502);
    expect((await third.json()).detail).toMatch(/disk count|does not match/);
    expect(virsh('list', '--all', '--name')).not.toContain(domain);
  });
});
