import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export type Liveness = 'alive' | 'dead' | 'unknown';

/**
 * Whether a guest's QEMU process still lives, read from /proc. libvirt takes a second or more to
 * notice a QEMU that was killed and to drop its domain; the process table knows at once.
 * Only a pid that was once seen to be a live QEMU counts: in a container beside the host's
 * libvirtd, the pid files name processes of another pid namespace, and those stay 'unknown'.
 */
export class QemuProcesses {
  private readonly known = new Map<string, number>();

  constructor(
    private readonly runDir = '/run/libvirt/qemu',
    private readonly proc = '/proc',
  ) {}

  check(domain: string): Liveness {
    let pid = this.known.get(domain);
    if (pid === undefined) {
      pid = this.verifiedPid(domain);
      if (pid === undefined) return 'unknown';
      this.known.set(domain, pid);
      return 'alive';
    }
    if (this.lives(pid)) return 'alive';
    // A restore (or a new guest of the same name) runs in a new QEMU: the pid file says which.
    const now = this.verifiedPid(domain);
    if (now !== undefined && now !== pid && this.lives(now)) {
      this.known.set(domain, now);
      return 'alive';
    }
    return 'dead';
  }

  private lives(pid: number): boolean {
    const stat = read(join(this.proc, String(pid), 'stat'));
    // The state follows the command name in parentheses, which may itself hold spaces or parentheses.
    const state = stat?.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return stat !== undefined && state !== 'Z' && state !== 'X';
  }

  /** Forget domains that are gone, so a new guest of the same name is looked up afresh. */
  keepOnly(domains: Iterable<string>): void {
    const keep = new Set(domains);
    for (const d of this.known.keys()) if (!keep.has(d)) this.known.delete(d);
  }

  private verifiedPid(domain: string): number | undefined {
    const text = read(join(this.runDir, `${domain}.pid`))?.trim();
    if (!text || !/^\d+$/.test(text)) return undefined;
    const comm = read(join(this.proc, text, 'comm'));
    return comm?.startsWith('qemu') ? Number(text) : undefined;
  }
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
