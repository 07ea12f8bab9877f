import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where the machine's own data dir is: the built-in image and the KVM probe result come from there. */
export const sourceDataDir = () => process.env.CPS_DATA_DIR ?? '/var/lib/cps';

/**
 * A host's own CPS_DATA_DIR: the `tiny` image and accel.json of the machine's data dir (when it has
 * them; discovery alone needs neither), and nothing else. The image files are copied, never linked:
 * libvirt (dynamic_ownership) chowns the kernel and initrd a guest opens, and through a hard link
 * that would be the machine's own files; storage refuses symlinks.
 */
export function makeDataDir(dir: string, source = sourceDataDir()): void {
  mkdirSync(join(dir, 'images'), { recursive: true });
  const tiny = join(source, 'images', 'tiny');
  if (existsSync(tiny)) {
    mkdirSync(join(dir, 'images', 'tiny'));
    for (const f of readdirSync(tiny)) copyFileSync(join(tiny, f), join(dir, 'images', 'tiny', f));
  }
  const accel = join(source, 'accel.json');
  if (existsSync(accel)) copyFileSync(accel, join(dir, 'accel.json'));
}

/**
 * A node description for libvirt's test driver (`test:///<file>`): an in-process hypervisor with
 * x86_64 as its CPU model (the default test driver says i686, which discovery declines as an arch
 * mismatch) and the memory asked for. Each provisioner process gets its own instance.
 */
export function writeTestDriverNode(file: string, o: { cpus: number; memoryMiB: number }): string {
  writeFileSync(
    file,
    `<node>
  <cpu>
    <nodes>1</nodes><sockets>1</sockets><cores>${o.cpus}</cores><threads>1</threads><active>${o.cpus}</active><mhz>2000</mhz>
    <model>x86_64</model>
  </cpu>
  <memory>${o.memoryMiB * 1024}</memory>
</node>
`,
  );
  return `test://${file}`;
}
