import dgram from 'node:dgram';
import type { Logger } from 'pino';

/**
 * The datagram layer under PEP, kept thin and swappable (as memberlist's Transport): the real one
 * is UDP multicast, the in-memory one lets tests run many nodes in one process with no sockets.
 */

export interface Rinfo {
  address: string;
  port: number;
}

export interface Transport {
  /** Sends to the group, or to one peer when `to` is given (unicast, for seeds later). */
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
}

/** Binds, joins the group and resolves; rejects only if binding or joining fails. */
export function udpMulticastTransport(o: UdpOptions): Promise<Transport> {
  const sock = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  const handlers: Array<(buf: Buffer, rinfo: Rinfo) => void> = [];
  return new Promise((resolve, reject) => {
    const onBindError = (err: Error) => {
      o.log.error({ err, port: o.port }, 'PEP socket could not bind');
      reject(err);
    };
    sock.once('error', onBindError);
    sock.bind(o.port, () => {
      sock.off('error', onBindError);
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
        sock.close();
        reject(err);
        return;
      }
      // After bind, socket errors are per-datagram trouble (e.g. EHOSTUNREACH): log, keep serving.
      sock.on('error', (err) => o.log.warn({ err }, 'PEP socket error'));
      sock.on('message', (buf, r) => {
        for (const h of handlers) h(buf, { address: r.address, port: r.port });
      });
      o.log.info({ group: o.group, port: o.port, interface: o.interfaceAddress }, 'PEP joined multicast group');
      resolve({
        send(buf, to) {
          sock.send(buf, to?.port ?? o.port, to?.address ?? o.group, (err) => {
            if (err) o.log.warn({ err, to: to ?? o.group }, 'PEP send failed');
          });
        },
        onMessage(cb) {
          handlers.push(cb);
        },
        close: () => new Promise<void>((res) => sock.close(() => res())),
      });
    });
  });
}

/**
 * Unicast only (seed mode, docs/pep.md §1): binds `interfaceAddress:port` and joins no group, so
 * it works where multicast is blocked. Several nodes on one host need distinct ports.
 */
export function udpUnicastTransport(o: Omit<UdpOptions, 'group' | 'ttl'>): Promise<Transport> {
  const sock = dgram.createSocket({ type: 'udp4' });
  const handlers: Array<(buf: Buffer, rinfo: Rinfo) => void> = [];
  return new Promise((resolve, reject) => {
    const onBindError = (err: Error) => {
      o.log.error({ err, port: o.port, interface: o.interfaceAddress }, 'PEP socket could not bind');
      reject(err);
    };
    sock.once('error', onBindError);
    sock.bind(o.port, o.interfaceAddress, () => {
      sock.off('error', onBindError);
      sock.on('error', (err) => o.log.warn({ err }, 'PEP socket error'));
      sock.on('message', (buf, r) => {
        for (const h of handlers) h(buf, { address: r.address, port: r.port });
      });
      o.log.info({ port: o.port, interface: o.interfaceAddress }, 'PEP bound for unicast (multicast off)');
      resolve({
        send(buf, to) {
          if (!to) return; // no group to send to: fanoutTransport names every target
          sock.send(buf, to.port, to.address, (err) => {
            if (err) o.log.warn({ err, to }, 'PEP send failed');
          });
        },
        onMessage(cb) {
          handlers.push(cb);
        },
        close: () => new Promise<void>((res) => sock.close(() => res())),
      });
    });
  });
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
