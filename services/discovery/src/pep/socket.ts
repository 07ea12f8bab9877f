import dgram from 'node:dgram';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.ts';
import { exportSocketStats, procFs, socketsBefore, type ProcReader } from './socket-stats.ts';

/**
 * The datagram layer under PEP, kept thin and swappable (as memberlist's Transport): the real one
 * is UDP multicast, the in-memory one lets tests run many nodes in one process with no sockets.
 */

export interface Rinfo {
  address: string;
  port: number;
}

export interface Transport {
  /** Sends to the group, or to one peer when `to` is given (seed mode; a group-bound socket hears no unicast reply). */
  send(buf: Buffer, to?: Rinfo): void;
  onMessage(cb: (buf: Buffer, rinfo: Rinfo) => void): void;
  close(): Promise<void>;
}

export interface UdpOptions {
  group: string;
  port: number;
  /** The local interface address to join on and send from; 127.0.0.1 keeps PEP on loopback. */
  interfaceAddress: string;
  ttl?: number;
  log: Logger;
  /** SO_RCVBUF to ask for (CPS_PEP_RECV_BUFFER_KIB); the kernel caps it at net.core.rmem_max. */
  recvBufferBytes?: number;
  /** Where the kernel's drops for this socket and its buffer size go; without it they are not exported. */
  metrics?: Metrics;
  proc?: ProcReader;
}

export const DEFAULT_RECV_BUFFER_BYTES = 4096 * 1024;

export interface UdpTransport extends Transport {
  /** Where the socket is bound: the group (multicast) or the interface address (seed mode). */
  address(): Rinfo;
  /** The receive buffer as the kernel reports it. */
  recvBufferBytes(): number;
}

/**
 * Creates, sizes and binds the socket on `bindAddress`, runs `setup` (group membership), and
 * wires messages and the drop counter. Rejects only if binding or `setup` fails.
 */
function bindUdp(
  o: Omit<UdpOptions, 'group' | 'ttl'>,
  bindAddress: string,
  reuseAddr: boolean,
  setup: (sock: dgram.Socket) => void,
  send: (sock: dgram.Socket, buf: Buffer, to?: Rinfo) => void,
): Promise<UdpTransport> {
  const requestedBytes = o.recvBufferBytes ?? DEFAULT_RECV_BUFFER_BYTES;
  const sock = dgram.createSocket({ type: 'udp4', reuseAddr, recvBufferSize: requestedBytes });
  const handlers: Array<(buf: Buffer, rinfo: Rinfo) => void> = [];
  const proc = o.proc ?? procFs;
  const ownBefore = o.metrics ? socketsBefore(proc) : new Set<number>();
  return new Promise((resolve, reject) => {
    const onBindError = (err: Error) => {
      o.log.error({ err, port: o.port, address: bindAddress }, 'PEP socket could not bind');
      reject(err);
    };
    sock.once('error', onBindError);
    sock.bind(o.port, bindAddress, () => {
      sock.off('error', onBindError);
      try {
        setup(sock);
      } catch (err) {
        sock.close();
        reject(err);
        return;
      }
      // After bind, socket errors are per-datagram trouble (e.g. EHOSTUNREACH): log, keep serving.
      sock.on('error', (err) => o.log.warn({ err }, 'PEP socket error'));
      sock.on('message', (buf, r) => {
        for (const h of handlers) h(buf, { address: r.address, port: r.port });
      });
      const local = { address: sock.address().address, port: sock.address().port };
      const recvBufferBytes = () => sock.getRecvBufferSize();
      if (o.metrics) exportSocketStats({ metrics: o.metrics, log: o.log, proc, local, ownBefore, requestedBytes, effectiveBytes: recvBufferBytes });
      resolve({
        send: (buf, to) => send(sock, buf, to),
        onMessage(cb) {
          handlers.push(cb);
        },
        close: () => new Promise<void>((res) => sock.close(() => res())),
        address: () => local,
        recvBufferBytes,
      });
    });
  });
}

/**
 * Multicast: binds the group address itself, not 0.0.0.0, so the kernel queues only this group's
 * datagrams on this port (no unicast, no other group) and a flood from elsewhere cannot fill the
 * buffer. Nothing is lost by it: in multicast mode every PEP message goes to the group (docs/pep.md §1).
 */
export function udpMulticastTransport(o: UdpOptions): Promise<UdpTransport> {
  return bindUdp(
    o,
    o.group,
    true, // SO_REUSEADDR: several nodes on one host share group and port
    (sock) => {
      try {
        sock.addMembership(o.group, o.interfaceAddress);
        sock.setMulticastInterface(o.interfaceAddress);
        sock.setMulticastTTL(o.ttl ?? 1); // never leaves the LAN segment
        sock.setMulticastLoopback(true); // a one-node CPS must hear and answer itself
      } catch (err) {
        o.log.error(
          { err, group: o.group, interface: o.interfaceAddress },
          'PEP could not join the multicast group; check CPS_PEP_INTERFACE is an address of this host ' +
            '(on loopback: `ip link set lo multicast on`)',
        );
        throw err;
      }
      o.log.info({ group: o.group, port: o.port, interface: o.interfaceAddress }, 'PEP joined multicast group');
    },
    (sock, buf, to) => {
      sock.send(buf, to?.port ?? o.port, to?.address ?? o.group, (err) => {
        if (err) o.log.warn({ err, to: to ?? o.group }, 'PEP send failed');
      });
    },
  );
}

/**
 * Unicast only (seed mode, docs/pep.md §1): binds `interfaceAddress:port` and joins no group, so
 * it works where multicast is blocked. Several nodes on one host need distinct ports.
 */
export function udpUnicastTransport(o: Omit<UdpOptions, 'group' | 'ttl'>): Promise<UdpTransport> {
  return bindUdp(
    o,
    o.interfaceAddress,
    false,
    () => o.log.info({ port: o.port, interface: o.interfaceAddress }, 'PEP bound for unicast (multicast off)'),
    (sock, buf, to) => {
      if (!to) return; // no group to send to: fanoutTransport names every target
      sock.send(buf, to.port, to.address, (err) => {
        if (err) o.log.warn({ err, to }, 'PEP send failed');
      });
    },
  );
}

/**
 * A multicast group in memory. Every endpoint, including the sender, gets each group datagram,
 * on a later tick (as the network would). `filter` lets a test lose packets on purpose.
 */
export class MemoryBus {
  private readonly members = new Map<string, Array<(buf: Buffer, rinfo: Rinfo) => void>>();
  filter: (buf: Buffer, from: string, to: string) => boolean = () => true;
  /** false: the network blocks multicast; only datagrams sent to one address arrive. */
  multicast = true;
  delivered = 0;

  transport(address: string): Transport {
    const handlers: Array<(buf: Buffer, rinfo: Rinfo) => void> = [];
    this.members.set(address, handlers);
    return {
      send: (buf, to) => {
        if (!to && !this.multicast) return;
        const copy = Buffer.from(buf);
        for (const [addr, hs] of this.members) {
          if (to && to.address !== addr) continue;
          if (!this.filter(copy, address, addr)) continue;
          setImmediate(() => {
            this.delivered++;
            for (const h of hs) h(copy, { address, port: 0 });
          });
        }
      },
      onMessage: (cb) => {
        handlers.push(cb);
      },
      close: async () => {
        this.members.delete(address);
      },
    };
  }
}
