import { join } from 'node:path';
import { nodeIdPattern, ProblemError, serialSocketDir } from '@cps/common';
import { AGENT_CHANNEL } from './guestAgent.ts';
import { checkAllowedPath } from './paths.ts';
import { taskMac, taskUuid } from './taskUuid.ts';
import { el, renderXml, type XmlElement } from './xml.ts';

/** The namespace of the metadata element that lets a restarted provisioner adopt its domains. */
export const CPS_NS = 'urn:cps:task:1';
export const DOMAIN_PREFIX = 'cps-';
export const TASK_ID = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** A node id, as discovery's contract spells it (NodeId). */
export const NODE_ID = nodeIdPattern;
export const MAX_DISPLAY_NAME = 128;
export const MAX_CMDLINE = 2048;
export const MAX_DISKS = 8;

/**
 * The caps that hold a guest to its share. Each vCPU thread may run at most one core's worth
 * (quota = period), QEMU's own emulator thread at most half a core, and under contention a guest
 * weighs a quarter of an ordinary process per vCPU (cgroup v1 cpu.shares, default 1024), so the
 * owner's work wins. Memory: the guest's RAM plus room for QEMU itself, past which the kernel
 * reclaims (and at worst kills) the guest, never the owner's processes.
 */
export const CPU_PERIOD_US = 100_000;
export const EMULATOR_QUOTA_US = 50_000;
export const CPU_SHARES_PER_VCPU = 256;
export const QEMU_OVERHEAD_MIB = 384;
/**
 * Under TCG, QEMU's translated-code cache defaults to 1 GiB, which a booting Debian fills: a
 * 512 MiB guest reached 914 MiB and the memory cgroup killed it. Held to this much, inside the
 * overhead above.
 */
export const TCG_TB_CACHE_MIB = 128;
export const memoryHardLimitMiB = (memoryMiB: number): number => memoryMiB + QEMU_OVERHEAD_MIB;

export interface DiskSpec {
  path: string;
  format: 'qcow2' | 'raw';
  device: 'disk' | 'cdrom';
  readonly?: boolean;
}

/** `user`: one virtio NIC on QEMU's user-mode NAT (slirp), on no bridge; `none`: no NIC. */
export const GUEST_NETWORKS = ['user', 'none'] as const;
export type GuestNetwork = (typeof GUEST_NETWORKS)[number];

export type BootSpec =
  | { kind: 'kernel'; kernel: string; initrd: string; cmdline?: string }
  | { kind: 'disk' }
  | { kind: 'cdrom' };

export interface DomainSpec {
  taskId: string;
  /** The user's name for the machine: shown in <title>, never an identifier. */
  displayName: string;
  type: 'kvm' | 'qemu';
  vcpus: number;
  memoryMiB: number;
  disks: readonly DiskSpec[];
  boot: BootSpec;
  /** Where QEMU's serial console is copied (virtlogd writes it). */
  serialLog: string;
  /**
   * The unix socket QEMU listens on for the serial port (mode=bind), so this node's gateway can read
   * and write it live; virtlogd still copies all output to `serialLog`. None: a pty, as before.
   */
  serialSocket?: string;
  /** NAT user-mode networking (QEMU's slirp), reachable from the guest only outwards; none when omitted. */
  network?: GuestNetwork;
  /** A digest of the request this domain was made from, so a repeated PUT can tell "same" from "different". */
  specDigest?: string;
  /** Periodic checkpoints (seconds), kept in the metadata so a restarted provisioner goes on with them. */
  checkpointEverySec?: number;
  /** The node id of the coordinator that placed the guest, kept so a restarted coordinator finds its own. */
  placedBy?: string;
  /** The VNC password (VNC allows 8 characters); none: VNC without a password. */
  vncPassword?: string;
  /** Write the memory hard limit into the XML (default); false where it is set live or not at all (memoryCap.ts). */
  memtune?: boolean;
  /** The request this domain was made from (JSON), kept in the metadata so a checkpoint can be restored from it. */
  specJson?: string;
  /** The guest agent's channel (default); false only to restore a checkpoint saved before guests had it. */
  agentChannel?: boolean;
}

/** Which folders a guest's files may come from (each path must lie inside one of them). */
export interface DomainPolicy {
  /** What it may read: kernel, initrd, CD-ROMs, read-only disks. */
  readRoots: readonly string[];
  /** What it may write: its own disks, never another task's, never a shared image. */
  writeRoots: readonly string[];
  /** Where its serial log may be written. */
  logRoots: readonly string[];
  /** Where its serial socket may be made. */
  socketRoots: readonly string[];
}

/** The data dir's layout: images/ are shared and read-only, disks/<task>/ belong to one task. */
export function policyFor(dataDir: string, taskId: string): DomainPolicy {
  const own = join(dataDir, 'disks', checkTaskId(taskId));
  return { readRoots: [join(dataDir, 'images'), own], writeRoots: [own], logRoots: [join(dataDir, 'logs')], socketRoots: [serialSocketDir(dataDir)] };
}

