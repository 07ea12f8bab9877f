import { ProblemError, type Logger } from '@cps/common';
import type { ProvisionerSchemas } from '@cps/openapi';
import type { Checkpoint, Checkpoints } from './checkpoints.ts';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { domainNameOf, serialSocketDir } from './domainXml.ts';
import { readLiveXml } from './liveXml.ts';
import { checkImageIsTask, specForRestore } from './restoreSpec.ts';
import { readSaveImageDomain } from './saveImage.ts';
import { taskUuid } from './taskUuid.ts';
import type { EventBus } from './events.ts';
import type { GuestAgent } from './guestAgent.ts';
import type { Hypervisor } from './hypervisor.ts';
import { toVm, vncPassword, type Vm, type Vms, type VmSpec } from './vms.ts';

export type CheckpointInfo = ProvisionerSchemas['Checkpoint'];

export interface LifecycleDeps {
  hypervisor: Hypervisor;
  checkpoints: Checkpoints;
  events: EventBus;
  log: Logger;
  /** The data dir: a restore makes the log and socket folders a peer that never ran the task lacks. */
  dataDir: string;
  /** The guests' qemu-guest-agents; none: every guest is treated as having none. */
  guestAgent?: GuestAgent;
}

/** What the API shows of a checkpoint: not the spec or the VNC password kept with it. */
function shownCheckpoint(cp: Checkpoint): Omit<Checkpoint, 'specJson' | 'vncPassword'> {
  const { specJson: _spec, vncPassword: _pass, ...shown } = cp;
  return shown;
}

/**
 * Suspend, resume, shut down, checkpoint and restore a task's guest. Each is idempotent by task
 * id (asking for the state the guest is already in succeeds), runs in the same queue as create and
 * remove, and tells the watchdog beforehand what it is about to do.
 */
export class Lifecycle {
  constructor(
    private readonly vms: Vms,
    private readonly d: LifecycleDeps,
  ) {}

  suspend(taskId: string): Promise<Vm> {
    return this.vms.exclusive(async () => {
      const status = await this.mustOwn(taskId);
      if (status.state !== 'paused') {
        await this.intending(taskId, 'paused', () => this.d.hypervisor.suspend(status.name));
        this.d.events.emit({ kind: 'suspended', taskId, state: 'paused' });
        this.d.log.info({ taskId }, 'guest suspended');
      }
      return this.vms.get(taskId);
    });
  }

  resume(taskId: string): Promise<Vm> {
    return this.vms.exclusive(async () => {
      const status = await this.mustOwn(taskId);
      if (status.state === 'paused') {
        await this.intending(taskId, 'running', () => this.d.hypervisor.resume(status.name));
        this.d.events.emit({ kind: 'resumed', taskId, state: 'running' });
        this.d.log.info({ taskId }, 'guest resumed');
      }
      return this.vms.get(taskId);
    });
  }

  /** undefined when there is no guest (already off). */
  shutdown(taskId: string): Promise<Vm | undefined> {
    return this.vms.exclusive(async () => {
      const status = await this.vms.owned(taskId);
      if (!status) return undefined;
      // The agent shuts the guest down cleanly even where it ignores ACPI (no acpid); without an agent,
      // or when it does not take the request, the power button as before. Either way the caller
      // destroys the guest if it is still there after its grace (DELETE).
      const via = await this.intending(taskId, 'gone', async () => {
        if (status.state === 'running' && (await this.d.guestAgent?.shutdown(status.name))) return 'agent';
        await this.d.hypervisor.shutdown(status.name);
        return 'acpi';
      });
      this.d.log.info({ taskId, via }, 'guest asked to power off');
      return toVm(taskId, status);
    });
  }

  checkpoint(taskId: string, leaveRunning = false): Promise<CheckpointInfo> {
    return this.vms.exclusive(async () => {
      const status = await this.vms.owned(taskId);
      if (!status) {
        const done = await this.d.checkpoints.read(taskId);
        if (!done) throw new ProblemError('not-found', `task ${taskId} has neither a guest nor a checkpoint`);
        return { ...shownCheckpoint(done), running: false };
      }
      const live = readLiveXml(status.xml);
      // A guest made before its XML carried its spec and our UUID could not be restored from data:
      // refused before the save stops it, not found out after.
      if (live.task?.specJson === undefined || live.uuid?.toLowerCase() !== taskUuid(taskId)) {
        throw new ProblemError('checkpoint-rejected', `the guest of task ${taskId} was made before checkpoints were restorable anywhere: recreate it`);
      }
      const need = {
        vcpus: status.vcpus,
        memoryMiB: Math.floor(status.maxMemKiB / 1024),
        specJson: live.task.specJson,
        ...(live.vncPassword ? { vncPassword: live.vncPassword } : {}),
      };
      await this.vms.uncapMemory(taskId);
      // Frozen filesystems make the saved disks consistent with the saved memory at the moment of the
      // save; a guest without an agent (or one that does not answer) is saved as before.
      const frozen = status.state === 'running' ? await this.d.guestAgent?.freeze(status.name) : undefined;
      let cp;
      try {
        cp = await this.intending(taskId, 'gone', () =>
          this.d.checkpoints.write(taskId, need, (file) => this.d.hypervisor.save(status.name, file)),
        );
      } catch (err) {
        await this.vms.capMemory(taskId, need.memoryMiB);
        throw err;
      } finally {
        // A failed save leaves the guest running: it must not stay frozen. After a good save the guest
        // is gone and this finds nothing; the restore thaws it (restoreFrom).
        if (frozen !== undefined) await this.d.guestAgent?.thaw(status.name);
      }
      this.d.log.info({ taskId, sizeBytes: cp.sizeBytes, leaveRunning, frozen: frozen ?? 0 }, 'guest checkpointed');
      if (leaveRunning) {
        await this.restoreFrom(taskId, cp.path, await this.rebuiltXml(taskId, cp, undefined));
        await this.vms.capMemory(taskId, need.memoryMiB);
      }
      this.d.events.emit({ kind: 'checkpointed', taskId, detail: leaveRunning ? 'left running' : 'stopped' });
      return { ...shownCheckpoint(cp), running: leaveRunning };
    });
  }

