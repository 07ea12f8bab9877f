import { createHash, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

export const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** Equal hex digests, compared in time that does not depend on where they differ. */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

export const newUserId = (): string => `u-${randomBytes(8).toString('hex')}`;
export const newTokenId = (): string => randomBytes(8).toString('hex');
/** 32 random bytes, base64url: a session id or a token's secret. */
export const newSecret = (): string => randomBytes(32).toString('base64url');

const tokenPattern = /^cps_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export const formatToken = (id: string, secret: string): string => `cps_${id}_${secret}`;

/** The id and secret of a bearer value, or undefined when it is not shaped like one of ours. */
export function parseToken(value: string): { id: string; secret: string } | undefined {
  const m = tokenPattern.exec(value);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

// No look-alikes (0/O, 1/l/I): the first admin's password is read off a terminal and typed.
const alphabet = 'abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';

/** 20 characters of a 57-letter alphabet: about 117 bits. */
export function newPassword(length = 20): string {
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[randomInt(alphabet.length)];
  return out;
}
