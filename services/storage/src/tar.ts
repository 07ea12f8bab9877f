// A reader for the tar archives users send as bootstrap files (POSIX ustar, pax and GNU long
// names). Only regular files and folders are accepted; anything that could reach outside the
// target folder (absolute names, '..', links) or make special files is refused.

export type TarEntryType = 'file' | 'dir';

export interface TarHeader {
  /** The name field (prefix + name joined), before pax/GNU overrides. */
  name: string;
  mode: number;
  size: number;
  /** The raw typeflag: '0' file, '5' folder, 'x' pax, 'L' GNU long name, ... */
  typeflag: string;
}

export class TarError extends Error {}

export const blockSize = 512;

function field(block: Uint8Array, offset: number, length: number): string {
  const raw = block.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return Buffer.from(end === -1 ? raw : raw.subarray(0, end)).toString('utf8');
}

function octal(block: Uint8Array, offset: number, length: number, what: string): number {
  if (block[offset]! & 0x80) throw new TarError(`${what} uses base-256, which is refused (an entry that large is not a bootstrap file)`);
  const s = field(block, offset, length).trim();
  if (s === '') return 0;
  if (!/^[0-7]{1,12}$/.test(s)) throw new TarError(`${what} ${JSON.stringify(s.slice(0, 20))} is not an octal number`);
  return parseInt(s, 8);
}

/** Decodes one 512-byte header; null for an all-zero block (the end of the archive). */
export function decodeHeader(block: Uint8Array): TarHeader | null {
  if (block.length !== blockSize) throw new TarError(`a header is ${blockSize} bytes, got ${block.length}`);
  if (block.every((b) => b === 0)) return null;
  const stored = octal(block, 148, 8, 'checksum');
  let sum = 0;
  for (let i = 0; i < blockSize; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  if (sum !== stored) throw new TarError('a header checksum does not match (the archive is damaged or not a tar)');
  const name = field(block, 0, 100);
  const magic = field(block, 257, 6);
  const prefix = magic.startsWith('ustar') ? field(block, 345, 155) : '';
  return {
    name: prefix ? `${prefix}/${name}` : name,
    mode: octal(block, 100, 8, 'mode'),
    size: octal(block, 124, 12, 'size'),
    typeflag: String.fromCharCode(block[156]!),
  };
}

/** The records of a pax extended header ("<len> <key>=<value>\n" each). */
export function decodePax(data: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  const buf = Buffer.from(data);
  let pos = 0;
  while (pos < buf.length) {
    if (buf[pos] === 0) break;
    const space = buf.indexOf(0x20, pos);
    if (space === -1 || space - pos > 20) throw new TarError('a pax record has no length');
    const len = Number(buf.subarray(pos, space).toString('latin1'));
    if (!Number.isInteger(len) || len <= space - pos + 1 || pos + len > buf.length) throw new TarError('a pax record has a bad length');
    const record = buf.subarray(space + 1, pos + len - 1).toString('utf8');
    if (buf[pos + len - 1] !== 0x0a) throw new TarError('a pax record does not end with a newline');
    const eq = record.indexOf('=');
    if (eq <= 0) throw new TarError('a pax record has no key');
    out.set(record.slice(0, eq), record.slice(eq + 1));
    pos += len;
  }
  return out;
}

const maxPathBytes = 1024;
const maxDepth = 32;

/**
 * The entry's path relative to the target folder, as plain components, or a TarError saying why
 * it is refused. A leading "./" is allowed (tar -C dir . writes it); the archive's root is null.
 */
export function checkEntryName(name: string): string[] | null {
  if (name.includes('\0')) throw new TarError('a name contains a NUL byte');
  if (Buffer.byteLength(name) > maxPathBytes) throw new TarError(`a name is longer than ${maxPathBytes} bytes`);
  if (name.startsWith('/')) throw new TarError(`${JSON.stringify(clip(name))} is an absolute name`);
  if (name.includes('\\')) throw new TarError(`${JSON.stringify(clip(name))} contains a backslash`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..')) throw new TarError(`${JSON.stringify(clip(name))} leaves the archive's folder ('..')`);
  if (parts.length > maxDepth) throw new TarError(`${JSON.stringify(clip(name))} is nested more than ${maxDepth} deep`);
  return parts.length ? parts : null;
}

const refusedTypes: Record<string, string> = {
  '1': 'a hard link',
  '2': 'a symbolic link',
  '3': 'a character device',
  '4': 'a block device',
  '6': 'a fifo',
  K: 'a GNU long link name',
  S: 'a sparse file',
  V: 'a volume label',
};

/** What an entry of this typeflag is, or a TarError for anything but files and folders. */
export function entryType(typeflag: string, name: string): TarEntryType {
  if (typeflag === '0' || typeflag === '\0' || typeflag === '7') return 'file';
  if (typeflag === '5') return 'dir';
  const what = refusedTypes[typeflag] ?? `an entry of type ${JSON.stringify(typeflag)}`;
  throw new TarError(`${JSON.stringify(clip(name))} is ${what}; only regular files and folders are accepted`);
}

export const paddedSize = (n: number) => Math.ceil(n / blockSize) * blockSize;

const clip = (s: string) => (s.length > 80 ? `${s.slice(0, 80)}…` : s);
