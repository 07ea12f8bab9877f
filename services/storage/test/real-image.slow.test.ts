import { existsSync } from 'node:fs';
import { Contract } from '@cps/common';
import { specFiles } from '@cps/openapi';
import { describe, expect, it } from 'vitest';
import { ImageLibrary } from '../src/images.ts';
import { StorageLayout } from '../src/paths.ts';
import { memoryLogger } from './fixture.ts';

// Reads (never writes) the machine's data dir: the tiny image that scripts/build-tiny-image.sh
// made must be one this library accepts.
const dataDir = process.env.CPS_DATA_DIR ?? '/var/lib/cps';

describe.runIf(existsSync(`${dataDir}/images/tiny/image.json`))('the built tiny image', () => {
  it('is listed as a built-in kernel image in the contract shape', async () => {
    const { log, lines } = memoryLogger();
    const tiny = await new ImageLibrary(new StorageLayout(dataDir), log).get('tiny');
    Contract.fromFile(specFiles.storage).check('Image', tiny.image);
    expect(tiny.image).toMatchObject({ id: 'tiny', kind: 'kernel', builtin: true });
    expect(tiny.source).toMatchObject({ kind: 'kernel', kernel: `${dataDir}/images/tiny/vmlinuz`, initrd: `${dataDir}/images/tiny/initrd.img` });
    expect(tiny.source.kind === 'kernel' && tiny.source.cmdline).toMatch(/console=ttyS0/);
    expect(lines().filter((l) => l.msg === 'image skipped')).toEqual([]);
  });
});
