import type { MiddlewareHandler } from 'hono';
import { ProblemError, problemResponse } from '@cps/common';
import type { AuthFailure, Accounts } from './accounts.ts';
import { clearSessionCookie, readSessionCookie, sessionCookieName, writeSessionCookie } from './session-cookie.ts';
import type { ApiToken, Session, User } from './types.ts';

export type SignInFailure = AuthFailure | 'session-ended';

export interface AuthVariables {
  /** The caller, when a session cookie or API token signs someone in. */
  user?: User;
  auth?: { via: 'session'; session: Session } | { via: 'token'; token: ApiToken } | { via: 'none'; failure?: SignInFailure };
}

/** The Hono environment of routes behind `authenticate`: `c.var.user`, `c.var.auth`. */
export type AuthEnv = { Variables: AuthVariables };

const failureText: Record<SignInFailure, string> = {
  'invalid-token': 'the API token is not valid',
  'token-revoked': 'the API token was revoked',
  'token-expired': 'the API token has expired',
  'account-disabled': 'the account is disabled',
  'session-ended': 'the session has ended; sign in again',
};

/**
 * Sets `c.var.user` from `Authorization: Bearer cps_...` (first) or the session cookie. It never
 * refuses: a route that needs a user says so with requireUser(), which tells the caller why what
 * they sent signs no one in. Runs once however often it is mounted.
 */
export function authenticate({ accounts }: { accounts: Accounts }): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    if (c.var.auth) return next();
    const header = c.req.header('authorization');
    if (header !== undefined) {
      const m = /^Bearer +(\S+) *$/i.exec(header);
      const check = m ? accounts.checkToken(m[1]!) : ({ failure: 'invalid-token' } as const);
      if ('failure' in check) c.set('auth', { via: 'none', failure: check.failure });
      else {
        c.set('user', check.user);
        c.set('auth', { via: 'token', token: check.token });
      }
      return next();
    }
    const value = readSessionCookie(c);
    const check = value === undefined ? undefined : accounts.checkSession(value);
    if (check && 'user' in check) {
      c.set('user', check.user);
      c.set('auth', { via: 'session', session: check.session });
      if (check.renewed) writeSessionCookie(c, value!, check.session, accounts.clock());
    } else {
      const sent = c.req.header('cookie')?.includes(`${sessionCookieName}=`);
      // A browser keeps sending a cookie whose session ended: tell it to drop it.
      if (sent) clearSessionCookie(c);
      c.set('auth', { via: 'none', ...(check ? { failure: check.failure } : sent ? { failure: 'session-ended' as const } : {}) });
    }
    return next();
  };
}

/** 401 `authentication-required` (with WWW-Authenticate: Bearer) unless someone is signed in. */
export function requireUser(): MiddlewareHandler<AuthEnv> {
  return async (c, next) => {
    if (c.var.user) return next();
    const auth = c.var.auth;
    const failure = auth?.via === 'none' ? auth.failure : undefined;
    const detail = failure ? failureText[failure] : 'sign in, or send Authorization: Bearer <API token>';
    const res = problemResponse(c, new ProblemError('authentication-required', detail));
    const bearerFailure = failure === 'invalid-token' || failure === 'token-revoked' || failure === 'token-expired';
    res.headers.set('WWW-Authenticate', bearerFailure ? `Bearer realm="cps", error="invalid_token"` : 'Bearer realm="cps"');
    return res;
  };
}

/** requireUser(), then 403 `forbidden` unless the user is an admin. */
export function requireAdmin(): MiddlewareHandler<AuthEnv> {
  const signedIn = requireUser();
  return (c, next) =>
    signedIn(c, async () => {
      if (c.var.user!.role !== 'admin') throw new ProblemError('forbidden', `${c.var.user!.name} is not an admin; this is an admin's route`);
      await next();
    });
}
