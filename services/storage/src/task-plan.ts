import path from 'node:path';
import type { StorageSchemas } from '@cps/openapi';
import type { ImageRecord } from './images.ts';
import type { DiskFormat } from './qemu-img.ts';
import { seedIsoName } from './seed.ts';

export type TaskDisks = StorageSchemas['TaskDisks'];
export type TaskDisksRequest = StorageSchemas['TaskDisksRequest'];
type DiskSpec = StorageSchemas['DiskSpec'];
type BootSpec = StorageSchemas['BootSpec'];

/** A file in disks/<task>/ and what it is for. */
export interface OwnFile {
  name: string;
  role: 'main' | 'bootstrap' | 'seed';
  format: DiskFormat;
}

export const bootstrapFileName = 'bootstrap.raw';

/**
 * Which files a task's folder holds and how the provisioner attaches them, from the image and
 * the request alone: building disks and taking them over from a peer give the same answer.
 * Order matters: virtio disks get vda, vdb… and CD-ROMs sda, sdb… in this order, and a guest
 * booting from CD-ROM boots the first (the image's, never the seed).
 */
export function planDisks(taskId: string, dir: string, image: ImageRecord, req: TaskDisksRequest): { disks: TaskDisks; own: OwnFile[] } {
  const src = image.source;
  const own: OwnFile[] = [{ name: src.kind === 'disk' ? 'root.qcow2' : 'data.qcow2', role: 'main', format: 'qcow2' }];
  if (req.bootstrap !== undefined) own.push({ name: bootstrapFileName, role: 'bootstrap', format: 'raw' });
  const disks: DiskSpec[] = own.map((f) => ({ path: path.join(dir, f.name), format: f.format, device: 'disk' }));
  let boot: BootSpec;
  if (src.kind === 'disk') {
    // A built image's disk holds no bootloader: its kernel boots with the disk as vda (the first disk).
    const k = src.kernelBoot;
    boot = k ? { kind: 'kernel', kernel: k.kernel, initrd: k.initrd, ...(k.cmdline !== undefined ? { cmdline: k.cmdline } : {}) } : { kind: 'disk' };
  }
  else if (src.kind === 'iso') {
    disks.push({ path: src.file, format: 'raw', device: 'cdrom', readonly: true });
    boot = { kind: 'cdrom' };
  } else {
    boot = { kind: 'kernel', kernel: src.kernel, initrd: src.initrd, ...(src.cmdline !== undefined ? { cmdline: src.cmdline } : {}) };
  }
  if (req.cloudInit !== undefined) {
    own.push({ name: seedIsoName, role: 'seed', format: 'raw' });
    // Debian's cloud kernel (built images) has no SATA (AHCI) driver: there the seed is a read-only
    // virtio disk, which cloud-init's NoCloud finds by its label (cidata) all the same.
    const seedDevice = src.kind === 'disk' && src.kernelBoot ? 'disk' : 'cdrom';
    disks.push({ path: path.join(dir, seedIsoName), format: 'raw', device: seedDevice, readonly: true });
  }
  return { disks: { taskId, image: image.image.id, disks, boot }, own };
}

/** Requests compared field by field, so a retried PUT with the same body is recognised. */
export function sameRequest(a: TaskDisksRequest, b: TaskDisksRequest): boolean {
  return canonical(a) === canonical(b);
}

function canonical(r: TaskDisksRequest): string {
  return JSON.stringify([r.image, r.diskMiB, r.bootstrap ?? null, r.cloudInit ? [r.cloudInit.userData, r.cloudInit.metaData ?? null, r.cloudInit.networkConfig ?? null] : null, r.keepCopy === true, r.copyIn ? [r.copyIn.bootstrap, r.copyIn.target, r.copyIn.filesystem ?? null] : null]);
}
