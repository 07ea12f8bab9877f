import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as libvirt from '@unraid/libvirt';
import { ProblemError } from '@cps/common';

export type DomainState = 'running' | 'paused' | 'shutoff' | 'crashed' | 'pmsuspended' | 'blocked' | 'shutdown' | 'nostate';

export interface DomainStatus {
  name: string;
  state: DomainState;
  vcpus: number;
  /** The domain's maximum memory (what it may use), in KiB as libvirt reports it. */
  maxMemKiB: number;
  /** The live XML (graphics ports and ptys are only known here), with secrets (the VNC password). */
  xml: string;
}

export interface NodeInfo {
  cpus: number;
  memoryKiB: number;
  arch: string;
}

/**
 * What the provisioner needs from libvirt, and nothing more, so lifecycle logic is tested against
 * libvirt's `test:///default` driver and the same code runs QEMU. Domains are addressed by name.
 */
export interface Hypervisor {
  readonly uri: string;
  /** Throws when libvirt cannot be reached. */
  ping(): Promise<void>;
  nodeInfo(): Promise<NodeInfo>;
  /** Creates and starts a transient domain. */
  create(xml: string): Promise<void>;
  /** undefined when no such domain exists. */
  inspect(name: string): Promise<DomainStatus | undefined>;
  listNames(): Promise<string[]>;
  /** Stops the domain at once and forgets it; false when it did not exist. */
  remove(name: string): Promise<boolean>;
  /** Pauses the vCPUs; false when there is no such domain. */
  suspend(name: string): Promise<boolean>;
  resume(name: string): Promise<boolean>;
  /** Presses the ACPI power button; false when there is no such domain. */
  shutdown(name: string): Promise<boolean>;
  /** libvirt save: writes the whole state to `file` and stops the domain. */
  save(name: string, file: string): Promise<void>;
  /**
   * Starts the domain saved in `file` where it stopped, under `xml` (rebuilt from the task's spec),
   * never under the XML inside the file. libvirt still checks that `xml` is ABI-compatible with
   * what was saved (same devices) and has the same name and UUID.
   */
  restore(file: string, xml: string): Promise<void>;
  /** Sets (or with undefined lifts) the running domain's memory hard limit, a cgroup setting only. */
  limitMemory(name: string, mib: number | undefined): Promise<void>;
  /** Why the domain is in its state, e.g. "paused (I/O error)"; optional, best effort. */
  stateReason?(name: string): Promise<string | undefined>;
  close(): Promise<void>;
}

const STATES: Record<number, DomainState> = {
  [libvirt.DomainState.NOSTATE]: 'nostate',
  [libvirt.DomainState.RUNNING]: 'running',
  [libvirt.DomainState.BLOCKED]: 'blocked',
  [libvirt.DomainState.PAUSED]: 'paused',
  [libvirt.DomainState.SHUTDOWN]: 'shutdown',
  [libvirt.DomainState.SHUTOFF]: 'shutoff',
  [libvirt.DomainState.CRASHED]: 'crashed',
  [libvirt.DomainState.PMSUSPENDED]: 'pmsuspended',
};

const run = promisify(execFile);

/** Runs virsh with these arguments (the URI is among them); throws with its stderr when it fails. */
export type VirshRunner = (args: string[]) => Promise<{ stdout: string }>;

const runVirsh: VirshRunner = async (args) => {
  try {
    return await run('virsh', args, { timeout: 120_000, maxBuffer: 4 * 1024 * 1024 });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr?.trim();
    throw stderr ? new Error(stderr) : err;
  }
};

// The binding drops libvirt's error codes (all -1), so "no such domain" is told by its message.
const NOT_FOUND = /domain not found|no domain with matching/i;
const isNotFound = (err: unknown): boolean => NOT_FOUND.test(String((err as Error)?.message ?? err));
// Also not a failure: the domain stopped or vanished between our two calls.
const NOT_RUNNING = /not running|domain is not running|is not active/i;

/** Connects now; throws a `hypervisor-error` when libvirt does not answer. */
export async function connectLibvirt(uri: string, virsh?: VirshRunner): Promise<Hypervisor> {
  return LibvirtHypervisor.open(uri, openBinding(uri), virsh);
}

