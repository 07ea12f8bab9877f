import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { endianness } from 'node:os';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.ts';
import type { Rinfo } from './socket.ts';

/**
 * What the kernel knows about the PEP socket and Node does not tell: datagrams it dropped because
 * the receive buffer was full (the "drops" column of /proc/net/udp), read when /metrics renders.
 * Without this a flood loses packets before PEP sees them and no counter moves (docs/pep.md §1).
 */

export interface UdpRow {
  local: Rinfo;
  /** Bytes queued in the receive buffer, not yet read by us. */
  rxQueueBytes: number;
  inode: number;
  drops: number;
}

/** The kernel prints each 32-bit word of an address as a native-order integer in hex. */
function wordBytes(hex8: string, littleEndian: boolean): number[] {
  const v = parseInt(hex8, 16);
  const be = [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
  return littleEndian ? be.reverse() : be;
}

function decodeAddress(hex: string, littleEndian: boolean): string | undefined {
  if (!/^[0-9A-Fa-f]+$/.test(hex)) return undefined;
  if (hex.length === 8) return wordBytes(hex, littleEndian).join('.');
  if (hex.length !== 32) return undefined;
  const bytes = [0, 8, 16, 24].flatMap((i) => wordBytes(hex.slice(i, i + 8), littleEndian));
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':'); // uncompressed: compared with what this module itself produced
}

/** Parses /proc/net/udp or /proc/net/udp6. Lines that do not fit the layout are skipped. */
export function parseProcNetUdp(text: string, littleEndian = endianness() === 'LE'): UdpRow[] {
  const rows: UdpRow[] = [];
  for (const line of text.split('\n')) {
    // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
    const f = line.trim().split(/\s+/);
    if (f.length < 13 || !/^\d+:$/.test(f[0]!)) continue;
    const [addrHex, portHex] = f[1]!.split(':');
    const address = decodeAddress(addrHex ?? '', littleEndian);
    const rx = f[4]!.split(':')[1];
    const nums = [portHex, rx].map((h) => (h && /^[0-9A-Fa-f]+$/.test(h) ? parseInt(h, 16) : NaN));
    const inode = Number(f[9]);
    const drops = Number(f[12]);
    if (address === undefined || nums.some(Number.isNaN) || !Number.isInteger(inode) || !Number.isInteger(drops)) continue;
    rows.push({ local: { address, port: nums[0]! }, rxQueueBytes: nums[1]!, inode, drops });
  }
  return rows;
}

/** Udp RcvbufErrors from /proc/net/snmp: every UDP socket of the network namespace, not just ours. */
export function parseUdpRcvbufErrors(snmp: string): number | undefined {
  const [names, values] = snmp.split('\n').filter((l) => l.startsWith('Udp: '));
  if (!names || !values) return undefined;
  const i = names.split(/\s+/).indexOf('RcvbufErrors');
  const v = Number(values.split(/\s+/)[i]);
  return i > 0 && Number.isInteger(v) ? v : undefined;
}

const sameLocal = (a: Rinfo, b: Rinfo) => a.address === b.address && a.port === b.port;

/**
 * Which row is our socket: one on our address and port that this process holds, preferring one
 * that was not there before we bound (several test nodes in one process may share a group and
 * port). Undefined when that is still ambiguous: better no counter than someone else's.
 */
export function pickSocketInode(rows: UdpRow[], local: Rinfo, ownNow: Set<number>, ownBefore: Set<number>): number | undefined {
  const own = rows.filter((r) => sameLocal(r.local, local) && ownNow.has(r.inode));
  const fresh = own.filter((r) => !ownBefore.has(r.inode));
  if (fresh.length === 1) return fresh[0]!.inode;
  return own.length === 1 ? own[0]!.inode : undefined;
}

/** The files read, injected so that tests can hand in fixture text. Each may throw (no /proc). */
export interface ProcReader {
  udp(): string;
  snmp(): string;
  rmemMax(): number;
  /** Inodes of the sockets this process holds open. */
  ownSocketInodes(): Set<number>;
}

