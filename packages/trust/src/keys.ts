import { createPrivateKey, createPublicKey } from 'node:crypto';
import { keyAlgorithm, subtle } from './x509.ts';

/** A fresh extractable P-256 key pair. */
export function newKeyPair(): Promise<CryptoKeyPair> {
  return subtle.generateKey(keyAlgorithm, true, ['sign', 'verify']) as Promise<CryptoKeyPair>;
}

/** The private key as PKCS#8 PEM, the form node:tls takes. */
export async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await subtle.exportKey('pkcs8', key));
  return createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }).export({ format: 'pem', type: 'pkcs8' }).toString();
}

/** A PEM private key back as a key pair for signing (node:crypto parses, WebCrypto signs). */
export async function keyPairFromPem(pem: string): Promise<CryptoKeyPair> {
  const priv = createPrivateKey(pem);
  const pkcs8 = priv.export({ format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
  const privateKey = await subtle.importKey('pkcs8', pkcs8, keyAlgorithm, true, ['sign']);
  const publicKey = await subtle.importKey('spki', spki, keyAlgorithm, true, ['verify']);
  return { privateKey, publicKey };
}
