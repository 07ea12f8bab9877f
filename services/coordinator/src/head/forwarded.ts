import type { Context } from 'hono';
import type { Caller } from '@cps/common';

/**
 * The headers a follower puts on a request it forwards to the head. Believed only from a member
 * (the door checked its certificate, and the node it names is the caller's): a browser can send
 * them too, to the head or to a follower, and is then ignored as if it had not.
 */
export const forwardedHeaders = {
  /** The node that forwarded (its id): also the loop guard, a request is forwarded once. */
  by: 'x-cps-forwarded-by',
  /** The user's own address, for the sign-in rate limit and logs. */
  for: 'x-cps-forwarded-for',
  /** How the user reached the follower (http or https): the session cookie is Secure only over https. */
  proto: 'x-cps-forwarded-proto',
} as const;

const callerOf = (c: Context): Caller | undefined => (c.env as { caller?: Caller } | undefined)?.caller;

/** The node that forwarded this request, when a member did (its certificate names that node). */
export function forwardedBy(c: Context): string | undefined {
  const caller = callerOf(c);
  const by = c.req.header(forwardedHeaders.by);
  return caller?.kind === 'member' && by !== undefined && by === caller.nodeId ? by : undefined;
}

const addressChars = /^[0-9A-Fa-f.:]{2,45}$/;

/** The user's address as the forwarding member says it; undefined when not member-forwarded. */
export function forwardedFor(c: Context): string | undefined {
  if (!forwardedBy(c)) return undefined;
  const v = c.req.header(forwardedHeaders.for);
  return v !== undefined && addressChars.test(v) ? v : undefined;
}

/** The protocol the user spoke to the follower; undefined when not member-forwarded. */
export function forwardedProto(c: Context): 'http' | 'https' | undefined {
  if (!forwardedBy(c)) return undefined;
  const v = c.req.header(forwardedHeaders.proto);
  return v === 'http' || v === 'https' ? v : undefined;
}
