import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Logger } from '@cps/common';

export type Accelerator = 'kvm' | 'tcg';

const accelFile = z.object({ accelerator: z.enum(['kvm', 'tcg']) }).passthrough();

/**
 * How guests run here, as proven by the probe boot (`$CPS_DATA_DIR/accel.json`). The file may be
 * written after we start, so it is read on each use; without it guests run under TCG, which
 * always works, only slower. The fallback is logged once, not on every request.
 */
export function accelReader(dataDir: string, log: Logger): () => Promise<Accelerator> {
  let warned = false;
  return async () => {
    const path = join(dataDir, 'accel.json');
    try {
      return accelFile.parse(JSON.parse(await readFile(path, 'utf8'))).accelerator;
    } catch (err) {
      if (!warned) log.warn({ path, err: (err as Error).message }, 'no usable accel.json; guests run under tcg');
      warned = true;
      return 'tcg';
    }
  };
}

/** libvirt's domain type for an accelerator. */
export const domainTypeFor = (a: Accelerator): 'kvm' | 'qemu' => (a === 'kvm' ? 'kvm' : 'qemu');
