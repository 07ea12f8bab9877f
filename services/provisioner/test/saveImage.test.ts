import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProblemError } from '@cps/common';
import { MAX_SAVE_XML, parseSaveImageHeader, QEMU_HEADER_BYTES, readSaveImageDomain } from '../src/saveImage.ts';

const xml = (name: string, uuid: string) => `<domain type='kvm'>\n  <name>${name}</name>\n  <uuid>${uuid}</uuid>\n</domain>\n`;
const UUID = '6c070059-04b6-8f60-8fb4-e81fdf6d7101';

/** A QEMU driver save image header as libvirt writes it (qemu_saveimage.h), then some "memory". */
function qemuImage(body: string, o: { magic?: string; version?: number; dataLen?: number; be?: boolean; cookie?: boolean } = {}): Buffer {
  const data = Buffer.concat([Buffer.from(body), Buffer.from([0]), o.cookie ? Buffer.from('<qemuCookie/>\0') : Buffer.alloc(0)]);
  const head = Buffer.alloc(QEMU_HEADER_BYTES);
  head.write(o.magic ?? 'LibvirtQemudSave', 0, 'latin1');
  const u32 = (v: number, at: number) => (o.be ? head.writeUInt32BE(v, at) : head.writeUInt32LE(v, at));
  u32(o.version ?? 2, 16);
  u32(o.dataLen ?? data.length, 20);
  u32(1, 24); // was_running
  u32(0, 28); // raw
  u32(o.cookie ? body.length + 1 : 0, 32);
  return Buffer.concat([head, data, randomBytes(64)]);
}

function testImage(body: string): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(Buffer.byteLength(body));
  return Buffer.concat([Buffer.from('TestGuestMagic\0', 'latin1'), len, Buffer.from(body)]);
}

const rejected = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProblemError);
    expect((err as ProblemError).problemType).toBe('checkpoint-rejected');
    return;
  }
  throw new Error('not rejected');
};

describe('parseSaveImageHeader (hostile bytes from a peer)', () => {
  it('reads the name and UUID of a QEMU save image, in either byte order, with or without a cookie', () => {
    for (const be of [false, true]) {
      for (const cookie of [false, true]) {
        expect(parseSaveImageHeader(qemuImage(xml('cps-t-1', UUID), { be, cookie }))).toEqual({ format: 'qemu', name: 'cps-t-1', uuid: UUID, agentChannel: false });
      }
    }
  });

  it('reads the test driver format', () => {
    expect(parseSaveImageHeader(testImage(xml('cps-t-1', UUID.toUpperCase())))).toEqual({ format: 'test', name: 'cps-t-1', uuid: UUID, agentChannel: false });
    // Saved with the guest agent's channel (as every guest is since guestAgent.ts), in either quoting.
    for (const q of ["'", '"']) {
      const withAgent = xml('cps-t-1', UUID).replace('</domain>', `<devices><channel type=${q}unix${q}><target type=${q}virtio${q} name=${q}org.qemu.guest_agent.0${q}/></channel></devices></domain>`);
      expect(parseSaveImageHeader(qemuImage(withAgent)).agentChannel).toBe(true);
    }
  });

  it('gives no name or UUID where the XML has none (the caller then refuses it)', () => {
    expect(parseSaveImageHeader(qemuImage('<domain/>'))).toEqual({ format: 'qemu', agentChannel: false });
    expect(parseSaveImageHeader(qemuImage('not xml at all'))).toEqual({ format: 'qemu', agentChannel: false });
  });

  it.each([
    ['an unfinished save', () => qemuImage(xml('a', UUID), { magic: 'LibvirtQemudPart' })],
    ['another magic', () => qemuImage(xml('a', UUID), { magic: 'LibvirtQemudSavX' })],
    ['an unknown version', () => qemuImage(xml('a', UUID), { version: 7 })],
    ['version 0', () => qemuImage(xml('a', UUID), { version: 0 })],
    ['an XML length past the end', () => qemuImage(xml('a', UUID), { dataLen: 100_000 })],
    ['an XML length over the cap', () => qemuImage(xml('a', UUID), { dataLen: MAX_SAVE_XML + 1 })],
    ['an XML length of zero', () => qemuImage(xml('a', UUID), { dataLen: 0 })],
    ['a header cut short', () => qemuImage(xml('a', UUID)).subarray(0, 40)],
    ['the magic alone', () => Buffer.from('LibvirtQemudSave')],
    ['a test image cut inside its length', () => testImage(xml('a', UUID)).subarray(0, 17)],
    ['a test image cut inside its XML', () => testImage(xml('a', UUID)).subarray(0, 40)],
    ['nothing', () => Buffer.alloc(0)],
    ['a qcow2', () => Buffer.concat([Buffer.from('QFI\xfb', 'latin1'), randomBytes(200)])],
  ])('refuses %s', (_, make) => rejected(() => parseSaveImageHeader(make())));

  it('never throws anything but checkpoint-rejected on random or mangled bytes', () => {
    const base = qemuImage(xml('cps-t-1', UUID));
    for (let i = 0; i < 2000; i++) {
      const buf = i % 2 ? randomBytes(i % 300) : Buffer.from(base);
      if (i % 2 === 0) for (let k = 0; k < 1 + (i % 7); k++) buf[(i * 31 + k * 97) % buf.length] = (i * k) & 0xff;
      try {
        const d = parseSaveImageHeader(buf);
        expect(['qemu', 'test']).toContain(d.format);
      } catch (err) {
        expect((err as ProblemError).problemType).toBe('checkpoint-rejected');
      }
    }
  });

  it('reads only the header of a file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cps-saveimg-'));
    const file = join(dir, 'state.sav');
    writeFileSync(file, Buffer.concat([qemuImage(xml('cps-t-9', UUID)), randomBytes(2 * 1024 * 1024)]));
    expect(await readSaveImageDomain(file)).toEqual({ format: 'qemu', name: 'cps-t-9', uuid: UUID, agentChannel: false });
  });
});
