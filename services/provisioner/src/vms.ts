import { createHash, randomInt } from 'node:crypto';
import { mkdir, open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ProblemError, type Logger } from '@cps/common';
import type { ProvisionerSchemas } from '@cps/openapi';
import { domainTypeFor, type Accelerator } from './accel.ts';
import { walkDiskChain, type ReadLayer } from './diskChain.ts';
import { qemuImgLayerReader } from './diskInfo.ts';
import { admit, diskAvailMiB, freeOf, lendable, NOTHING, type Resources, type ShareSettings } from './capacity.ts';
import { lendingOpen } from './sharePolicy.ts';
import { XMLParser } from 'fast-xml-parser';
import { buildDomainXml, checkTaskId, DOMAIN_PREFIX, domainNameOf, memoryHardLimitMiB, policyFor, serialSocketDir, serialSocketPath, type GuestNetwork } from './domainXml.ts';
import type { MemoryCapMode } from './memoryCap.ts';
import { Expectations } from './expectations.ts';
import type { DomainStatus, Hypervisor } from './hypervisor.ts';
import { readLiveXml } from './liveXml.ts';

export type Vm = ProvisionerSchemas['Vm'];
export type VmSpec = ProvisionerSchemas['VmSpec'];
export type Capacity = ProvisionerSchemas['Capacity'];

export interface VmsDeps {
  hypervisor: Hypervisor;
  /** Absolute; guests may only use files under it, and serial logs go to its logs/ folder. */
  dataDir: string;
  accelerator: () => Promise<Accelerator>;
  share: ShareSettings;
  log: Logger;
  /** Shared with the watchdog: what this provisioner asked of each guest. */
  expectations?: Expectations;
  /** The clock lending hours are read against (host local time). */
  now?: () => Date;
  /** True while the owner-first policy holds the guests suspended: nothing new is taken on. */
  ownerBusy?: () => boolean;
  /** Where the memory hard limit is set: in the XML (default) or on the running domain (memoryCap.ts). */
  memoryCap?: MemoryCapMode;
  /** The network of a guest whose spec names none (CPS_GUEST_NETWORK); default `user`. */
  guestNetwork?: GuestNetwork;
  /** Reads one layer of a disk's backing chain; default: qemu-img info with the format given. */
  readLayer?: ReadLayer;
}

const defaultLayerReader = qemuImgLayerReader();

/** The serial log is served from its tail: a guest that prints forever must not fill a response. */
export const SERIAL_TAIL_BYTES = 1024 * 1024;

/** A task's guest, as a lifecycle over libvirt: create (admitted, idempotent), inspect, list, remove. */
export class Vms {
  // Creates and removes run one at a time: two creates cannot both pass admission against the same
  // free capacity, and a DELETE cannot slip in between a create's look and its start.
  private queue: Promise<unknown> = Promise.resolve();
  readonly expectations: Expectations;

