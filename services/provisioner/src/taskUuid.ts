import { createHash } from 'node:crypto';
import { checkTaskId } from './domainXml.ts';

/**
 * The libvirt UUID of a task's domain, the same on every peer: the first 16 bytes of
 * SHA-256("cps task " + id) with the version and variant bits of an RFC 9562 UUIDv8 (§5.8).
 * libvirt refuses to restore a save image under XML with another UUID, so a domain whose UUID
 * libvirt picked at random could only ever be restored with the XML inside the image.
 */
export function taskUuid(taskId: string): string {
  const b = createHash('sha256').update(`cps task ${checkTaskId(taskId)}`).digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x80; // version 8 in the high nibble of octet 6
  b[8] = (b[8]! & 0x3f) | 0x80; // variant 10xx (RFC 9562 §4.1)
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * The MAC of the task's NIC, also derived from its id: libvirt picks a random one otherwise, and a
 * restore under XML with another MAC than the saved guest's is refused (the guest's ABI changed).
 * 52:54:00 is QEMU's prefix; the NIC sits on QEMU's user-mode NAT, so it never meets another's.
 */
export function taskMac(taskId: string): string {
  const b = createHash('sha256').update(`cps mac ${checkTaskId(taskId)}`).digest().subarray(0, 3);
  return ['52', '54', '00', ...[...b].map((x) => x.toString(16).padStart(2, '0'))].join(':');
}
