import type { Context } from 'hono';
import { forwardedFor } from '../head/forwarded.ts';

/**
 * The peer address of the connection (@hono/node-server puts the socket in `env.incoming`), or,
 * for a request a follower forwarded to the head, the user's address it names: believed only from a
 * member (head/forwarded.ts), never a browser's forwarded-for header.
 */
export function sourceAddress(c: Context): string {
  const forwarded = forwardedFor(c);
  if (forwarded) return forwarded;
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'unknown';
}
