import type { MiddlewareHandler } from 'hono';
import type { Caller } from '@cps/common';
import { requireUser, type AuthEnv } from './authenticate.ts';

/**
 * requireUser(), except that a member of this cluster (a node's service with its certificate,
 * checked at the door) may read: the vnc-gateway asks where a task runs to open its console.
 * It changes nothing, so it needs no owner; every write still needs a signed-in user.
 */
export function requireUserOrMemberRead(): MiddlewareHandler<AuthEnv> {
  const signedIn = requireUser();
  return (c, next) => {
    const caller = (c.env as { caller?: Caller } | undefined)?.caller;
    const reads = c.req.method === 'GET' || c.req.method === 'HEAD';
    if (reads && caller?.kind === 'member' && !c.req.header('authorization') && !c.var.user) return next();
    return signedIn(c, next);
  };
}