  /** Runs `fn` when every earlier create, remove and lifecycle operation has finished. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private serialized<T>(fn: () => Promise<T>): Promise<T> {
    return this.exclusive(fn);
  }

  constructor(private readonly d: VmsDeps) {
    this.expectations = d.expectations ?? new Expectations();
  }

  serialLogPath(taskId: string): string {
    return join(this.d.dataDir, 'logs', `${checkTaskId(taskId)}.serial`);
  }

  async create(taskId: string, spec: VmSpec): Promise<{ vm: Vm; created: boolean }> {
    checkTaskId(taskId);
    return this.serialized(() => this.createNow(taskId, spec));
  }

  private async createNow(taskId: string, spec: VmSpec): Promise<{ vm: Vm; created: boolean }> {
    const name = domainNameOf(taskId);
    spec = withNetwork(spec, this.d.guestNetwork ?? 'user');
    const digest = specDigest(spec);
    const existing = await this.d.hypervisor.inspect(name);
    if (existing) return { vm: this.sameOrConflict(taskId, existing, digest), created: false };

    const { xml, accel } = await this.domainXmlFor(taskId, spec, vncPassword());
    await this.checkDiskChains(taskId, spec.disks);
    await this.admit(spec);
    await mkdir(join(this.d.dataDir, 'logs'), { recursive: true });
    // Root's alone: whoever can connect to a serial socket can type into the guest's shell.
    await mkdir(serialSocketDir(this.d.dataDir), { recursive: true, mode: 0o700 });
    // The log is appended to (so a restored guest goes on after what it wrote); a new boot starts it afresh.
    await rm(this.serialLogPath(taskId), { force: true });
    try {
      await this.expectations.whileStarting(taskId, () => this.d.hypervisor.create(xml));
    } catch (err) {
      // Someone made it between our look and our create (another provisioner on this libvirt).
      const now = await this.d.hypervisor.inspect(name);
      if (now) return { vm: this.sameOrConflict(taskId, now, digest), created: false };
      throw err;
    }
    await this.capMemory(taskId, spec.memoryMiB);
    this.d.log.info({ taskId, domain: name, vcpus: spec.vcpus, memoryMiB: spec.memoryMiB, network: spec.network, accel }, 'guest started');
    const made = await this.d.hypervisor.inspect(name);
    if (!made) throw new ProblemError('hypervisor-error', `domain ${name} vanished right after it started`);
    return { vm: toVm(taskId, made), created: true };
  }

  /** The spec as this peer runs it (its default network filled in). */
  asRun(spec: VmSpec): VmSpec {
    return withNetwork(spec, this.d.guestNetwork ?? 'user');
  }

  /**
   * The domain XML of a task's guest on this peer, from its spec alone (as run: see withNetwork):
   * this peer's paths for its log and socket, every path held to this peer's policy. Create uses it,
   * and so does restore, which never runs the XML inside a save image.
   */
  async domainXmlFor(taskId: string, spec: VmSpec, vncPass: string, o: { agentChannel?: boolean } = {}): Promise<{ xml: string; accel: Accelerator }> {
    const accel = await this.d.accelerator();
    const xml = buildDomainXml(
      {
        taskId,
        displayName: spec.name,
        type: domainTypeFor(accel),
        vcpus: spec.vcpus,
        memoryMiB: spec.memoryMiB,
        disks: spec.disks,
        boot: spec.boot,
        serialLog: this.serialLogPath(taskId),
        serialSocket: serialSocketPath(this.d.dataDir, taskId),
        specDigest: specDigest(spec),
        memtune: (this.d.memoryCap ?? 'xml') === 'xml',
        vncPassword: vncPass,
        checkpointEverySec: spec.checkpointEverySec,
        placedBy: spec.placedBy,
        network: spec.network,
        specJson: JSON.stringify(spec),
        ...(o.agentChannel === false ? { agentChannel: false } : {}),
      },
      policyFor(this.d.dataDir, taskId),
    );
    return { xml, accel };
  }

  /**
   * Every disk's backing chain must lie in what storage built for this task (its disk folder and
   * the image store), so QEMU never opens a host file because a user's qcow2 names it. Throws
   * `disk-rejected`; public so a restore can hold a save image's disks to the same rule.
   */
  async checkDiskChains(taskId: string, disks: VmSpec['disks']): Promise<void> {
    const roots = policyFor(this.d.dataDir, taskId).readRoots;
    const read = this.d.readLayer ?? defaultLayerReader;
    for (const [i, disk] of disks.entries()) {
      try {
        await walkDiskChain({ path: disk.path, format: disk.format }, roots, read, `disks[${i}]`);
      } catch (err) {
        if (err instanceof ProblemError) this.d.log.warn({ taskId, disk: disk.path, problem: err.problemType, detail: err.message }, 'disk refused');
        throw err;
      }
    }
  }

  private sameOrConflict(taskId: string, status: DomainStatus, digest: string): Vm {
    const facts = readLiveXml(status.xml);
    if (facts.task?.id !== taskId) {
      throw new ProblemError('conflict', `domain ${status.name} exists but was not made by a CPS provisioner`);
    }
    if (facts.task.spec !== digest) {
      throw new ProblemError('conflict', `task ${taskId} already has a guest with a different spec; delete it first`);
    }
    return toVm(taskId, status, facts);
  }

