import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';

/**
 * Guests on user-mode NAT (slirp) reach the host as 10.0.2.2 (IPv6 fec0::2), which slirp maps to the
 * host's loopback: every CPS port and every other local service. slirp opens those connections from
 * the QEMU process, so they can be told apart by QEMU's user. QEMU 7.2's slirp has no host-loopback
 * switch (only `restrict`, which cuts the guest off from everything) and libvirt 9's <interface
 * type='user'> exposes neither, so this host firewall rule is the mechanism:
 *
 *   OUTPUT -m owner --uid-owner <qemu uid> -m addrtype --dst-type LOCAL -m conntrack --ctstate NEW -j REJECT
 *
 * Only NEW connections are refused, so the replies of QEMU's own VNC server still flow; LOCAL covers
 * every address of the host (loopback and its LAN addresses, where the services listen too).
 */
export const ISOLATION_COMMENT = 'cps-guest-isolation';
export const FAMILIES = ['iptables', 'ip6tables'] as const;
export type FirewallTool = (typeof FAMILIES)[number];

/** Debian's build of libvirt runs QEMU as this user unless qemu.conf names another. */
export const DEFAULT_QEMU_USER = 'libvirt-qemu';

export type IsolationStatus =
  | { state: 'on'; uid: number; tools: FirewallTool[] }
  | { state: 'off'; reason: string; uid?: number }
  | { state: 'not-applicable'; reason: string };

/** The rule's match and target, after `-C/-I/-D OUTPUT`. Never for uid 0: that is the host itself. */
export function isolationRule(uid: number): string[] {
  if (!Number.isSafeInteger(uid) || uid <= 0) throw new Error(`refusing an isolation rule for uid ${uid}`);
  return ['-m', 'owner', '--uid-owner', String(uid), '-m', 'addrtype', '--dst-type', 'LOCAL', '-m', 'conntrack', '--ctstate', 'NEW',
    '-m', 'comment', '--comment', ISOLATION_COMMENT, '-j', 'REJECT'];
}

/** The `user = "…"` of libvirt's qemu.conf (the last one wins, as in libvirt's own reader), if set. */
export function qemuUserOf(qemuConf: string): string | undefined {
  let user: string | undefined;
  for (const line of qemuConf.split('\n')) {
    const m = /^\s*user\s*=\s*"([^"]*)"\s*(#.*)?$/.exec(line);
    if (m) user = m[1];
  }
  return user;
}

/** A user name or libvirt's `+N` numeric form, looked up in /etc/passwd text. */
export function uidOf(user: string, passwd: string): number | undefined {
  if (/^\+\d+$/.test(user)) return Number(user.slice(1));
  for (const line of passwd.split('\n')) {
    const [name, , uid] = line.split(':');
    if (name === user && uid !== undefined && /^\d+$/.test(uid)) return Number(uid);
  }
  return undefined;
}

export interface RunResult {
  /** The exit code; undefined when the tool could not be run at all (not installed). */
  code: number | undefined;
  stderr: string;
}

export interface IsolationDeps {
  run: (cmd: string, args: string[]) => Promise<RunResult>;
  readFile: (path: string) => string | undefined;
  log: Logger;
}

export const hostRun = (cmd: string, args: string[]): Promise<RunResult> =>
  new Promise((resolve) => {
    execFile(cmd, args, { timeout: 15_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve({ code: 0, stderr });
      const code = (err as { code?: unknown }).code;
      resolve({ code: typeof code === 'number' ? code : undefined, stderr: stderr || err.message });
    });
  });

const readOrUndefined = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
};

/** QEMU's uid, as the system libvirtd of this host runs it. */
export function qemuUid(readFile: (path: string) => string | undefined = readOrUndefined): { uid?: number; user: string } {
  const user = qemuUserOf(readFile('/etc/libvirt/qemu.conf') ?? '') ?? DEFAULT_QEMU_USER;
  return { uid: uidOf(user, readFile('/etc/passwd') ?? ''), user };
}

/**
 * Puts the rule in place (idempotently: `-C`, then `-I` only when absent) for IPv4 and IPv6, and says
 * what it achieved. Never throws: a provisioner that cannot isolate still runs guests, but logs an
 * error and reports the state, so the donor can see it and choose CPS_GUEST_NETWORK=none.
 */
export async function installGuestIsolation(
  libvirtUri: string,
  deps: Partial<IsolationDeps> & { log: Logger },
): Promise<IsolationStatus> {
  const run = deps.run ?? hostRun;
  const readFile = deps.readFile ?? readOrUndefined;
  const { log } = deps;
  // Only the local system daemon's QEMU runs here, as the user qemu.conf names.
  if (libvirtUri !== 'qemu:///system') {
    const reason = `libvirt ${libvirtUri} does not run guests as this host's QEMU user`;
    log.info({ libvirtUri }, `guest isolation not applicable: ${reason}`);
    return { state: 'not-applicable', reason };
  }
  const { uid, user } = qemuUid(readFile);
  if (uid === undefined) {
    const reason = `QEMU's user ${user} is not in /etc/passwd: guests on NAT can reach this host's local services (10.0.2.2)`;
    log.error({ user }, reason);
    return { state: 'off', reason };
  }
  if (uid === 0) {
    const reason = "QEMU runs as root, whose connections cannot be told from the host's own: guests on NAT can reach this host's local services (10.0.2.2)";
    log.error({ user }, reason);
    return { state: 'off', reason, uid };
  }
  const rule = isolationRule(uid);
  const done: FirewallTool[] = [];
  const failed: string[] = [];
  for (const tool of FAMILIES) {
    const check = await run(tool, ['-w', '-C', 'OUTPUT', ...rule]);
    if (check.code === 0) {
      done.push(tool);
      continue;
    }
    // -C exits 1 for "no such rule"; anything else (not installed, no permission) is a failure.
    const insert = check.code === 1 ? await run(tool, ['-w', '-I', 'OUTPUT', ...rule]) : check;
    if (insert.code === 0) done.push(tool);
    // A host without IPv6 has no ::1 for slirp's fec0::2 to reach.
    else if (tool === 'ip6tables' && readFile('/proc/net/if_inet6') === undefined) done.push(tool);
    else failed.push(`${tool}: ${insert.code === undefined ? 'not runnable' : `exit ${insert.code}`} ${insert.stderr.trim()}`.trim());
  }
  if (failed.length) {
    const reason = `cannot install the guest isolation rule (${failed.join('; ')}): guests on NAT can reach this host's local services (10.0.2.2)`;
    log.error({ uid, user }, reason);
    return { state: 'off', reason, uid };
  }
  log.info({ uid, user, tools: done }, "guest isolation on: QEMU's new connections to this host's own addresses are refused");
  return { state: 'on', uid, tools: done };
}

/** Removes the rule (every copy of it), e.g. for a test or a donor who takes CPS off the host. */
export async function removeGuestIsolation(uid: number, run: IsolationDeps['run'] = hostRun): Promise<void> {
  const rule = isolationRule(uid);
  for (const tool of FAMILIES) {
    for (let i = 0; i < 16 && (await run(tool, ['-w', '-C', 'OUTPUT', ...rule])).code === 0; i++) {
      await run(tool, ['-w', '-D', 'OUTPUT', ...rule]);
    }
  }
}
