import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { Metrics } from '../src/metrics.ts';
import { DEFAULT_RECV_BUFFER_BYTES, udpMulticastTransport, udpUnicastTransport, type UdpTransport } from '../src/pep/socket.ts';
import { silent } from './cluster.ts';

// A PEP flood on real loopback sockets: the sender's loop below runs to its end before this
// process reads a single datagram (one thread), so the receive buffer takes the whole burst and
// what does not fit is dropped by the kernel. Every datagram must then be accounted for: read by
// the transport, or counted in pep_socket_drops_total. Ports and group of our own (184xx).
const FLOOD = 10_000;

let open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  await Promise.all(open.map((s) => s.close()));
  open = [];
});

const until = async (cond: () => boolean, ms = 5000) => {
  for (const end = Date.now() + ms; !cond(); ) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** Sends FLOOD small datagrams as fast as the loop goes; resolves with how many the kernel took. */
async function flood(port: number, address: string): Promise<number> {
  const s = dgram.createSocket('udp4');
  open.push(s);
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  s.setMulticastInterface('127.0.0.1');
  const payload = Buffer.alloc(100, 0x50);
  let done = 0;
  let sent = 0;
  await new Promise<void>((resolve) => {
    for (let i = 0; i < FLOOD; i++) {
      s.send(payload, port, address, (err) => {
        if (!err) sent++;
        if (++done === FLOOD) resolve();
      });
    }
  });
  return sent;
}

/** The same flood from another process, so that it goes on while this one's handler is stuck. */
async function floodFromChild(port: number, address: string, n = FLOOD): Promise<number> {
  const script = `
    const s = require('node:dgram').createSocket('udp4');
    const [port, address, n] = process.argv.slice(1);
    s.bind(0, '127.0.0.1', () => {
      s.setMulticastInterface('127.0.0.1');
      const payload = Buffer.alloc(100, 0x50);
      let done = 0, sent = 0;
      for (let i = 0; i < +n; i++) s.send(payload, +port, address, (err) => {
        if (!err) sent++;
        if (++done === +n) { console.log(sent); s.close(); }
      });
    });`;
  const { stdout } = await promisify(execFile)(process.execPath, ['-e', script, String(port), address, String(n)]);
  return Number(stdout.trim());
}

function counting(t: UdpTransport, blockFirstMs = 0) {
  const seen = { n: 0 };
  t.onMessage(() => {
    // A handler stuck for a moment (a slow disk, a GC pause) while the flood goes on.
    if (seen.n++ === 0 && blockFirstMs) for (const end = Date.now() + blockFirstMs; Date.now() < end; );
  });
  return seen;
}

describe('a PEP flood on loopback', () => {
  it('with a tiny receive buffer, the kernel drops most of 10,000 datagrams and every drop is on /metrics', async () => {
    const metrics = new Metrics();
    const t = await udpUnicastTransport({ port: 18491, interfaceAddress: '127.0.0.1', log: silent, recvBufferBytes: 4096, metrics });
    open.push(t);
    const got = counting(t);
    const sent = await flood(18491, '127.0.0.1');
    expect(sent).toBe(FLOOD);
    await until(() => got.n + metrics.get('pep_socket_drops_total') === sent);
    const dropped = metrics.get('pep_socket_drops_total');
    expect(dropped).toBeGreaterThan(FLOOD / 2);
    expect(metrics.render()).toMatch(new RegExp(`^pep_socket_drops_total ${dropped}$`, 'm'));
    // Linux reports twice what it granted (bookkeeping overhead); 4 KiB is near its minimum.
    expect(t.recvBufferBytes()).toBeLessThan(64 * 1024);
    expect(metrics.render()).toMatch(new RegExp(`^pep_socket_recv_buffer_bytes ${t.recvBufferBytes()}$`, 'm'));
  });

  // The case: the kernel's default buffer (rmem_default, 208 KiB) behind a handler stuck for
  // 200 ms lost about two thirds of the flood, and nothing showed it.
  const stuckFlood = async (group: string, port: number, recvBufferBytes?: number, n = FLOOD) => {
    const metrics = new Metrics();
    const t = await udpMulticastTransport({ group, port, interfaceAddress: '127.0.0.1', log: silent, metrics, recvBufferBytes });
    open.push(t);
    const got = counting(t, 200);
    const sent = await floodFromChild(port, group, n);
    expect(sent).toBe(n);
    await until(() => got.n + metrics.get('pep_socket_drops_total') === sent);
    expect(got.n).toBeGreaterThan(0);
    return { dropped: metrics.get('pep_socket_drops_total'), t };
  };

  it('a handler stuck for 200 ms behind the kernel’s default-sized buffer: sent = read + dropped on the group socket', async () => {
    await stuckFlood('239.192.77.185', 18492, 208 * 512); // Linux doubles it: 208 KiB
  });

  const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));
  // The kernel charges each 100-byte datagram 832 bytes of buffer, so 4 MiB (8 MiB as reported)
  // holds about 10,000 of them: 8,000 leaves a margin for a kernel that charges a little more.
  it.skipIf(rmemMax < DEFAULT_RECV_BUFFER_BYTES)('the default 4 MiB buffer takes 8,000 of them without a drop (where rmem_max allows it)', async () => {
    const { dropped, t } = await stuckFlood('239.192.77.185', 18490, undefined, 8_000);
    expect(t.recvBufferBytes()).toBeGreaterThanOrEqual(DEFAULT_RECV_BUFFER_BYTES);
    expect(dropped).toBe(0);
  });

  it('a datagram to the port on another address or group never reaches the PEP socket', async () => {
    const metrics = new Metrics();
    const t = await udpMulticastTransport({ group: '239.192.77.186', port: 18493, interfaceAddress: '127.0.0.1', log: silent, metrics });
    open.push(t);
    // Another socket on the host joins a second group on the same port (with a socket bound to
    // 0.0.0.0 the kernel would hand us that group's traffic too).
    const other = dgram.createSocket({ type: 'udp4', reuseAddr: true });
    open.push(other);
    await new Promise<void>((r) => other.bind(18493, '239.192.77.187', () => r()));
    other.addMembership('239.192.77.187', '127.0.0.1');
    const heard: string[] = [];
    t.onMessage((buf) => heard.push(buf.toString()));
    const s = dgram.createSocket('udp4');
    open.push(s);
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    s.setMulticastInterface('127.0.0.1');
    for (const [what, to] of [['unicast', '127.0.0.1'], ['other-group', '239.192.77.187'], ['group', '239.192.77.186']] as const) {
      await new Promise<void>((r) => s.send(what, 18493, to, () => r()));
    }
    await until(() => heard.includes('group'));
    await new Promise((r) => setTimeout(r, 50));
    expect(heard).toEqual(['group']);
  });
});

describe('the PEP socket is bound to its own address, not 0.0.0.0', () => {
  it('multicast: bound to the group', async () => {
    const t = await udpMulticastTransport({ group: '239.192.77.188', port: 18494, interfaceAddress: '127.0.0.1', log: silent });
    open.push(t);
    expect(t.address()).toEqual({ address: '239.192.77.188', port: 18494 });
  });

  it('seed mode: bound to the interface address', async () => {
    const t = await udpUnicastTransport({ port: 18495, interfaceAddress: '127.0.0.1', log: silent });
    open.push(t);
    expect(t.address()).toEqual({ address: '127.0.0.1', port: 18495 });
  });
});
