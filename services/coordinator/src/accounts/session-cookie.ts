import type { Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import type { Session } from './types.ts';
import { forwardedProto } from '../head/forwarded.ts';

export const sessionCookieName = 'cps_session';

// What newSecret() makes; anything else is not one of our sessions and is not even hashed.
const valuePattern = /^[A-Za-z0-9_-]{43}$/;

/**
 * Secure only over HTTPS: a browser drops a Secure cookie sent over plain HTTP (loopback). Through
 * a follower, by how the user reached the follower (the head was reached over TLS either way).
 */
const overHttps = (c: Context) => (forwardedProto(c) ?? new URL(c.req.url).protocol.slice(0, -1)) === 'https';

const flags = (c: Context) => ({ httpOnly: true, sameSite: 'Strict' as const, secure: overHttps(c), path: '/' });

export function readSessionCookie(c: Context): string | undefined {
  const value = getCookie(c, sessionCookieName);
  return value !== undefined && valuePattern.test(value) ? value : undefined;
}

/** Sets the cookie to live as long as the session, on the coordinator's clock. */
export function writeSessionCookie(c: Context, value: string, session: Session, now: Date): void {
  const maxAge = Math.max(0, Math.floor((Date.parse(session.expiresAt) - now.getTime()) / 1000));
  setCookie(c, sessionCookieName, value, { ...flags(c), maxAge });
}

export function clearSessionCookie(c: Context): void {
  setCookie(c, sessionCookieName, '', { ...flags(c), maxAge: 0 });
}
