import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * A join token: `cps1.<CA SHA-256, 64 hex>.<id, 8 hex>.<secret, 43 base64url>.<expiry, unix s>`.
 * The CA hash lets a new workstation check the cluster it reaches *before* it sends anything
 * (k3s's secure token); the id names the token on its issuer; the secret proves the holder; the
 * expiry lets the joiner refuse a stale token without asking. Pure: no I/O here.
 */
export interface JoinToken {
  caSha256: string;
  id: string;
  secret: string;
  expiresAt: Date;
}

export class JoinTokenError extends Error {
  override name = 'JoinTokenError';
}

const shape = /^cps1\.([0-9a-f]{64})\.([0-9a-f]{8})\.([A-Za-z0-9_-]{43})\.([0-9]{1,12})$/;

export function encodeJoinToken(t: JoinToken): string {
  return `cps1.${t.caSha256}.${t.id}.${t.secret}.${Math.floor(t.expiresAt.getTime() / 1000)}`;
}

export function decodeJoinToken(text: string): JoinToken {
  const m = shape.exec(text.trim());
  if (!m) throw new JoinTokenError('this is not a CPS join token (it looks like cps1.<64 hex>.<8 hex>.<secret>.<expiry>; copy the whole line `cps join-token` printed)');
  return { caSha256: m[1]!, id: m[2]!, secret: m[3]!, expiresAt: new Date(Number(m[4]) * 1000) };
}

export function newTokenParts(): { id: string; secret: string } {
  return { id: randomBytes(4).toString('hex'), secret: randomBytes(32).toString('base64url') };
}

/** What the issuer keeps of a secret: its hash, so a copy of the file joins nobody. */
export const secretHash = (secret: string): string => createHash('sha256').update(`cps-join-v1\n${secret}`).digest('hex');

export function secretMatches(secret: string, hash: string): boolean {
  const a = Buffer.from(secretHash(secret), 'hex');
  const b = Buffer.from(hash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
