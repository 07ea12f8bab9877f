import type { ProvisionerSchemas, StorageSchemas } from '@cps/openapi';
import type { Task } from './store.ts';

type TaskDisksRequest = StorageSchemas['TaskDisksRequest'];
type TaskDisks = StorageSchemas['TaskDisks'];
type VmSpec = ProvisionerSchemas['VmSpec'];

/**
 * What the task's host's storage is asked to build, from the task's request: the image and disk
 * size, the cloud-init seed, the kept copy, and the bootstrap disk by the id that storage gave the
 * archive (`bootstrapOnNode`, after it was uploaded there).
 */
export function disksRequest(request: Task['request'], bootstrapOnNode?: string): TaskDisksRequest {
  return {
    image: request.image,
    diskMiB: request.diskMiB,
    ...(bootstrapOnNode === undefined ? {} : { bootstrap: bootstrapOnNode }),
    ...(request.userData === undefined ? {} : { cloudInit: { userData: request.userData } }),
    ...(request.keepCopy ? { keepCopy: true } : {}),
  };
}

/**
 * The guest the provisioner runs: the task's size and options, and the disks and boot exactly as
 * storage answered (the two contracts share DiskSpec and BootSpec, so nothing is copied field by
 * field and the provisioner still refuses anything it does not know). The same spec again (a
 * restart) makes the same guest.
 */
export function vmSpec(task: Pick<Task, 'name' | 'request'>, disks: Pick<TaskDisks, 'disks' | 'boot'>, placedBy?: string): VmSpec {
  const r = task.request;
  return {
    name: task.name,
    vcpus: r.vcpus,
    memoryMiB: r.memoryMiB,
    disks: disks.disks,
    boot: disks.boot,
    // The contract counts minutes; the provisioner seconds (its floor of 30 s is below one minute).
    ...(r.checkpointEveryMin === undefined ? {} : { checkpointEverySec: r.checkpointEveryMin * 60 }),
    ...(r.network === undefined ? {} : { network: r.network }),
    ...(placedBy === undefined ? {} : { placedBy }),
  };
}
