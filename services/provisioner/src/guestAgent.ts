import { execFile } from 'node:child_process';
import { isIP } from 'node:net';
import { z } from 'zod';
import type { Logger } from '@cps/common';
import type { ProvisionerSchemas } from '@cps/openapi';

export type GuestAddress = ProvisionerSchemas['GuestAddress'];
type Vm = ProvisionerSchemas['Vm'];

/**
 * Runs virsh with these arguments, killed after `timeoutMs`, its output cut at `maxBytes`; rejects
 * when it fails, times out or says more. Tests give a fake one.
 */
export type AgentRunner = (args: string[], o: { timeoutMs: number; maxBytes: number }) => Promise<string>;

/** The virtio-serial channel the guest's qemu-guest-agent listens on (domainXml.ts adds it to every guest). */
export const AGENT_CHANNEL = 'org.qemu.guest_agent.0';

/** What the agent may say at most: its answers are bytes from the guest, so anything longer is refused. */
export const MAX_ANSWER_BYTES = 64 * 1024;
export const MAX_INTERFACES = 16;
export const MAX_ADDRESSES = 32;

export interface AgentTimeouts {
  /** guest-ping: short, so a guest without an agent costs little. */
  pingSec: number;
  /** Other commands (addresses, thaw). */
  commandSec: number;
  /**
   * How long a shutdown request may take to be refused. libvirt's agent shutdown answers only once
   * the guest has powered off (it waits up to 60 s): one not refused by then was taken, and libvirt
   * goes on waiting in the background (virsh killed at 65 s) while the lifecycle's queue moves on.
   */
  shutdownRefuseSec: number;
  /** fsfreeze-freeze waits for the guest to flush its filesystems. */
  freezeSec: number;
  /** How long a guest that did not answer a ping is taken to have no agent before it is asked again. */
  silentForgetSec: number;
}

export const DEFAULT_TIMEOUTS: AgentTimeouts = { pingSec: 2, commandSec: 5, shutdownRefuseSec: 3, freezeSec: 20, silentForgetSec: 60 };
/** libvirt's own bound on an agent shutdown (VIR_DOMAIN_QEMU_AGENT_COMMAND_SHUTDOWN). */
const LIBVIRT_SHUTDOWN_SEC = 60;

export interface GuestAgentDeps {
  uri: string;
  run: AgentRunner;
  log: Logger;
  /** Milliseconds; how long a "no agent" answer is remembered is measured with it. */
  now: () => number;
  /** Resolves after `ms` (time is a dependency: tests hold it or let it pass). */
  sleep: (ms: number) => Promise<void>;
  timeouts?: Partial<AgentTimeouts>;
}

// The agent's answers (QMP-shaped). Only the fields used are read; anything else in them is ignored.
const answer = <T extends z.ZodTypeAny>(ret: T) => z.object({ return: ret });
const pingAnswer = answer(z.object({}).passthrough());
const countAnswer = answer(z.number().int().min(0).max(1_000_000));
const execAnswer = answer(z.object({ pid: z.number().int().min(0).max(2 ** 31) }));
/**
 * qemu-guest-agent's guest-shutdown runs `shutdown -P +0`, which on systemd hands the (timed)
 * shutdown to logind over D-Bus: a guest without dbus refuses it ("child process has failed to
 * shutdown"). `systemctl poweroff` asks systemd itself, a clean shutdown all the same.
 */
const SYSTEMCTL_POWEROFF = { execute: 'guest-exec', arguments: { path: '/bin/systemctl', arg: ['poweroff'] } };
const interfacesAnswer = answer(
  z
    .array(
      z.object({
        name: z.string().min(1).max(64),
        'ip-addresses': z
          .array(
            z.object({
              'ip-address-type': z.enum(['ipv4', 'ipv6']),
              'ip-address': z.string().min(2).max(64),
              prefix: z.number().int().min(0).max(128),
            }),
          )
          .max(MAX_ADDRESSES)
          .optional(),
      }),
    )
    .max(MAX_INTERFACES),
);

const LOOPBACK = /^(127\.|::1$)/;
const PRINTABLE_NAME = /^[A-Za-z0-9._:@-]+$/;

/**
 * Talks to a guest's qemu-guest-agent through libvirt (`virsh qemu-agent-command`; the binding has
 * no agent calls). Everything the agent answers is from the guest and so hostile: validated, its size
 * bounded, and every call has a timeout, so a guest that answers garbage or nothing changes nothing
 * (callers get false / undefined) and never holds up a stop. Whether a guest answers is remembered
 * per guest: a guest that answered once is asked without a ping; one that did not is not pinged
 * again for a while.
 */
export class GuestAgent {
  private readonly t: AgentTimeouts;
  private readonly answered = new Map<string, { ok: true } | { ok: false; atMs: number }>();

  constructor(private readonly d: GuestAgentDeps) {
    this.t = { ...DEFAULT_TIMEOUTS, ...d.timeouts };
  }

  /** Whether the guest's agent answers guest-ping now (or answered before). */
  async available(domain: string): Promise<boolean> {
    const known = this.answered.get(domain);
    if (known?.ok) return true;
    if (known && this.d.now() - known.atMs < this.t.silentForgetSec * 1000) return false;
    const ok = (await this.command(domain, { execute: 'guest-ping' }, this.t.pingSec, pingAnswer)) !== undefined;
    this.answered.set(domain, ok ? { ok: true } : { ok: false, atMs: this.d.now() });
    return ok;
  }