/**
 * Connects on first use, so the service can start before libvirtd does: /healthz answers 503 and
 * requests fail with `hypervisor-error` until libvirt answers.
 */
export function lazyLibvirt(uri: string, virsh?: VirshRunner): Hypervisor {
  return LibvirtHypervisor.lazy(uri, openBinding(uri), virsh);
}

const openBinding = (uri: string) => async (): Promise<LibvirtConn> => {
  const conn = new libvirt.Hypervisor({ uri });
  await conn.connectOpen();
  return conn;
};

/** The slice of the binding's connection we use; tests give a fake one to exercise reconnecting. */
export type LibvirtConn = Pick<
  libvirt.Hypervisor,
  | 'connectGetHostname'
  | 'nodeGetInfo'
  | 'domainCreateXML'
  | 'domainLookupByName'
  | 'connectListAllDomains'
  | 'connectClose'
  | 'domainRestore'
>;

// What libvirt says when the daemon went away under an open connection (libvirtd restarted).
const CONNECTION_LOST = /client socket is closed|broken pipe|end of file while reading|invalid connection pointer|connection (is )?closed|not connected|no connection driver/i;

export class LibvirtHypervisor implements Hypervisor {
  private constructor(
    readonly uri: string,
    private readonly openConn: () => Promise<LibvirtConn>,
    private conn: LibvirtConn | undefined,
    private readonly virsh: VirshRunner = runVirsh,
  ) {}

  private reconnecting: Promise<LibvirtConn> | undefined;

  static async open(uri: string, openConn: () => Promise<LibvirtConn>, virsh?: VirshRunner): Promise<LibvirtHypervisor> {
    return new LibvirtHypervisor(uri, openConn, await call(`connect ${uri}`, openConn), virsh);
  }

  static lazy(uri: string, openConn: () => Promise<LibvirtConn>, virsh?: VirshRunner): LibvirtHypervisor {
    return new LibvirtHypervisor(uri, openConn, undefined, virsh);
  }

  async ping(): Promise<void> {
    await this.call('ping', (c) => c.connectGetHostname());
  }

  async nodeInfo(): Promise<NodeInfo> {
    const n = await this.call('node info', (c) => c.nodeGetInfo());
    return { cpus: n.cpus, memoryKiB: n.memory, arch: n.model };
  }

  async create(xml: string): Promise<void> {
    await this.call('create domain', (c) => c.domainCreateXML(xml));
  }

  async inspect(name: string): Promise<DomainStatus | undefined> {
    const dom = await this.lookup(name);
    if (!dom) return undefined;
    try {
      const info = await dom.getInfo();
      // SECURE: with the VNC password, which the local vnc-gateway needs to log in for the user.
      const xml = await dom.getXMLDesc(libvirt.DomainGetXMLDescFlags.SECURE);
      return { name, state: STATES[info.state] ?? 'nostate', vcpus: info.nrVirtCpu, maxMemKiB: info.maxMem, xml };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw wrap(`inspect ${name}`, err);
    }
  }

  async listNames(): Promise<string[]> {
    const doms = await this.call('list domains', (c) => c.connectListAllDomains());
    const names = await Promise.all(doms.map((d) => d.getName().catch(() => undefined)));
    return names.filter((n): n is string => typeof n === 'string');
  }

  async remove(name: string): Promise<boolean> {
    const dom = await this.lookup(name);
    if (!dom) return false;
    try {
      await dom.destroy();
    } catch (err) {
      if (isNotFound(err)) return true;
      if (!NOT_RUNNING.test((err as Error).message)) throw wrap(`destroy ${name}`, err);
    }
    // A transient domain is gone once destroyed; a persistent one (defined by hand or later) stays.
    const still = await this.lookup(name);
    if (still) {
      try {
        await still.undefine();
      } catch (err) {
        if (!isNotFound(err)) throw wrap(`undefine ${name}`, err);
      }
    }
    return true;
  }

  async suspend(name: string): Promise<boolean> {
    return this.onDomain('suspend', name, (d) => d.suspend());
  }

  async resume(name: string): Promise<boolean> {
    return this.onDomain('resume', name, (d) => d.resume());
  }

  async shutdown(name: string): Promise<boolean> {
    return this.onDomain('shut down', name, (d) => d.shutdown());
  }

