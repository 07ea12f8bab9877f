// @peculiar/x509 resolves its classes through tsyringe, which needs the reflect polyfill loaded
// first; and it signs with whatever WebCrypto it is given: Node's own.
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
export const subtle = webcrypto.subtle;

/** ECDSA P-256 with SHA-256: small keys, fast handshakes, what every TLS stack speaks. */
export const keyAlgorithm = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
