import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { Metrics } from '../src/metrics.ts';
import { exportSocketStats, parseProcNetUdp, parseUdpRcvbufErrors, pickSocketInode, type ProcReader } from '../src/pep/socket-stats.ts';

// Captured on this project's Linux machines (x86-64, so each address word is printed little-endian):
// a socket on 127.0.0.1:18498 with a 4 KiB buffer after a 2000-datagram burst (9 read, 1991 dropped),
// one on the group 239.192.77.198:18497, an unbound sender, and a udp6 socket on [::1]:18496.
const udp = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops            
 8230: 00000000:AED1 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 81060 2 0000000052e22e53 0         
14742: C64DC0EF:4841 00000000:0000 07 00000000:00000300 00:00000000 00000000     0        0 81059 2 0000000048bab867 0         
14743: 0100007F:4842 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 81058 2 00000000a40048b9 1991      
`;
const udp6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
14741: 00000000000000000000000001000000:4840 00000000000000000000000000000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 81220 2 000000008790965f 0
`;
const snmp = `Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 3000
Udp: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
Udp: 815 1 1991 2812 1991 0 0 0 0
UdpLite: InDatagrams NoPorts InErrors OutDatagrams RcvbufErrors SndbufErrors InCsumErrors IgnoredMulti MemErrors
UdpLite: 0 0 0 0 0 0 0 0 0
`;

describe('parseProcNetUdp', () => {
  it('reads local address, port, queued bytes, inode and drops of each socket', () => {
    expect(parseProcNetUdp(udp, true)).toEqual([
      { local: { address: '0.0.0.0', port: 44753 }, rxQueueBytes: 0, inode: 81060, drops: 0 },
      { local: { address: '239.192.77.198', port: 18497 }, rxQueueBytes: 0x300, inode: 81059, drops: 0 },
      { local: { address: '127.0.0.1', port: 18498 }, rxQueueBytes: 0, inode: 81058, drops: 1991 },
    ]);
  });

  it('reads udp6 lines (four native-order words)', () => {
    expect(parseProcNetUdp(udp6, true)).toEqual([{ local: { address: '0:0:0:0:0:0:0:1', port: 18496 }, rxQueueBytes: 0, inode: 81220, drops: 0 }]);
  });

  it('on a big-endian machine the words are in network order', () => {
    expect(parseProcNetUdp(' 1: 7F000001:4842 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 5 2 0 7', false)[0]!.local).toEqual({ address: '127.0.0.1', port: 18498 });
  });

  it.each([
    ['no drops column (a kernel before 2.6.27)', ' 1: 0100007F:4842 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 5 2 0'],
    ['an address that is not hex', ' 1: 0100007G:4842 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 5 2 0 7'],
    ['an address of the wrong length', ' 1: 100007F:4842 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 5 2 0 7'],
    ['drops that are not a number', ' 1: 0100007F:4842 00000000:0000 07 00000000:00000000 00:00000000 00000000 0 0 5 2 0 x'],
    ['the header', '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops'],
  ])('skips %s', (_what, line) => {
    expect(parseProcNetUdp(line, true)).toEqual([]);
  });
});

describe('parseUdpRcvbufErrors', () => {
  it('takes the Udp line, not UdpLite', () => {
    expect(parseUdpRcvbufErrors(snmp)).toBe(1991);
  });
  it('is undefined without the column', () => {
    expect(parseUdpRcvbufErrors('Udp: InDatagrams NoPorts\nUdp: 1 2\n')).toBeUndefined();
    expect(parseUdpRcvbufErrors('')).toBeUndefined();
  });
});

describe('pickSocketInode', () => {
  const rows = [
    { local: { address: '239.1.1.1', port: 5 }, rxQueueBytes: 0, inode: 10, drops: 0 },
    { local: { address: '239.1.1.1', port: 5 }, rxQueueBytes: 0, inode: 11, drops: 0 },
    { local: { address: '239.1.1.1', port: 5 }, rxQueueBytes: 0, inode: 12, drops: 0 },
  ];
  const at = { address: '239.1.1.1', port: 5 };
  it.each([
    ['the one this process holds', new Set([11, 99]), new Set<number>(), 11],
    ['of two held, the one bound just now', new Set([10, 11]), new Set([10]), 11],
    ['two held, both already there: ambiguous', new Set([10, 11]), new Set([10, 11]), undefined],
    ['two held, both new: ambiguous', new Set([10, 11]), new Set<number>(), undefined],
    ['none held (another process’s sockets)', new Set([99]), new Set<number>(), undefined],
  ])('%s', (_what, own, before, want) => {
    expect(pickSocketInode(rows, at, own, before)).toBe(want);
  });
  it('never takes a socket on another port', () => {
    expect(pickSocketInode(rows, { address: '239.1.1.1', port: 6 }, new Set([10]), new Set())).toBeUndefined();
  });
});