  /** Forgets what the guest answered (it is gone, or was replaced). */
  forget(domain: string): void {
    this.answered.delete(domain);
  }

  /**
   * Asks the guest to power itself off through its agent (libvirt's agent shutdown mode, which knows
   * the agent sends no answer to it). False when there is no agent or it did not take the request.
   */
  async shutdown(domain: string): Promise<boolean> {
    if (!(await this.available(domain))) return false;
    const asked = this.d
      .run(['-c', this.d.uri, 'shutdown', '--domain', domain, '--mode', 'agent'], this.limits(LIBVIRT_SHUTDOWN_SEC))
      .then(() => 'done' as const, (err: unknown) => String((err as Error)?.message ?? err).slice(0, 300));
    const first = await Promise.race([asked, this.d.sleep(this.t.shutdownRefuseSec * 1000).then(() => 'waiting' as const)]);
    if (first === 'done') return true;
    if (first === 'waiting') {
      void asked.then((r) => {
        if (r !== 'done') this.d.log.warn({ domain, err: r }, 'guest agent shutdown did not end in a power-off (the caller destroys the guest after its grace)');
      });
      return true;
    }
    const pid = await this.command(domain, SYSTEMCTL_POWEROFF, this.t.commandSec, execAnswer);
    if (pid !== undefined) {
      this.d.log.info({ domain, refused: first }, 'guest agent refused guest-shutdown; systemctl poweroff run through it instead');
      return true;
    }
    this.d.log.warn({ domain, err: first }, 'guest agent did not take the shutdown');
    return false;
  }

  /** Freezes the guest's filesystems; the number frozen, undefined when there is no agent or it failed. */
  async freeze(domain: string): Promise<number | undefined> {
    if (!(await this.available(domain))) return undefined;
    return this.command(domain, { execute: 'guest-fsfreeze-freeze' }, this.t.freezeSec, countAnswer);
  }

  /** Thaws them (harmless when none is frozen); the number thawed, undefined when it failed. */
  async thaw(domain: string): Promise<number | undefined> {
    if (!(await this.available(domain))) return undefined;
    return this.command(domain, { execute: 'guest-fsfreeze-thaw' }, this.t.commandSec, countAnswer);
  }

  /** The guest's IP addresses but loopback's; undefined when there is no agent or its answer was no good. */
  async addresses(domain: string): Promise<GuestAddress[] | undefined> {
    if (!(await this.available(domain))) return undefined;
    const ifaces = await this.command(domain, { execute: 'guest-network-get-interfaces' }, this.t.commandSec, interfacesAnswer);
    if (ifaces === undefined) return undefined;
    const out: GuestAddress[] = [];
    for (const iface of ifaces) {
      if (iface.name === 'lo' || !PRINTABLE_NAME.test(iface.name)) continue;
      for (const a of iface['ip-addresses'] ?? []) {
        const family = isIP(a['ip-address']);
        // The agent's claimed type must match what the address is; a v4 prefix is at most 32.
        if (family !== (a['ip-address-type'] === 'ipv4' ? 4 : 6)) continue;
        if (family === 4 && a.prefix > 32) continue;
        if (LOOPBACK.test(a['ip-address'])) continue;
        out.push({ interface: iface.name, family: a['ip-address-type'], address: a['ip-address'], prefix: a.prefix });
        if (out.length >= MAX_ADDRESSES) return out;
      }
    }
    return out;
  }

  private limits(sec: number) {
    // virsh's own --timeout bounds libvirt's wait; this bounds virsh itself (a hung libvirtd).
    return { timeoutMs: (sec + 5) * 1000, maxBytes: MAX_ANSWER_BYTES };
  }

  private async command<R>(domain: string, cmd: object, sec: number, schema: z.ZodType<{ return: R }>): Promise<R | undefined> {
    let stdout: string;
    try {
      stdout = await this.d.run(['-c', this.d.uri, 'qemu-agent-command', '--domain', domain, '--timeout', String(sec), '--cmd', JSON.stringify(cmd)], this.limits(sec));
    } catch (err) {
      this.d.log.debug({ domain, cmd, err: String((err as Error)?.message ?? err).slice(0, 300) }, 'guest agent did not answer');
      return undefined;
    }
    if (Buffer.byteLength(stdout) > MAX_ANSWER_BYTES) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(stdout);
    } catch {
      this.d.log.warn({ domain, cmd }, 'guest agent answered something that is not JSON');
      return undefined;
    }
    const ok = schema.safeParse(parsed);
    if (!ok.success) {
      this.d.log.warn({ domain, cmd }, 'guest agent answered something unexpected');
      return undefined;
    }
    return ok.data.return;
  }
}

/** The guest with its addresses where it runs and its agent says them (GET /vms/{taskId}). */
export async function withGuestAddresses(vm: Vm, agent: GuestAgent | undefined): Promise<Vm> {
  if (!agent || vm.state !== 'running') return vm;
  const addresses = await agent.addresses(vm.domain);
  return addresses === undefined ? vm : { ...vm, addresses };
}

/** A runner over `bin` (virsh; tests use sh): killed at its timeout, refused past its output bound. */
export const boundedRunner = (bin: string): AgentRunner => (args, o) =>
  new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: o.timeoutMs, maxBuffer: o.maxBytes, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      if (err) reject(new Error(String(stderr).trim().slice(0, 500) || err.message));
      else resolve(String(stdout));
    });
  });

export const runVirshBounded: AgentRunner = boundedRunner('virsh');
