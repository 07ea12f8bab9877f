import { Hono, type MiddlewareHandler } from 'hono';
import { ProblemError } from '@cps/common';
import type { DiscoveryClient, StorageClient } from '@cps/openapi';
import type { ClientsFor } from '../clients.ts';
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
  /** With both: each uploaded image says which nodes hold it (this one and the alive peers' storage). */
  discovery?: DiscoveryClient;
  clientsFor?: ClientsFor;
}

/** The id storage gives uploaded bytes (storage uploads.ts): the images that travel between peers. */
const isUploaded = (i: { id: string; sha256?: string | undefined }) => i.sha256 !== undefined && i.id === `img-${i.sha256.slice(0, 24)}`;

/**
 * Which nodes hold each uploaded image, by id: this node (from `local`) and every alive peer whose
 * storage answers GET /images within 2 s (one that does not is left out, never an error).
 */
async function holdersOf(local: Array<{ id: string; sha256?: string }>, discovery: DiscoveryClient, clientsFor: ClientsFor): Promise<Map<string, string[]>> {
  const signal = () => AbortSignal.timeout(2_000);
  const [self, peers] = await Promise.all([discovery.GET('/self', { signal: signal() }), discovery.GET('/peers', { signal: signal() })]);
  const out = new Map<string, string[]>();
  const add = (nodeId: string, items: Array<{ id: string; sha256?: string }>) => {
    for (const i of items) if (isUploaded(i)) out.set(i.id, [...(out.get(i.id) ?? []), nodeId]);
  };
  if (self.data) add(self.data.nodeId, local);
  const alive = (peers.data?.items ?? []).filter((p) => p.state === 'alive');
  const lists = await Promise.all(alive.map((p) => clientsFor(p).storage.GET('/images', { signal: signal() }).then((r) => r.data?.items ?? [], () => [])));
  alive.forEach((p, n) => add(p.nodeId, lists[n]!));
  return out;
}

/** The images this node's storage offers, trimmed to what a task request needs to know; and uploads. */
export function imageRoutes({ contract, storage, signedIn, discovery, clientsFor }: ImageRoutesDeps) {
  const app = new Hono<AuthEnv>();
  app.get('/api/images', async (c) => {
    try {
      const { items } = await call({ service: 'storage' }, () => storage.GET('/images', { signal: AbortSignal.timeout(10_000) }));
      const holders = discovery && clientsFor ? await holdersOf(items, discovery, clientsFor).catch(() => undefined) : undefined;
      return c.json({
        items: items.map((i) => ({
          id: i.id,
          name: i.name,
          kind: i.kind,
          ...(i.description === undefined ? {} : { description: i.description }),
          ...(holders?.has(i.id) ? { holders: holders.get(i.id)! } : {}),
        })),
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