  getCheckpoint(taskId: string): Promise<CheckpointInfo> {
    return this.vms.exclusive(async () => {
      const cp = await this.d.checkpoints.read(taskId);
      if (!cp) throw new ProblemError('not-found', `task ${taskId} has no checkpoint`);
      const status = await this.vms.owned(taskId).catch(() => undefined);
      return { ...shownCheckpoint(cp), running: status !== undefined };
    });
  }

  deleteCheckpoint(taskId: string): Promise<void> {
    return this.vms.exclusive(() => this.d.checkpoints.remove(taskId));
  }

  /**
   * Restores from the checkpoint on this peer's disk, which may have come from another peer: the XML
   * is rebuilt from the spec (`requested`, else the one kept with the checkpoint) with this peer's
   * paths and policy, and the image must say it holds this task's domain.
   */
  restore(taskId: string, requested?: VmSpec): Promise<{ vm: Vm; created: boolean }> {
    return this.vms.exclusive(async () => {
      const status = await this.vms.owned(taskId);
      if (status) return { vm: toVm(taskId, status), created: false };
      const cp = await this.d.checkpoints.read(taskId);
      if (!cp) throw new ProblemError('not-found', `task ${taskId} has no checkpoint to restore`);
      const spec = specForRestore(taskId, cp, requested, (s) => this.vms.asRun(s));
      const xml = await this.rebuiltXml(taskId, cp, spec);
      await this.vms.checkDiskChains(taskId, spec.disks);
      await this.vms.admit(spec);
      // A peer that never ran the task has none of its folders yet.
      await mkdir(join(this.d.dataDir, 'logs'), { recursive: true });
      await mkdir(serialSocketDir(this.d.dataDir), { recursive: true, mode: 0o700 });
      await this.restoreFrom(taskId, cp.path, xml);
      const restored = await this.vms.get(taskId).catch(() => undefined);
      if (restored) await this.vms.capMemory(taskId, spec.memoryMiB);
      const vm = restored && (await this.vms.get(taskId));
      if (!vm) {
        // The file held some other domain than this task's: say so rather than report a guest that is not there.
        throw new ProblemError('conflict', `the checkpoint of task ${taskId} did not restore domain ${domainNameOf(taskId)}`);
      }
      this.d.log.info({ taskId, from: requested ? 'request spec' : 'checkpoint spec' }, 'guest restored from rebuilt XML');
      return { vm, created: true };
    });
  }

  /** The XML to restore under, after checking that the image holds this task's domain. */
  private async rebuiltXml(taskId: string, cp: Checkpoint, spec: VmSpec | undefined): Promise<string> {
    const s = spec ?? specForRestore(taskId, cp, undefined, (x) => this.vms.asRun(x));
    const image = await readSaveImageDomain(cp.path);
    checkImageIsTask(taskId, image);
    // A checkpoint saved before guests had the agent channel restores without it (libvirt wants the same devices).
    const { xml } = await this.vms.domainXmlFor(taskId, s, cp.vncPassword ?? vncPassword(), { agentChannel: image.agentChannel });
    return xml;
  }

  // Marked "running" only once it runs: until then the guest is absent, and an absent guest marked
  // "running" would be reported as vanished by a watchdog look in between.
  private async restoreFrom(taskId: string, file: string, xml: string): Promise<void> {
    // QEMU restores paused and then runs: a start, not a pause for the watchdog to report.
    await this.vms.expectations.whileStarting(taskId, () => this.d.hypervisor.restore(file, xml));
    this.vms.expectations.mark(taskId, 'running');
    // A guest saved with frozen filesystems wakes up frozen; a thaw of filesystems that are not is harmless.
    const thawed = await this.d.guestAgent?.thaw(domainNameOf(taskId));
    if (thawed) this.d.log.info({ taskId, thawed }, 'guest filesystems thawed after restore');
  }

  private async mustOwn(taskId: string) {
    const status = await this.vms.owned(taskId);
    if (!status) throw new ProblemError('not-found', `no guest for task ${taskId}`);
    return status;
  }

  /** Marks what is about to happen for the watchdog, and takes the mark back if it did not. */
  private async intending<T>(taskId: string, what: 'running' | 'paused' | 'gone', fn: () => Promise<T>): Promise<T> {
    const before = this.vms.expectations.get(taskId);
    this.vms.expectations.mark(taskId, what);
    try {
      return await fn();
    } catch (err) {
      if (before) this.vms.expectations.mark(taskId, before);
      else this.vms.expectations.forget(taskId);
      throw err;
    }
  }
}
