import { Contract, ProblemError } from '@cps/common';
import { specFiles } from '@cps/openapi';
import type { Checkpoint } from './checkpoints.ts';
import { domainNameOf } from './domainXml.ts';
import type { SaveImageDomain } from './saveImage.ts';
import { taskUuid } from './taskUuid.ts';
import { specDigest, type VmSpec } from './vms.ts';

const contract = Contract.fromFile(specFiles.provisioner);

/**
 * The spec a checkpoint is restored from: the request's when it carries one, else the one kept
 * with the checkpoint. Either is checked against the contract like a PUT (a copied checkpoint.json
 * is outside data); a kept spec that does not pass means the checkpoint was tampered with, and it is
 * refused whatever the request says. Both present, they must describe the same machine (specShape), or the request
 * would restore one task's memory under another machine's devices; the paths may differ, since on
 * another peer the task's files lie in that peer's folders. `asRun` fills in this peer's defaults.
 */
export function specForRestore(taskId: string, cp: Checkpoint, requested: VmSpec | undefined, asRun: (s: VmSpec) => VmSpec): VmSpec {
  let kept: VmSpec | undefined;
  if (cp.specJson !== undefined) {
    let value: unknown;
    try {
      value = JSON.parse(cp.specJson);
    } catch {
      throw rejected(`the checkpoint of task ${taskId} keeps a spec that is not JSON`);
    }
    try {
      kept = asRun(contract.check<VmSpec>('VmSpec', value, 'checkpoint spec'));
    } catch (err) {
      throw rejected(`the checkpoint of task ${taskId} keeps a spec the contract refuses: ${(err as Error).message}`);
    }
  }
  const asked = requested && asRun(requested);
  if (asked && kept && specShape(asked) !== specShape(kept)) {
    throw rejected(`the checkpoint of task ${taskId} was taken of another spec than the one sent`);
  }
  const spec = asked ?? kept;
  if (!spec) throw rejected(`the checkpoint of task ${taskId} keeps no spec (taken before restores were rebuilt from data): send the spec`);
  return spec;
}

/** The spec's digest without its file paths: what a guest's memory was saved against. */
export function specShape(spec: VmSpec): string {
  const disks = spec.disks.map((d) => ({ ...d, path: '' }));
  const boot = spec.boot.kind === 'kernel' ? { ...spec.boot, kernel: '', initrd: '' } : spec.boot;
  return specDigest({ ...spec, disks, boot });
}

/** A save image must say it holds this task's domain (its name and our UUID), else it is not restored. */
export function checkImageIsTask(taskId: string, image: SaveImageDomain): void {
  const name = domainNameOf(taskId);
  const uuid = taskUuid(taskId);
  if (image.name !== name || image.uuid !== uuid) {
    throw rejected(`the save image holds domain ${image.name ?? '?'} (${image.uuid ?? 'no uuid'}), not ${name} (${uuid})`);
  }
}

const rejected = (detail: string) => new ProblemError('checkpoint-rejected', detail);