  async get(taskId: string): Promise<Vm> {
    const status = await this.d.hypervisor.inspect(domainNameOf(taskId));
    const facts = status && readLiveXml(status.xml);
    if (!status || facts?.task?.id !== taskId) throw new ProblemError('not-found', `no guest for task ${taskId}`);
    return toVm(taskId, status, facts);
  }

  /** The task's domain if a CPS provisioner made it; undefined when none; `conflict` for someone else's. */
  async owned(taskId: string): Promise<DomainStatus | undefined> {
    const status = await this.d.hypervisor.inspect(domainNameOf(taskId));
    if (!status) return undefined;
    if (readLiveXml(status.xml).task?.id !== taskId) {
      throw new ProblemError('conflict', `domain ${status.name} was not made by a CPS provisioner; not touching it`);
    }
    return status;
  }

  /** Every guest a CPS provisioner made on this libvirt (told by our metadata, not just the name). */
  async list(): Promise<Vm[]> {
    const names = (await this.d.hypervisor.listNames()).filter((n) => n.startsWith(DOMAIN_PREFIX)).sort();
    const vms: Vm[] = [];
    for (const name of names) {
      const status = await this.d.hypervisor.inspect(name);
      if (!status) continue;
      const facts = readLiveXml(status.xml);
      if (facts.task && `${DOMAIN_PREFIX}${facts.task.id}` === name) vms.push(toVm(facts.task.id, status, facts));
    }
    return vms;
  }

  /** Idempotent: a task with no guest is already in the wanted state. Never touches others' domains. */
  async remove(taskId: string): Promise<void> {
    const name = domainNameOf(taskId);
    return this.serialized(() => this.removeNow(taskId, name));
  }

  private async removeNow(taskId: string, name: string): Promise<void> {
    const status = await this.d.hypervisor.inspect(name);
    if (!status) return;
    if (readLiveXml(status.xml).task?.id !== taskId) {
      throw new ProblemError('conflict', `domain ${name} was not made by a CPS provisioner; not touching it`);
    }
    this.expectations.mark(taskId, 'gone');
    if (await this.d.hypervisor.remove(name)) this.d.log.info({ taskId, domain: name }, 'guest destroyed');
  }

  /** The tail of the guest's serial console; the log outlives the guest until the task id is reused. */
  async serial(taskId: string): Promise<string> {
    const path = this.serialLogPath(taskId);
    let fh;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // virtlogd writes the log as root, mode 0600: a provisioner not running as root cannot read it.
      if (code !== 'ENOENT') throw new ProblemError('internal', `cannot read the serial log of task ${taskId} (${code})`);
      await this.get(taskId); // 404 when there is no guest either
      return '';
    }
    try {
      const { size } = await fh.stat();
      const len = Math.min(size, SERIAL_TAIL_BYTES);
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, size - len);
      return buf.toString('utf8');
    } finally {
      await fh.close();
    }
  }

  /**
   * In 'live' mode, sets the running guest's memory hard limit; a guest that cannot be held to its
   * share does not run. A no-op where the limit is in the XML.
   */
  async capMemory(taskId: string, memoryMiB: number): Promise<void> {
    if (this.d.memoryCap !== 'live') return;
    const name = domainNameOf(taskId);
    try {
      await this.d.hypervisor.limitMemory(name, memoryHardLimitMiB(memoryMiB));
    } catch (err) {
      this.expectations.mark(taskId, 'gone');
      await this.d.hypervisor.remove(name).catch(() => undefined);
      throw err;
    }
  }

  /** In 'live' mode, lifts the limit before a save: a save image carrying it could not be restored here. */
  async uncapMemory(taskId: string): Promise<void> {
    if (this.d.memoryCap === 'live') await this.d.hypervisor.limitMemory(domainNameOf(taskId), undefined);
  }

  /** Throws `insufficient-capacity` when `want` does not fit what is free now, or when nothing is lent now. */
  async admit(want: { vcpus: number; memoryMiB: number }): Promise<void> {
    const cap = await this.capacity();
    admit(want, cap.free, this.closedBecause(cap.lending.open));
  }

  private closedBecause(open: boolean): string | undefined {
    if (this.d.ownerBusy?.()) return 'its owner is using it';
    if (!open) return `outside the lending hours (${(this.d.share.hours ?? []).join(', ')})`;
    return undefined;
  }

  async capacity(): Promise<Capacity & { total: Resources; free: Resources; lending: { open: boolean } }> {
    const [node, disk, vms, accelerator] = await Promise.all([
      this.d.hypervisor.nodeInfo(),
      diskAvailMiB(this.d.dataDir),
      this.list(),
      this.d.accelerator(),
    ]);
    const active = vms.filter((v) => v.state !== 'shutoff' && v.state !== 'crashed');
    const used = {
      vcpus: active.reduce((s, v) => s + v.vcpus, 0),
      memoryMiB: active.reduce((s, v) => s + v.memoryMiB, 0),
    };
    const total = lendable(node, disk, this.d.share);
    const hours = [...(this.d.share.hours ?? [])];
    const ownerBusy = this.d.ownerBusy?.() ?? false;
    const open = lendingOpen(hours, (this.d.now ?? (() => new Date()))()) && !ownerBusy;
    // Closed: zero free, so discovery does not ACK a task this peer would refuse.
    const free = open ? freeOf(total, used, disk) : NOTHING;
    return { total, free, accelerator, arch: node.arch, guests: active.length, lending: { open, hours, ownerBusy } };
  }
}

