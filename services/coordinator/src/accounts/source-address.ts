import type { Context } from 'hono';

/**
 * The peer address of the connection (@hono/node-server puts the socket in `env.incoming`). No
 * forwarded-for header is believed: the coordinator is reached directly, never through a proxy.
 */
export function sourceAddress(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? 'unknown';
}
