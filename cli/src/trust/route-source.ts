import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';

/**
 * The local address this machine would use to reach `host`: the address of the interface that
 * routes there. A connected UDP socket makes the kernel choose it; no datagram is sent.
 */
export function sourceAddressFor(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    s.once('error', (err) => {
      s.close();
      reject(err);
    });
    s.connect(port, host, () => {
      const { address } = s.address();
      s.close();
      resolve(address);
    });
  });
}
