import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit, ProblemError } from '@cps/common';
import type { CoordinatorSchemas, DiscoveryClient } from '@cps/openapi';
import type { AuthEnv } from '../accounts/authenticate.ts';
import { call, UpstreamError } from '../upstream.ts';
import { contractBody } from './body.ts';
import type { CoordinatorContract } from './contract.ts';

type S = CoordinatorSchemas;

export interface JoinTokenRoutesDeps {
  contract: CoordinatorContract;
  /** This node's discovery, which issues the tokens and admits the workstations (docs/trust.md). */
  discovery: DiscoveryClient;
  /** Who may manage join tokens: requireAdmin() in a node with accounts. */
  admin: MiddlewareHandler<AuthEnv>;
}

const callTimeoutMs = 10_000;

/** The upstream's own answer for what the caller got wrong (a token it never issued), a 502 otherwise. */
function passOn(err: unknown): never {
  if (!(err instanceof UpstreamError)) throw err;
  if (err.failure.status === 404) throw new ProblemError('not-found', err.failure.detail);
  throw new ProblemError('upstream-failed', err.message);
}

/**
 * The admin page's join tokens: a pass-through to discovery's /trust/join-tokens (which is for
 * members only), so that an admin signed in to the portal can admit a workstation without a shell.
 */
export function joinTokenRoutes({ contract, discovery, admin }: JoinTokenRoutesDeps) {
  const app = new Hono<AuthEnv>();
  app.use('/api/join-tokens', admin).use('/api/join-tokens/*', admin);
  const signal = () => AbortSignal.timeout(callTimeoutMs);
  const tokenId = (raw: string) => contract.check('JoinTokenId', raw, 'path/tokenId');

  app.get('/api/join-tokens', async (c) => {
    try {
      const list = await call({ service: 'discovery' }, () => discovery.GET('/trust/join-tokens', { signal: signal() }));
      return c.json<{ items: S['JoinToken'][] }>({ items: list.items });
    } catch (err) {
      passOn(err);
    }
  });

  app.post('/api/join-tokens', bodyLimit(4 * 1024), async (c) => {
    const body = await contractBody(c, contract, 'JoinTokenRequest');
    try {
      const made = await call({ service: 'discovery' }, () => discovery.POST('/trust/join-tokens', { body, signal: signal() }));
      return c.json<S['NewJoinToken']>(made, 201);
    } catch (err) {
      passOn(err);
    }
  });

  app.delete('/api/join-tokens/:tokenId', async (c) => {
    const id = tokenId(c.req.param('tokenId'));
    try {
      const revoked = await call({ service: 'discovery' }, () =>
        discovery.DELETE('/trust/join-tokens/{tokenId}', { params: { path: { tokenId: id } }, signal: signal() }),
      );
      return c.json<S['JoinToken']>(revoked);
    } catch (err) {
      passOn(err);
    }
  });

  return app;
}