/** The folder of the guests' serial sockets (the gateway holds the same path: its CPS_DATA_DIR/serial). */
export { serialSocketDir };

/** A unix socket path holds at most 107 bytes (sun_path is 108 with its NUL). */
export const MAX_SOCKET_PATH = 107;

export const serialSocketPath = (dataDir: string, taskId: string): string => join(serialSocketDir(dataDir), `${checkTaskId(taskId)}.sock`);

export const domainNameOf = (taskId: string): string => `${DOMAIN_PREFIX}${checkTaskId(taskId)}`;

export function checkTaskId(taskId: string): string {
  if (typeof taskId !== 'string' || !TASK_ID.test(taskId)) {
    throw invalid('task id must match ^[a-z0-9][a-z0-9-]{0,62}$');
  }
  return taskId;
}

/** Builds the libvirt domain XML for one task's guest; every outside value is validated, then escaped. */
export function buildDomainXml(spec: DomainSpec, policy: DomainPolicy): string {
  const name = domainNameOf(spec.taskId);
  const title = checkDisplayName(spec.displayName);
  checkInt(spec.vcpus, 1, 64, 'vcpus');
  checkInt(spec.memoryMiB, 32, 1_048_576, 'memoryMiB');
  if (spec.type !== 'kvm' && spec.type !== 'qemu') throw invalid('domain type must be kvm or qemu');
  if (spec.specDigest !== undefined && !/^[a-f0-9]{16,128}$/.test(spec.specDigest)) throw invalid('spec digest must be hex');
  if (!Array.isArray(spec.disks) || spec.disks.length > MAX_DISKS) throw invalid(`at most ${MAX_DISKS} disks`);
  const serialLog = checkAllowedPath(spec.serialLog, policy.logRoots, 'serial log');
  const serialSocket = spec.serialSocket === undefined ? undefined : checkAllowedPath(spec.serialSocket, policy.socketRoots, 'serial socket');
  if (serialSocket !== undefined && Buffer.byteLength(serialSocket) > MAX_SOCKET_PATH) {
    throw invalid(`serial socket path is longer than a unix socket allows (${MAX_SOCKET_PATH} bytes): use a shorter data dir`);
  }
  if (spec.placedBy !== undefined && !NODE_ID.test(spec.placedBy)) throw invalid('placedBy must be a node id');
  if (spec.checkpointEverySec !== undefined) checkInt(spec.checkpointEverySec, 30, 604_800, 'checkpointEverySec');
  if (spec.vncPassword !== undefined && !/^[A-Za-z0-9]{8}$/.test(spec.vncPassword)) throw invalid('VNC password must be 8 letters or digits');
  if (spec.network !== undefined && !GUEST_NETWORKS.includes(spec.network)) throw invalid('network must be user or none');

  return renderXml(
    el(
      'domain',
      { type: spec.type },
      el('name', {}, name),
      // Derived from the task id: a checkpoint restores under XML rebuilt anywhere (taskUuid.ts).
      el('uuid', {}, taskUuid(spec.taskId)),
      el('title', {}, title),
      el('description', {}, `CPS guest of task ${spec.taskId}`),
      el(
        'metadata',
        {},
        el(
          'cps:task',
          { 'xmlns:cps': CPS_NS, id: spec.taskId, spec: spec.specDigest, checkpointEverySec: spec.checkpointEverySec, placedBy: spec.placedBy },
          spec.specJson !== undefined && el('cps:spec', {}, spec.specJson),
        ),
      ),
      el('memory', { unit: 'MiB' }, String(spec.memoryMiB)),
      el('currentMemory', { unit: 'MiB' }, String(spec.memoryMiB)),
      el('vcpu', { placement: 'static' }, String(spec.vcpus)),
      el(
        'cputune',
        {},
        el('shares', {}, String(CPU_SHARES_PER_VCPU * spec.vcpus)),
        el('period', {}, String(CPU_PERIOD_US)),
        el('quota', {}, String(CPU_PERIOD_US)),
        el('emulator_period', {}, String(CPU_PERIOD_US)),
        el('emulator_quota', {}, String(EMULATOR_QUOTA_US)),
      ),
      spec.memtune !== false && el('memtune', {}, el('hard_limit', { unit: 'MiB' }, String(memoryHardLimitMiB(spec.memoryMiB)))),
      osElement(spec.boot, policy),
      el('features', {}, el('acpi'), el('apic'), spec.type === 'qemu' && el('tcg', {}, el('tb-cache', { unit: 'MiB' }, String(TCG_TB_CACHE_MIB)))),
      el('clock', { offset: 'utc' }),
      el('on_poweroff', {}, 'destroy'),
      el('on_reboot', {}, 'restart'),
      el('on_crash', {}, 'destroy'),
      el(
        'devices',
        {},
        ...diskElements(spec.disks, policy),
        spec.network === 'user' && el('interface', { type: 'user' }, el('mac', { address: taskMac(spec.taskId) }), el('model', { type: 'virtio' })),
        ...serialElements(serialLog, serialSocket),
        // The qemu-guest-agent's port (guestAgent.ts). On every guest: where no agent runs it is an idle
        // virtio-serial port; libvirt picks the host-side socket and talks to it, we never open it.
        spec.agentChannel !== false && el('channel', { type: 'unix' }, el('target', { type: 'virtio', name: AGENT_CHANNEL })),
        // Loopback only: the vnc-gateway on this peer is the one way in.
        el(
          'graphics',
          { type: 'vnc', port: -1, autoport: 'yes', listen: '127.0.0.1', passwd: spec.vncPassword },
          el('listen', { type: 'address', address: '127.0.0.1' }),
        ),
        // Plain VGA shows the kernel's text console (console=tty0) without any guest driver.
        el('video', {}, el('model', { type: 'vga' })),
        el('memballoon', { model: 'none' }),
      ),
    ),
  );
}

