import { Hono } from 'hono';
import { bodyLimit, ProblemError, problemResponse } from '@cps/common';
import type { CoordinatorSchemas } from '@cps/openapi';
import type { Accounts } from '../accounts/accounts.ts';
import { authenticate, requireAdmin, requireUser, type AuthEnv } from '../accounts/authenticate.ts';
import { clearSessionCookie, readSessionCookie, writeSessionCookie } from '../accounts/session-cookie.ts';
import type { SignInLimiter } from '../accounts/sign-in-limiter.ts';
import { sourceAddress } from '../accounts/source-address.ts';
import { tokenView, userView } from '../accounts/views.ts';
import { contractBody } from './body.ts';
import type { CoordinatorContract } from './contract.ts';

type S = CoordinatorSchemas;

export interface AccountRoutesDeps {
  contract: CoordinatorContract;
  accounts: Accounts;
  limiter: SignInLimiter;
}

// Every body here is a few short strings.
const maxBodyBytes = 16 * 1024;

/** Sign-in and out, the caller, their API tokens, and the admin's users. */
export function accountRoutes({ contract, accounts, limiter }: AccountRoutesDeps) {
  const app = new Hono<AuthEnv>();
  const auth = authenticate({ accounts });
  const small = bodyLimit(maxBodyBytes);
  const tokenId = (raw: string) => contract.check('TokenId', raw, 'path/tokenId');
  const userId = (raw: string) => contract.check('UserId', raw, 'path/userId');

  app.post('/api/session', small, async (c) => {
    const body = await contractBody(c, contract, 'SignIn');
    const address = sourceAddress(c);
    try {
      limiter.begin(body.name, address);
    } catch (err) {
      if (!(err instanceof ProblemError)) throw err;
      const res = problemResponse(c, err);
      res.headers.set('Retry-After', String(err.extensions.retryAfterSec));
      return res;
    }
    const user = await accounts.checkPassword(body.name, body.password);
    if (!user) throw new ProblemError('sign-in-failed', 'the name or password is wrong');
    limiter.succeeded(body.name, address);
    // A new id at every sign-in: a session id planted before it signs no one in.
    const old = readSessionCookie(c);
    if (old) accounts.endSession(old);
    const { value, session } = accounts.startSession(user.id);
    writeSessionCookie(c, value, session, accounts.clock());
    return c.json<S['SignedIn']>({ user: userView(user), expiresAt: session.expiresAt });
  });

  app.delete('/api/session', (c) => {
    const value = readSessionCookie(c);
    if (value) accounts.endSession(value);
    clearSessionCookie(c);
    return c.body(null, 204);
  });

  app.get('/api/me', auth, requireUser(), (c) => {
    const a = c.var.auth;
    return c.json<S['Me']>({
      user: userView(c.var.user!),
      via: a?.via === 'token' ? 'token' : 'session',
      ...(a?.via === 'session' ? { sessionExpiresAt: a.session.expiresAt } : {}),
    });
  });

  app.get('/api/tokens', auth, requireUser(), (c) => c.json({ items: accounts.listTokens(c.var.user!.id).map(tokenView) }));

  app.post('/api/tokens', small, auth, requireUser(), async (c) => {
    const body = await contractBody(c, contract, 'TokenRequest');
    const { token, value } = await accounts.createToken(c.var.user!.id, body.name, body.expiresInDays);
    return c.json<S['NewApiToken']>({ ...tokenView(token), token: value }, 201);
  });

  app.delete('/api/tokens/:tokenId', auth, requireUser(), (c) => {
    accounts.revokeToken(c.var.user!, tokenId(c.req.param('tokenId')));
    return c.body(null, 204);
  });

  app.get('/api/users', auth, requireAdmin(), (c) => c.json({ items: accounts.list().map(userView) }));

  app.post('/api/users', small, auth, requireAdmin(), async (c) => {
    const body = await contractBody(c, contract, 'UserRequest');
    const user = await accounts.createUser(body);
    return c.json<S['User']>(userView(user), 201, { Location: `/api/users/${user.id}` });
  });

  app.patch('/api/users/:userId', small, auth, requireAdmin(), async (c) => {
    const id = userId(c.req.param('userId'));
    const body = await contractBody(c, contract, 'UserPatch');
    return c.json<S['User']>(userView(await accounts.update(id, body)));
  });

  return app;
}
