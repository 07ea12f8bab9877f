import { describe, expect, it } from 'vitest';
import { checkEntryName, decodeHeader, decodePax, entryType, TarError } from '../src/tar.ts';
import { tarHeader } from './tar-builder.ts';

describe('tar headers', () => {
  it('decodes a ustar header and the end block', () => {
    expect(decodeHeader(tarHeader('run.sh', 12, { mode: 0o755 }))).toEqual({ name: 'run.sh', mode: 0o755, size: 12, typeflag: '0' });
    expect(decodeHeader(Buffer.alloc(512))).toBeNull();
  });

  it.each([
    ['a bad checksum', () => tarHeader('x', 1, { badChecksum: true })],
    ['random bytes', () => Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 7 + 3) % 256))],
    ['a non-octal size', () => {
      const h = tarHeader('x', 1);
      h.write('zzzz', 124, 'latin1');
      return h;
    }],
    ['a base-256 size', () => {
      const h = tarHeader('x', 1);
      h[124] = 0x80;
      return h;
    }],
  ])('refuses %s', (_what, make) => {
    expect(() => decodeHeader(make())).toThrow(TarError);
  });

  it('refuses a header of the wrong length', () => {
    expect(() => decodeHeader(Buffer.alloc(100, 1))).toThrow(TarError);
  });
});

describe('entry names', () => {
  it.each([
    ['run.sh', ['run.sh']],
    ['./run.sh', ['run.sh']],
    ['a/b/c.txt', ['a', 'b', 'c.txt']],
    ['./', null],
    ['dir/', ['dir']],
    ['..foo', ['..foo']],
  ])('accepts %j', (name, parts) => {
    expect(checkEntryName(name)).toEqual(parts);
  });

  it.each(['../x', 'a/../../x', 'a/..', '/etc/passwd', '//x', 'a\\..\\b', 'x\0y', `${'a/'.repeat(40)}x`, 'x'.repeat(2000)])('refuses %j', (name) => {
    expect(() => checkEntryName(name)).toThrow(TarError);
  });
});

describe('entry types', () => {
  it('takes files and folders only', () => {
    expect(entryType('0', 'f')).toBe('file');
    expect(entryType('\0', 'f')).toBe('file');
    expect(entryType('5', 'd')).toBe('dir');
    for (const t of ['1', '2', '3', '4', '6', 'K', 'S', 'V', 'Z']) expect(() => entryType(t, 'x')).toThrow(TarError);
  });
});

describe('pax records', () => {
  it('reads path and size', () => {
    const m = decodePax(Buffer.from('16 path=a/b.txt\n11 size=42\n'));
    expect(Object.fromEntries(m)).toEqual({ path: 'a/b.txt', size: '42' });
  });
  it.each(['x path=a\n', '99 path=a\n', '9 path=a', '5 =a\n'])('refuses %j', (text) => {
    expect(() => decodePax(Buffer.from(text))).toThrow(TarError);
  });
});
