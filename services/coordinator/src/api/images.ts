import { Hono, type MiddlewareHandler } from 'hono';
import { ProblemError } from '@cps/common';
import type { StorageClient } from '@cps/openapi';
import type { AuthEnv } from '../accounts/authenticate.ts';
import { call, UpstreamError } from '../upstream.ts';
import type { CoordinatorContract } from './contract.ts';
import { uploadImageToStorage } from '../uploads/images.ts';
import { declaredLength, requireBodyType } from './upload-body.ts';

export interface ImageRoutesDeps {
  contract: CoordinatorContract;
  /** This node's storage: it lists the images and keeps the uploaded ones. */
  storage: StorageClient;
  /** Who may upload (a signed-in user in a node with accounts); absent: anyone. */
  signedIn?: MiddlewareHandler<AuthEnv>;
}

/** The images this node's storage offers, trimmed to what a task request needs to know; and uploads. */
export function imageRoutes({ contract, storage, signedIn }: ImageRoutesDeps) {
  const app = new Hono<AuthEnv>();
  app.get('/api/images', async (c) => {
    try {
      const { items } = await call({ service: 'storage' }, () => storage.GET('/images', { signal: AbortSignal.timeout(10_000) }));
      return c.json({
        items: items.map((i) => ({ id: i.id, name: i.name, kind: i.kind, ...(i.description === undefined ? {} : { description: i.description }) })),
      });
    } catch (err) {
      if (err instanceof UpstreamError) throw new ProblemError('upstream-failed', err.message);
      throw err;
    }
  });

  if (signedIn) app.post('/api/images', signedIn);
  app.post('/api/images', requireBodyType(/^application\/octet-stream\s*(?:;|$)/i, 'application/octet-stream'), async (c) => {
    const q = c.req.query();
    const name = contract.check('UploadImageName', q.name, 'query/name');
    const format = q.format === undefined ? undefined : contract.check('UploadFormat', q.format, 'query/format');
    const sha256 = q.sha256 === undefined ? undefined : contract.check('Sha256', q.sha256, 'query/sha256');
    const contentLength = declaredLength(c.req.header('content-length'));
    const { created, image } = await uploadImageToStorage(storage, {
      body: c.req.raw.body,
      name,
      ...(format ? { format } : {}),
      ...(sha256 ? { sha256 } : {}),
      ...(contentLength !== undefined ? { contentLength } : {}),
    });
    return c.json(image, created ? 201 : 200);
  });
  return app;
}