function capture() {
  const lines: Array<{ level: number; msg: string; [k: string]: unknown }> = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s)) });
  return { log, lines, warnings: () => lines.filter((l) => l.level === 40).map((l) => l.msg) };
}

const fakeProc = (over: Partial<ProcReader> & { table?: () => string } = {}): ProcReader => ({
  udp: over.table ?? (() => udp),
  snmp: () => snmp,
  rmemMax: () => 8 << 20,
  ownSocketInodes: () => new Set([81058]),
  ...over,
});
const at = { address: '127.0.0.1', port: 18498 };

describe('exportSocketStats', () => {
  it('exports the drops of our row, warns once per increase, and keeps the last count once the socket is gone', () => {
    const metrics = new Metrics();
    const { log, warnings } = capture();
    let table = udp;
    exportSocketStats({ metrics, log, proc: fakeProc({ table: () => table }), local: at, ownBefore: new Set(), requestedBytes: 4096, effectiveBytes: () => 8192 });
    expect(metrics.render()).toMatch(/^# TYPE pep_socket_drops_total counter\npep_socket_drops_total 1991$/m);
    expect(metrics.render()).toMatch(/^pep_socket_recv_buffer_bytes 8192$/m);
    expect(metrics.render()).toMatch(/^udp_rcvbuf_errors_total 1991$/m);
    expect(warnings().filter((m) => /overflowed/.test(m))).toHaveLength(1); // 1991 new, then nothing new
    table = udp.replace(' 1991      ', ' 2500      ');
    expect(metrics.get('pep_socket_drops_total')).toBe(2500);
    expect(warnings().filter((m) => /overflowed/.test(m))).toHaveLength(2);
    table = '';
    expect(metrics.get('pep_socket_drops_total')).toBe(2500);
  });

  it('warns naming net.core.rmem_max when the kernel grants less than asked', () => {
    const metrics = new Metrics();
    const { log, lines, warnings } = capture();
    exportSocketStats({ metrics, log, proc: fakeProc({ rmemMax: () => 212_992 }), local: at, ownBefore: new Set(), requestedBytes: 4 << 20, effectiveBytes: () => 425_984 });
    expect(warnings()[0]).toMatch(/net\.core\.rmem_max=212992.*sysctl -w net\.core\.rmem_max=4194304/);
    expect(lines[0]).toMatchObject({ requestedBytes: 4 << 20, effectiveBytes: 425_984, rmemMax: 212_992 });
  });

  it('does not warn when the request fits under rmem_max', () => {
    const { log, warnings, lines } = capture();
    exportSocketStats({ metrics: new Metrics(), log, proc: fakeProc(), local: { address: '239.192.77.198', port: 18497 }, ownBefore: new Set(), requestedBytes: 4 << 20, effectiveBytes: () => 8 << 20 });
    expect(lines.find((l) => l.msg === 'PEP receive buffer sized')).toMatchObject({ effectiveBytes: 8 << 20 });
    expect(warnings().filter((m) => /rmem_max/.test(m))).toEqual([]);
  });

  it('exports no drop counter rather than another socket’s, and nothing from /proc where there is none', () => {
    const ambiguous = new Metrics();
    const { log, warnings } = capture();
    exportSocketStats({ metrics: ambiguous, log, proc: fakeProc({ ownSocketInodes: () => new Set([99]) }), local: at, ownBefore: new Set(), requestedBytes: 4096, effectiveBytes: () => 8192 });
    expect(ambiguous.has('pep_socket_drops_total')).toBe(false);
    expect(warnings()).toContainEqual(expect.stringMatching(/not found alone/));

    const none = new Metrics();
    const gone = () => {
      throw new Error('ENOENT');
    };
    exportSocketStats({ metrics: none, log: capture().log, proc: { udp: gone, snmp: gone, rmemMax: gone, ownSocketInodes: gone }, local: at, ownBefore: new Set(), requestedBytes: 4096, effectiveBytes: () => 4096 });
    expect(none.has('pep_socket_drops_total')).toBe(false);
    expect(none.has('udp_rcvbuf_errors_total')).toBe(false);
    expect(none.render()).toMatch(/^pep_socket_recv_buffer_bytes 4096$/m);
  });
});
