import { ProblemError } from '@cps/common';
import { describe, expect, it } from 'vitest';
import { checkChain, MAX_CHAIN_LAYERS, parseLayerInfo, walkDiskChain, type ChainLink, type LayerInfo } from '../src/diskChain.ts';

const roots = ['/d/disks/t-1', '/d/images'];
const overlay = '/d/disks/t-1/root.qcow2';
const base = '/d/images/img-1/disk.qcow2';
const q = (filename: string, over: Partial<LayerInfo> = {}): LayerInfo => ({ filename, format: 'qcow2', ...over });
const backed = (filename: string, backing: string, backingFormat = 'qcow2', over: Partial<LayerInfo> = {}): LayerInfo =>
  q(filename, { backingFile: backing, fullBackingFile: backing, backingFormat, ...over });

describe('checkChain accepts what storage builds', () => {
  it.each([
    ['a flat qcow2 in the task folder', { path: overlay, format: 'qcow2' }, [q(overlay)], 1],
    ['a raw disk in the task folder', { path: '/d/disks/t-1/bootstrap.raw', format: 'raw' }, [{ filename: '/d/disks/t-1/bootstrap.raw', format: 'raw' }], 1],
    ['a raw ISO in the image store', { path: '/d/images/img-2/image.iso', format: 'raw' }, [{ filename: '/d/images/img-2/image.iso', format: 'raw' }], 1],
    ['an overlay on a qcow2 image', { path: overlay, format: 'qcow2' }, [backed(overlay, base), q(base)], 2],
    ['an overlay on a raw image', { path: overlay, format: 'qcow2' }, [backed(overlay, '/d/images/img-3/disk.raw', 'raw'), { filename: '/d/images/img-3/disk.raw', format: 'raw' }], 2],
    ['an overlay on an overlay in the task folder', { path: overlay, format: 'qcow2' }, [backed(overlay, '/d/disks/t-1/mid.qcow2'), backed('/d/disks/t-1/mid.qcow2', base), q(base)], 3],
    ['no full-backing-filename reported', { path: overlay, format: 'qcow2' }, [backed(overlay, base, 'qcow2', { fullBackingFile: undefined }), q(base)], 2],
  ] as Array<[string, ChainLink, LayerInfo[], number]>)('%s', (_, disk, layers, n) => {
    expect(checkChain(disk, layers, roots)).toHaveLength(n);
  });
});

describe('checkChain refuses', () => {
  const disk: ChainLink = { path: overlay, format: 'qcow2' };
  it.each([
    ['a backing file on the host', [backed(overlay, '/etc/passwd', 'raw')], /backing file "\/etc\/passwd" is not one storage built/],
    ["another task's disk as backing file", [backed(overlay, '/d/disks/t-2/root.qcow2')], /not one storage built/],
    ['the data dir itself as backing file', [backed(overlay, '/d/accel.json', 'raw')], /not one storage built/],
    ['a backing file with ..', [backed(overlay, '/d/images/../../etc/passwd', 'raw')], /not one storage built/],
    ['a relative backing file', [backed(overlay, 'disk.qcow2')], /not an absolute path/],
    ['an NBD backing file', [backed(overlay, 'nbd://10.0.0.1/export', 'raw')], /not an absolute path/],
    ['a json: backing file', [backed(overlay, 'json:{"file":{"driver":"file","filename":"/etc/passwd"}}', 'raw')], /not an absolute path/],
    ['a backing file that resolves elsewhere', [backed(overlay, base, 'qcow2', { fullBackingFile: '/etc/passwd' })], /resolves to "\/etc\/passwd"/],
    ['a backing file with no recorded format', [backed(overlay, base, 'qcow2', { backingFormat: undefined })], /no recorded format/],
    ['a vmdk backing file', [backed(overlay, '/d/images/img-4/disk.vmdk', 'vmdk')], /"vmdk"; only qcow2 and raw/],
    ['an external data file', [q(overlay, { dataFile: '/d/disks/t-1/data.raw' })], /external data file/],
    ['an external data file in the backing image', [backed(overlay, base), q(base, { dataFile: '/etc/shadow' })], /backing layer 1.*external data file/],
    ['a host file behind the image', [backed(overlay, base), backed(base, '/etc/passwd', 'raw')], /backing layer 1.*"\/etc\/passwd"/],
    ['a layer that is not the format it was opened as', [{ ...q(overlay), format: 'vmdk' }], /"vmdk", not the qcow2/],
    ['a layer whose file is not the one asked for', [q('/d/disks/t-1/other.qcow2')], /not the file asked for/],
    ['a loop', [backed(overlay, base), backed(base, overlay)], /loops back/],
    ['a layer backed by itself', [backed(overlay, overlay)], /loops back/],
    ['a raw layer with a backing file', [backed(overlay, '/d/images/img-3/disk.raw', 'raw'), { filename: '/d/images/img-3/disk.raw', format: 'raw', backingFile: base, backingFormat: 'qcow2' }], /raw layer cannot have a backing file/],
    ['a chain deeper than the limit', Array.from({ length: MAX_CHAIN_LAYERS + 1 }, (_, i) => backed(i === 0 ? overlay : `/d/disks/t-1/l${i}.qcow2`, `/d/disks/t-1/l${i + 1}.qcow2`)), /deeper than/],
    ['a chain that was not read to its end', [backed(overlay, base)], /was not read/],
  ] as Array<[string, LayerInfo[], RegExp]>)('%s', (_, layers, why) => {
    let err: unknown;
    try {
      checkChain(disk, layers, roots, 'disks[0]');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProblemError);
    expect((err as ProblemError).problemType).toBe('disk-rejected');
    expect((err as ProblemError).message).toMatch(/^disks\[0\]/);
    expect((err as ProblemError).message).toMatch(why);
  });
});

