import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Contract } from '@cps/common';
import { specFiles } from '@cps/openapi';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeFixture, tinyCmdline, writeImage, type Fixture } from './fixture.ts';

const contract = Contract.fromFile(specFiles.storage);
let f: Fixture;
beforeEach(async () => {
  f = await makeFixture();
});
afterEach(() => f.cleanup());

const ids = async () => (await f.images.list()).map((r) => r.image.id);
const warnings = () => f.logs().filter((l) => l.msg === 'image skipped');

describe('ImageLibrary', () => {
  it('lists the built-in tiny image in the contract shape', async () => {
    const [tiny, ...rest] = await f.images.list();
    expect(rest).toEqual([]);
    expect(tiny!.image).toEqual({
      id: 'tiny',
      name: 'tiny',
      description: 'A busybox guest for tests',
      kind: 'kernel',
      builtin: true,
      sizeBytes: 12,
      sha256: 'a'.repeat(64),
    });
    contract.check('Image', tiny!.image);
    expect(tiny!.source).toEqual({
      kind: 'kernel',
      kernel: path.join(f.root, 'images/tiny/vmlinuz'),
      initrd: path.join(f.root, 'images/tiny/initrd.img'),
      cmdline: tinyCmdline,
    });
  });

  it('lists disk and iso images, not built-in, with their format and measured size', async () => {
    await writeImage(f.root, 'deb', { id: 'deb', name: 'Debian', kind: 'disk', format: 'raw', file: 'disk.raw' }, { 'disk.raw': Buffer.alloc(512) });
    await writeImage(f.root, 'inst', { id: 'inst', name: 'Installer', kind: 'iso', file: 'x.iso' }, { 'x.iso': 'iso!' });
    const byId = Object.fromEntries((await f.images.list()).map((r) => [r.image.id, r]));
    expect(byId.deb!.image).toMatchObject({ kind: 'disk', format: 'raw', builtin: false, sizeBytes: 512 });
    expect(byId.deb!.source).toEqual({ kind: 'disk', file: path.join(f.root, 'images/deb/disk.raw'), format: 'raw' });
    expect(byId.inst!.image).toMatchObject({ kind: 'iso', format: 'iso', builtin: false, sizeBytes: 4 });
    for (const r of Object.values(byId)) contract.check('Image', r.image);
  });

  it.each([
    ['missing image.json', undefined, { vmlinuz: 'k', 'initrd.img': 'i' }],
    ['not JSON', '{"id": "bad", ', { vmlinuz: 'k', 'initrd.img': 'i' }],
    ['JSON null', 'null', {}],
    ['an array', '[1,2]', {}],
    ['wrong kind', { id: 'bad', name: 'b', kind: 'floppy' }, {}],
    ['id of another folder', { id: 'tiny', name: 'b', kind: 'kernel' }, { vmlinuz: 'k', 'initrd.img': 'i' }],
    ['missing kernel file', { id: 'bad', name: 'b', kind: 'kernel' }, { 'initrd.img': 'i' }],
    ['a file name leaving the folder', { id: 'bad', name: 'b', kind: 'kernel', kernel: '../tiny/vmlinuz' }, { 'initrd.img': 'i' }],
    ['a disk image with no file', { id: 'bad', name: 'b', kind: 'disk' }, {}],
    ['a disk image with format iso', { id: 'bad', name: 'b', kind: 'disk', format: 'iso', file: 'd' }, { d: 'x' }],
    ['a negative size', { id: 'bad', name: 'b', kind: 'kernel', sizeBytes: -1 }, { vmlinuz: 'k', 'initrd.img': 'i' }],
    ['a huge image.json', JSON.stringify({ id: 'bad', name: 'b', kind: 'kernel', pad: 'x'.repeat(100_000) }), { vmlinuz: 'k', 'initrd.img': 'i' }],
  ])('skips an image with %s, with a warning, and keeps listing the rest', async (_, json, files) => {
    await writeImage(f.root, 'bad', json, files as Record<string, string>);
    expect(await ids()).toEqual(['tiny']);
    expect(warnings().map((w) => w.image)).toEqual(['bad']);
    await expect(f.images.get('bad')).rejects.toMatchObject({ problemType: 'image-not-found' });
  });

  it('warns once per distinct reason, not on every listing', async () => {
    await writeImage(f.root, 'bad', 'nope');
    await ids();
    await ids();
    expect(warnings()).toHaveLength(1);
  });

  it('skips folders whose names are not image ids, and stray files', async () => {
    await mkdir(path.join(f.root, 'images', 'Upper'));
    await writeFile(path.join(f.root, 'images', 'README'), 'hi');
    expect(await ids()).toEqual(['tiny']);
  });

  it('skips an image folder that is a symlink out of the data dir', async () => {
    const elsewhere = await writeImage(path.join(f.root, '..', path.basename(f.root) + '-x'), 'ext', { id: 'ext', name: 'e', kind: 'kernel' }, { vmlinuz: 'k', 'initrd.img': 'i' });
    await symlink(elsewhere, path.join(f.root, 'images', 'ext'));
    try {
      expect(await ids()).toEqual(['tiny']);
      await expect(f.images.get('ext')).rejects.toMatchObject({ problemType: 'image-not-found' });
    } finally {
      await rm(path.dirname(path.dirname(elsewhere)), { recursive: true, force: true });
    }
  });

  it('answers image-not-found for unknown and invalid ids', async () => {
    for (const id of ['nope', '../tiny', '', 'x'.repeat(10_000)]) {
      await expect(f.images.get(id)).rejects.toMatchObject({ problemType: 'image-not-found' });
    }
  });

  it('lists nothing, without failing, when there is no images folder', async () => {
    await rm(path.join(f.root, 'images'), { recursive: true });
    expect(await f.images.list()).toEqual([]);
  });
});