  async save(name: string, file: string): Promise<void> {
    const found = await this.onDomain('save', name, (d) => d.save(file));
    if (!found) throw new ProblemError('not-found', `no domain ${name} to save`);
  }

  // The binding has no virDomainRestoreFlags (it takes no XML); virsh on the same URI does it.
  // libvirt's test driver lives inside this process (a virsh would see another one) and refuses
  // XML on restore, so there alone the image restores as saved: the caller has checked that its
  // name and UUID are the task's, and the test driver runs nothing.
  async restore(file: string, xml: string): Promise<void> {
    if (this.uri.startsWith('test:')) {
      await this.call('restore domain', (c) => c.domainRestore(file));
      return;
    }
    const dir = await mkdtemp(join(tmpdir(), 'cps-restore-'));
    try {
      const xmlFile = join(dir, 'domain.xml');
      await writeFile(xmlFile, xml, { mode: 0o600 });
      await this.virsh(['-c', this.uri, 'restore', file, '--xml', xmlFile]);
    } catch (err) {
      throw wrap('restore domain', err);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  // The binding has no virDomainSetMemoryParameters; virsh on the same URI does it.
  async limitMemory(name: string, mib: number | undefined): Promise<void> {
    const limit = mib === undefined ? '-1' : `${mib}M`;
    try {
      await run('virsh', ['-c', this.uri, 'memtune', '--domain', name, '--hard-limit', limit, '--live'], { timeout: 15_000 });
    } catch (err) {
      throw wrap(`limit memory of ${name}`, (err as { stderr?: string }).stderr?.trim() ? new Error((err as { stderr: string }).stderr.trim()) : err);
    }
  }

  // The binding's getInfo has the state but not its reason.
  async stateReason(name: string): Promise<string | undefined> {
    if (this.uri.startsWith('test:')) return undefined; // a second process would see another test driver
    const { stdout } = await run('virsh', ['-c', this.uri, 'domstate', '--domain', name, '--reason'], { timeout: 5_000 });
    return stdout.trim() || undefined;
  }

  private async onDomain(what: string, name: string, fn: (d: libvirt.Domain) => Promise<void>): Promise<boolean> {
    const dom = await this.lookup(name);
    if (!dom) return false;
    try {
      await fn(dom);
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw wrap(`${what} ${name}`, err);
    }
  }

  async close(): Promise<void> {
    await this.conn?.connectClose().catch(() => undefined);
    this.conn = undefined;
  }

  private async lookup(name: string): Promise<libvirt.Domain | undefined> {
    try {
      return await this.call(`look up ${name}`, (c) => c.domainLookupByName(name), false);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw wrap(`look up ${name}`, err);
    }
  }

  /**
   * Runs a call on the connection; if libvirtd went away (restarted), opens a new connection and
   * tries once more. Every call we make is safe to repeat: create fails on a name that exists.
   */
  private async call<T>(what: string, fn: (c: LibvirtConn) => Promise<T>, wrapErrors = true): Promise<T> {
    const used = this.conn ?? (await this.reconnect(undefined));
    try {
      return await fn(used);
    } catch (err) {
      if (!CONNECTION_LOST.test(String((err as Error)?.message))) throw wrapErrors ? wrap(what, err) : err;
      const fresh = await this.reconnect(used);
      try {
        return await fn(fresh);
      } catch (again) {
        throw wrapErrors ? wrap(what, again) : again;
      }
    }
  }

  // Calls that fail together share one new connection.
  private reconnect(failed: LibvirtConn | undefined): Promise<LibvirtConn> {
    if (this.conn !== undefined && this.conn !== failed) return Promise.resolve(this.conn);
    this.reconnecting ??= call(`${failed ? 'reconnect' : 'connect'} ${this.uri}`, this.openConn)
      .then((c) => {
        this.conn = c;
        failed?.connectClose().catch(() => undefined);
        return c;
      })
      .finally(() => {
        this.reconnecting = undefined;
      });
    return this.reconnecting;
  }
}

async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw wrap(what, err);
  }
}

function wrap(what: string, err: unknown): ProblemError {
  return new ProblemError('hypervisor-error', `${what}: ${(err as Error)?.message ?? String(err)}`);
}
