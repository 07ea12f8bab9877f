import type { MiddlewareHandler } from 'hono';
import { ProblemError } from '@cps/common';

/** Refuses a body of another content type (unsupported-media-type), before any of it is read. */
export function requireBodyType(type: RegExp, name: string): MiddlewareHandler {
  return async (c, next) => {
    const got = c.req.header('content-type') ?? '';
    if (!type.test(got)) throw new ProblemError('unsupported-media-type', `the body must be sent as ${name} (got ${got ? JSON.stringify(got.slice(0, 100)) : 'none'})`);
    await next();
  };
}

/** The Content-Length header as a number; a malformed one is refused, an absent one is undefined. */
export function declaredLength(raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^\d{1,16}$/.test(raw)) throw new ProblemError('bad-request', `Content-Length ${JSON.stringify(raw.slice(0, 40))} is not a byte count`);
  return Number(raw);
}