export function toVm(taskId: string, status: DomainStatus, facts = readLiveXml(status.xml)): Vm {
  return {
    taskId,
    domain: status.name,
    name: facts.title ?? '',
    state: status.state,
    vcpus: status.vcpus,
    memoryMiB: Math.floor(status.maxMemKiB / 1024),
    accelerator: facts.type === 'kvm' ? 'kvm' : 'tcg',
    ...(facts.task?.checkpointEverySec ? { checkpointEverySec: facts.task.checkpointEverySec } : {}),
    ...(facts.task?.placedBy ? { placedBy: facts.task.placedBy } : {}),
    // Port 0: libvirt has not given the guest a VNC port (yet); the listen address is always loopback.
    console: {
      vnc: { host: '127.0.0.1', port: facts.vncPort ?? 0, ...(facts.vncPassword ? { password: facts.vncPassword } : {}) },
      ...(facts.serialPty ? { serialPty: facts.serialPty } : {}),
      ...serialSocketOf(status.xml),
    },
  };
}

const serialParser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false, parseAttributeValue: false, isArray: (name) => name === 'serial' });

/** The unix socket QEMU listens on for serial port 0, read from the live XML (guests made before have a pty). */
export function serialSocketOf(xml: string): { serialSocket?: string } {
  const domain = (serialParser.parse(xml) as { domain?: { devices?: { serial?: unknown[] } } }).domain;
  for (const s of domain?.devices?.serial ?? []) {
    const serial = s as { '@type'?: unknown; source?: { '@mode'?: unknown; '@path'?: unknown } };
    const path = serial.source?.['@path'];
    if (serial['@type'] === 'unix' && serial.source?.['@mode'] === 'bind' && typeof path === 'string' && path.startsWith('/')) return { serialSocket: path };
  }
  return {};
}

const PASSWORD_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** 8 random characters (VNC uses no more), ~47 bits: it keeps other local users off the guest's screen. */
export function vncPassword(): string {
  return Array.from({ length: 8 }, () => PASSWORD_CHARS[randomInt(PASSWORD_CHARS.length)]).join('');
}

/** The spec as this peer runs it: a guest whose spec names no network gets the peer's default. */
export function withNetwork(spec: VmSpec, guestNetwork: GuestNetwork): VmSpec {
  return { ...spec, network: spec.network ?? guestNetwork };
}

/**
 * A stable digest of the request as run (see withNetwork), so "PUT the same spec again" can be told
 * from "PUT a different one" whether the network was named or defaulted. `none` digests as no field
 * at all: the guests made before the API had networks had none, and their digests still match.
 */
export function specDigest(spec: VmSpec): string {
  // Who placed it is not what runs: a repeated PUT from the same task is the same spec either way.
  const { network, placedBy: _placedBy, ...rest } = spec;
  return createHash('sha256').update(canonicalJson(network === 'none' ? rest : { ...rest, network })).digest('hex');
}

function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonicalJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v);
}