export const procFs: ProcReader = {
  udp: () => readFileSync('/proc/net/udp', 'utf8'),
  snmp: () => readFileSync('/proc/net/snmp', 'utf8'),
  rmemMax: () => Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8').trim()),
  ownSocketInodes() {
    const out = new Set<number>();
    for (const fd of readdirSync('/proc/self/fd')) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
        if (m) out.add(Number(m[1]));
      } catch {
        // closed between readdir and readlink
      }
    }
    return out;
  },
};

/** Own socket inodes before bind, or an empty set where there is no /proc. */
export function socketsBefore(proc: ProcReader): Set<number> {
  try {
    return proc.ownSocketInodes();
  } catch {
    return new Set();
  }
}

export interface SocketStatsOptions {
  metrics: Metrics;
  log: Logger;
  proc: ProcReader;
  /** The bound address (the group in multicast mode). */
  local: Rinfo;
  ownBefore: Set<number>;
  requestedBytes: number;
  /** The kernel's figure (getRecvBufferSize: Linux reports twice what it granted, for overhead). */
  effectiveBytes: () => number;
}

/** Checks the buffer the kernel granted and exports the socket's drop counter on /metrics. */
export function exportSocketStats(o: SocketStatsOptions): void {
  const effective = o.effectiveBytes();
  let rmemMax: number | undefined;
  try {
    rmemMax = o.proc.rmemMax();
  } catch {
    // not Linux: nothing to compare with
  }
  if (rmemMax !== undefined && rmemMax < o.requestedBytes) {
    o.log.warn(
      { requestedBytes: o.requestedBytes, effectiveBytes: effective, rmemMax },
      `PEP receive buffer capped by the kernel at net.core.rmem_max=${rmemMax}; a flood will overflow it sooner. ` +
        `As root: sysctl -w net.core.rmem_max=${o.requestedBytes} (or lower CPS_PEP_RECV_BUFFER_KIB)`,
    );
  } else {
    o.log.info({ requestedBytes: o.requestedBytes, effectiveBytes: effective }, 'PEP receive buffer sized');
  }
  o.metrics.gauge('pep_socket_recv_buffer_bytes', 'Receive buffer of the PEP socket as the kernel reports it (SO_RCVBUF)', o.effectiveBytes);

  let inode: number | undefined;
  try {
    inode = pickSocketInode(parseProcNetUdp(o.proc.udp()), o.local, o.proc.ownSocketInodes(), o.ownBefore);
    if (inode === undefined) o.log.warn({ local: o.local }, 'PEP socket not found alone in /proc/net/udp: pep_socket_drops_total is not exported');
  } catch (err) {
    o.log.info({ err }, 'no /proc/net/udp: pep_socket_drops_total is not exported');
  }
  if (inode !== undefined) {
    let last = 0;
    o.metrics.counterFrom('pep_socket_drops_total', 'Datagrams the kernel dropped for the PEP socket because its receive buffer was full', () => {
      let row: UdpRow | undefined;
      try {
        row = parseProcNetUdp(o.proc.udp()).find((r) => r.inode === inode);
      } catch (err) {
        o.log.warn({ err }, 'PEP could not read /proc/net/udp');
      }
      // A closed socket leaves the table; its last count still stands.
      if (row && row.drops > last) {
        o.log.warn({ drops: row.drops, since: row.drops - last, effectiveBytes: o.effectiveBytes() }, 'PEP receive buffer overflowed: the kernel dropped datagrams (raise CPS_PEP_RECV_BUFFER_KIB)');
        last = row.drops;
      }
      return last;
    });
  }

  try {
    if (parseUdpRcvbufErrors(o.proc.snmp()) === undefined) return;
  } catch {
    return;
  }
  let lastNs = 0;
  o.metrics.counterFrom('udp_rcvbuf_errors_total', 'UDP datagrams dropped on a full receive buffer, every socket of this network namespace (/proc/net/snmp)', () => {
    try {
      lastNs = parseUdpRcvbufErrors(o.proc.snmp()) ?? lastNs;
    } catch {
      // keep the last figure
    }
    return lastNs;
  });
}