describe('parseLayerInfo', () => {
  it('reads what qemu-img info prints for an overlay with a data file', () => {
    const j = {
      'virtual-size': 1048576,
      filename: overlay,
      format: 'qcow2',
      'backing-filename': base,
      'full-backing-filename': base,
      'backing-filename-format': 'qcow2',
      'format-specific': { type: 'qcow2', data: { compat: '1.1', 'data-file': '/d/x.raw', 'data-file-raw': false } },
    };
    expect(parseLayerInfo(j, 'disk')).toEqual({ filename: overlay, format: 'qcow2', backingFile: base, fullBackingFile: base, backingFormat: 'qcow2', dataFile: '/d/x.raw' });
  });
  it.each([
    ['not an object', 'x'],
    ['an array', [{ filename: overlay, format: 'qcow2' }]],
    ['no format', { filename: overlay }],
    ['a numeric filename', { filename: 1, format: 'raw' }],
  ])('refuses %s', (_, j) => {
    expect(() => parseLayerInfo(j, 'disk')).toThrow(ProblemError);
  });
  it('takes a data file it cannot name as a data file', () => {
    expect(parseLayerInfo({ filename: overlay, format: 'qcow2', 'format-specific': { data: { 'data-file': { driver: 'nbd' } } } }, 'd').dataFile).toBe('(unnamed)');
  });
});

describe('walkDiskChain', () => {
  it('never reads a layer before the layer naming it passed', async () => {
    const reads: string[] = [];
    const layers: Record<string, LayerInfo> = { [overlay]: backed(overlay, '/etc/passwd', 'raw'), '/etc/passwd': { filename: '/etc/passwd', format: 'raw' } };
    const read = async (l: ChainLink) => {
      reads.push(l.path);
      return layers[l.path]!;
    };
    await expect(walkDiskChain({ path: overlay, format: 'qcow2' }, roots, read)).rejects.toThrow(/not one storage built/);
    expect(reads).toEqual([overlay]);
  });
  it('reads each layer with its recorded format', async () => {
    const reads: ChainLink[] = [];
    const raw = '/d/images/img-3/disk.raw';
    const layers: Record<string, LayerInfo> = { [overlay]: backed(overlay, raw, 'raw'), [raw]: { filename: raw, format: 'raw' } };
    const chain = await walkDiskChain({ path: overlay, format: 'qcow2' }, roots, async (l) => (reads.push(l), layers[l.path]!));
    expect(chain).toEqual([{ path: overlay, format: 'qcow2' }, { path: raw, format: 'raw' }]);
    expect(reads).toEqual(chain);
  });
});