/**
 * The serial port. With a socket, QEMU listens on it (libvirt makes it and hands QEMU the fd) and
 * drops output while nobody is connected, but the log gets every byte either way; libvirt adds the
 * matching <console> itself.
 */
function serialElements(serialLog: string, serialSocket: string | undefined): XmlElement[] {
  const log = el('log', { file: serialLog, append: 'on' });
  if (serialSocket === undefined) {
    return [el('serial', { type: 'pty' }, log, el('target', { port: 0 })), el('console', { type: 'pty' }, el('target', { type: 'serial', port: 0 }))];
  }
  return [el('serial', { type: 'unix' }, el('source', { mode: 'bind', path: serialSocket }), log, el('target', { port: 0 }))];
}

function osElement(boot: BootSpec, policy: DomainPolicy): XmlElement {
  const type = el('type', {}, 'hvm');
  switch (boot?.kind) {
    case 'kernel': {
      const kernel = checkAllowedPath(boot.kernel, policy.readRoots, 'kernel');
      const initrd = checkAllowedPath(boot.initrd, policy.readRoots, 'initrd');
      const cmdline = boot.cmdline ?? '';
      if (typeof cmdline !== 'string' || cmdline.length > MAX_CMDLINE) throw invalid(`cmdline longer than ${MAX_CMDLINE}`);
      checkNoControls(cmdline, 'cmdline');
      return el('os', {}, type, el('kernel', {}, kernel), el('initrd', {}, initrd), cmdline !== '' && el('cmdline', {}, cmdline));
    }
    case 'disk':
      return el('os', {}, type, el('boot', { dev: 'hd' }));
    case 'cdrom':
      return el('os', {}, type, el('boot', { dev: 'cdrom' }));
    default:
      throw invalid('boot.kind must be kernel, disk or cdrom');
  }
}

function diskElements(disks: readonly DiskSpec[], policy: DomainPolicy): XmlElement[] {
  let virtio = 0;
  let sata = 0;
  return disks.map((d, i) => {
    if (d.format !== 'qcow2' && d.format !== 'raw') throw invalid(`disks[${i}].format must be qcow2 or raw`);
    if (d.device !== 'disk' && d.device !== 'cdrom') throw invalid(`disks[${i}].device must be disk or cdrom`);
    const cdrom = d.device === 'cdrom';
    const writable = !cdrom && d.readonly !== true;
    const path = checkAllowedPath(d.path, writable ? policy.writeRoots : policy.readRoots, `disks[${i}].path`);
    // CD-ROMs cannot be virtio; SATA works on every machine type QEMU offers here.
    const target = cdrom ? { dev: `sd${letter(sata++)}`, bus: 'sata' } : { dev: `vd${letter(virtio++)}`, bus: 'virtio' };
    return el(
      'disk',
      { type: 'file', device: d.device },
      el('driver', { name: 'qemu', type: d.format }),
      el('source', { file: path }),
      el('target', target),
      !writable && el('readonly'),
    );
  });
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const letter = (n: number): string => String.fromCharCode(97 + n);

function checkDisplayName(name: string): string {
  if (typeof name !== 'string') throw invalid('name must be a string');
  if (LONE_SURROGATE.test(name)) throw invalid('name is not well-formed Unicode');
  const len = [...name].length;
  if (len < 1 || len > MAX_DISPLAY_NAME) throw invalid(`name must be 1 to ${MAX_DISPLAY_NAME} characters`);
  checkNoControls(name, 'name');
  return name;
}

// C0, DEL, C1, line/paragraph separators: nothing a title or a kernel command line should hold.
function checkNoControls(value: string, what: string): void {
  if (/[\u0000-\u001F\u007F-\u009F\u2028\u2029]/.test(value)) throw invalid(`${what} contains a control character`);
}

function checkInt(n: number, min: number, max: number, what: string): void {
  if (!Number.isInteger(n) || n < min || n > max) throw invalid(`${what} must be an integer from ${min} to ${max}`);
}

const invalid = (detail: string) => new ProblemError('validation-failed', detail);
