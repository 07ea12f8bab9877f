import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit, ProblemError } from '@cps/common';
import type { CoordinatorSchemas, StorageClient } from '@cps/openapi';
import type { AuthEnv } from '../accounts/authenticate.ts';
import { call, UpstreamError } from '../upstream.ts';
import { contractBody } from './body.ts';
import type { CoordinatorContract } from './contract.ts';

type S = CoordinatorSchemas;

export interface ImageBuildRoutesDeps {
  contract: CoordinatorContract;
  /** This node's storage: it runs the build and keeps the image. */
  storage: StorageClient;
  /** Who may build images: requireAdmin(). A build takes minutes of the donor's CPU and a network download. */
  admin: MiddlewareHandler<AuthEnv>;
}

const callTimeoutMs = 10_000;

/** Storage's own 404 (no such recipe, no build yet) for the caller; anything else is the upstream's failure. */
function passOn(err: unknown): never {
  if (!(err instanceof UpstreamError)) throw err;
  if (err.failure.status === 404) throw new ProblemError('not-found', err.failure.detail);
  throw new ProblemError('upstream-failed', err.message);
}

/** `cps image build` and the admin page: a pass-through to storage's /images/builds (members only). */
export function imageBuildRoutes({ contract, storage, admin }: ImageBuildRoutesDeps) {
  const app = new Hono<AuthEnv>();
  app.use('/api/images/builds', admin).use('/api/images/builds/*', admin);
  const signal = () => AbortSignal.timeout(callTimeoutMs);

  app.post('/api/images/builds', bodyLimit(4 * 1024), async (c) => {
    const body = await contractBody(c, contract, 'ImageBuildRequest');
    try {
      let status = 200;
      const b = await call({ service: 'storage' }, async () => {
        const r = await storage.POST('/images/builds', { body, signal: signal() });
        status = r.response.status;
        return r;
      });
      // 202: storage started it now; 200: one was already running.
      return c.json<S['ImageBuild']>(b, status === 202 ? 202 : 200);
    } catch (err) {
      passOn(err);
    }
  });

  app.get('/api/images/builds/:recipe', async (c) => {
    const recipe = contract.check('ImageRecipeId', c.req.param('recipe'), 'path/recipe');
    try {
      const b = await call({ service: 'storage' }, () => storage.GET('/images/builds/{recipe}', { params: { path: { recipe } }, signal: signal() }));
      return c.json<S['ImageBuild']>(b);
    } catch (err) {
      passOn(err);
    }
  });
  return app;
}
