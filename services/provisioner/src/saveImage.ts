import { AGENT_CHANNEL } from './guestAgent.ts';
import { open } from 'node:fs/promises';
import { ProblemError } from '@cps/common';
import { readLiveXml } from './liveXml.ts';

/**
 * Reads which domain a libvirt save image says it holds (name and UUID), from its header alone.
 * A checkpoint may come from another peer: its bytes are hostile, and nothing in its XML is ever
 * used to run the guest (restore rebuilds the XML from the task's spec); this only lets a restore
 * refuse an image of some other domain before libvirt opens it.
 *
 * QEMU driver (src/qemu/qemu_saveimage.h): magic "LibvirtQemudSave" (16 bytes, "LibvirtQemudPart"
 * while unfinished), then 19 uint32 in the host's byte order (version, data_len, was_running,
 * format, cookieOffset, 14 unused), then data_len bytes: the XML, NUL-terminated, then a cookie.
 * Test driver (src/test/test_driver.c): "TestGuestMagic\0", a uint32 length, the XML.
 */
export interface SaveImageDomain {
  format: 'qemu' | 'test';
  name?: string;
  uuid?: string;
  /** Whether the saved domain has the guest agent's channel (saved before it existed: not). */
  agentChannel: boolean;
}

export const QEMU_MAGIC = 'LibvirtQemudSave';
export const QEMU_PARTIAL = 'LibvirtQemudPart';
export const TEST_MAGIC = 'TestGuestMagic\0';
export const QEMU_HEADER_BYTES = 16 + 19 * 4;
const QEMU_SAVE_VERSION = 2;
/** libvirt's own XML is a few KiB; more than this is not a save image we made. */
export const MAX_SAVE_XML = 1024 * 1024;

/** Parses the header at the start of a save image; `buf` holds at least the header and its XML. */
export function parseSaveImageHeader(buf: Buffer): SaveImageDomain {
  const magic = buf.subarray(0, 16).toString('latin1');
  if (magic === QEMU_PARTIAL) throw rejected('the save image was never finished');
  if (magic === QEMU_MAGIC) {
    if (buf.length < QEMU_HEADER_BYTES) throw rejected('the save image ends inside its header');
    // libvirt writes the header in its host's byte order and reads either (a version too big is swapped).
    let le = true;
    let version = buf.readUInt32LE(16);
    if (version > QEMU_SAVE_VERSION) {
      le = false;
      version = buf.readUInt32BE(16);
    }
    if (version < 1 || version > QEMU_SAVE_VERSION) throw rejected(`save image version ${version} is not one libvirt writes`);
    const dataLen = le ? buf.readUInt32LE(20) : buf.readUInt32BE(20);
    return { format: 'qemu', ...domainOf(xmlAt(buf, QEMU_HEADER_BYTES, dataLen)) };
  }
  if (buf.subarray(0, TEST_MAGIC.length).toString('latin1') === TEST_MAGIC) {
    const at = TEST_MAGIC.length;
    if (buf.length < at + 4) throw rejected('the save image ends inside its header');
    return { format: 'test', ...domainOf(xmlAt(buf, at + 4, buf.readUInt32LE(at))) };
  }
  throw rejected('not a libvirt save image');
}

/** Reads the header of the save image at `path` (only its first bytes). */
export async function readSaveImageDomain(path: string): Promise<SaveImageDomain> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(QEMU_HEADER_BYTES + MAX_SAVE_XML);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return parseSaveImageHeader(buf.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}

function xmlAt(buf: Buffer, start: number, len: number): string {
  if (len === 0 || len > MAX_SAVE_XML) throw rejected(`the save image's XML length (${len}) is out of bounds`);
  if (start + len > buf.length) throw rejected('the save image ends inside its XML');
  const data = buf.subarray(start, start + len);
  const nul = data.indexOf(0);
  return data.subarray(0, nul === -1 ? data.length : nul).toString('utf8');
}

function domainOf(xml: string): Omit<SaveImageDomain, 'format'> {
  let facts;
  try {
    facts = readLiveXml(xml);
  } catch {
    throw rejected("the save image's XML does not parse");
  }
  // Only decides whether the rebuilt XML leaves a device out; libvirt still checks that the two match.
  const agentChannel = xml.includes(`name="${AGENT_CHANNEL}"`) || xml.includes(`name='${AGENT_CHANNEL}'`);
  return { ...(facts.name ? { name: facts.name } : {}), ...(facts.uuid ? { uuid: facts.uuid.toLowerCase() } : {}), agentChannel };
}

const rejected = (detail: string) => new ProblemError('checkpoint-rejected', detail);
