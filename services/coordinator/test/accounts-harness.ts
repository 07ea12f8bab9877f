import { Hono } from 'hono';
import { loopbackDoor, problemErrorHandler, problemNotFound, publicDoor } from '@cps/common';
import { coordinatorContract } from '../src/api/contract.ts';
import { Accounts, type SessionTimes } from '../src/accounts/accounts.ts';
import { authenticate, requireUser } from '../src/accounts/authenticate.ts';
import { MemoryAccountStore } from '../src/accounts/memory-store.ts';
import { SignInLimiter, type SignInLimits, defaultSignInLimits } from '../src/accounts/sign-in-limiter.ts';
import { accountRoutes } from '../src/api/accounts.ts';

export const contract = coordinatorContract;

/** A clock the test moves by hand. */
export function virtualClock(start = '2026-12-01T10:00:00.000Z') {
  let t = new Date(start).getTime();
  return {
    now: () => new Date(t),
    advance: (ms: number) => void (t += ms),
  };
}

export const passwords = { alice: 'alice-correct-horse', bob: 'bob-battery-staple' };

/**
 * The account routes and the middleware as a coordinator mounts them (plus one route of its own
 * behind requireUser, standing for the task routes), two users and the first admin.
 */
export async function accountsHarness(opts: { limits?: Partial<SignInLimits>; session?: SessionTimes; door?: boolean } = {}) {
  const clock = virtualClock();
  const store = new MemoryAccountStore();
  const accounts = new Accounts({ store, now: clock.now, ...(opts.session ? { session: opts.session } : {}) });
  const limiter = new SignInLimiter(clock.now, { ...defaultSignInLimits, ...opts.limits });
  // A plain Hono app, as createApp makes: the middleware brings its own types.
  const app = new Hono();
  app.onError(problemErrorHandler());
  app.notFound(problemNotFound);
  // As createApp does: the public door before every route.
  if (opts.door) app.use('*', publicDoor(loopbackDoor));
  app.use('/api/*', authenticate({ accounts }));
  app.route('/', accountRoutes({ contract, accounts, limiter }));
  app.get('/api/whoami', requireUser(), (c) => c.json({ name: c.var.user!.name, via: c.var.auth!.via }));

  const first = (await accounts.ensureFirstAdmin())!;
  const alice = await accounts.createUser({ name: 'alice', password: passwords.alice });
  const bob = await accounts.createUser({ name: 'bob', password: passwords.bob });

  /** A request as @hono/node-server hands it to the app: the socket's address in env.incoming. */
  const call = (path: string, init: RequestInit & { from?: string; https?: boolean } = {}) => {
    const { from = '192.0.2.10', https = false, ...rest } = init;
    return app.request(`${https ? 'https' : 'http'}://localhost${path}`, rest, { incoming: { socket: { remoteAddress: from } } });
  };
  const json = (method: string, path: string, body: unknown, headers: Record<string, string> = {}, extra: { from?: string; https?: boolean } = {}) =>
    call(path, { method, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), ...extra });
  const signIn = (name: string, password: string, extra: { from?: string; https?: boolean } = {}) => json('POST', '/api/session', { name, password }, {}, extra);

  /** Signs in and returns the Cookie header that carries the session. */
  const cookieFor = async (name: string, password: string) => {
    const res = await signIn(name, password);
    if (res.status !== 200) throw new Error(`sign-in of ${name} answered ${res.status}: ${await res.text()}`);
    return sessionCookie(res)!;
  };
  const tokenFor = async (cookie: string, name = 'laptop') => {
    const res = await json('POST', '/api/tokens', { name }, { cookie });
    if (res.status !== 201) throw new Error(`token answered ${res.status}: ${await res.text()}`);
    return ((await res.json()) as { id: string; token: string });
  };

  return { clock, store, accounts, limiter, app, call, json, signIn, cookieFor, tokenFor, admin: first.user, adminPassword: first.password, alice, bob };
}

/** `cps_session=<value>` from a response's Set-Cookie, for the next request's Cookie header. */
export function sessionCookie(res: Response): string | undefined {
  const line = res.headers.getSetCookie().find((l) => l.startsWith('cps_session='));
  return line?.split(';')[0];
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
