import { stat } from 'node:fs/promises';
import { Contract, fenceCommands, fenceRoutes, healthRoutes, problemErrorHandler, problemNotFound, ProblemError, type EpochFence, type Logger } from '@cps/common';
import { specFiles, type StorageSchemas } from '@cps/openapi';
import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { validator } from 'hono/validator';
import { MiB, usableBytes } from './capacity.ts';
import type { TaskDiskStore } from './disks.ts';
import type { BootstrapStore } from './bootstraps.ts';
import type { ExportStore } from './exports.ts';
import { builtinImageIds, type ImageLibrary } from './images.ts';
import type { ImageBuilds } from './image-builds.ts';
import type { ImagePulls } from './image-pulls.ts';
import { fileResponse } from './ranges.ts';
import type { Transfers } from './transfer.ts';
import { contentLength } from './receive.ts';
import { uploadedImageId, type ImageUploads } from './uploads.ts';

export interface StorageDeps {
  images: ImageLibrary;
  disks: TaskDiskStore;
  uploads: ImageUploads;
  bootstraps: BootstrapStore;
  exports: ExportStore;
  transfers: Transfers;
  log: Logger;
  /** The node's fence (shared with its provisioner): commands of an older head are refused. None: unfenced, no /fence. */
  fence?: EpochFence;
  /** Builds images from Debian's packages (image-build.ts); none: no /images/builds routes. */
  imageBuilds?: ImageBuilds;
  /** Fetches an uploaded image a task needs from a peer that holds it (image-pulls.ts); none: never. */
  imagePulls?: ImagePulls;
}

// A TaskDisksRequest is a few short fields and at most ~96 KiB of cloud-init text.
const maxBodyBytes = 128 * 1024;
const jsonMediaType = /^application\/([\w.-]+\+)?json$/i;

/** The storage API (openapi/storage.yaml): images, and the disks of the tasks on this peer. */
export function createApp(deps: StorageDeps) {
  const contract = Contract.fromFile(specFiles.storage);
  // Path ids are checked against the contract's patterns before any handler builds a path.
  const pathId = (name: 'taskId' | 'imageId' | 'bootstrapId', schema: 'TaskId' | 'ImageId' | 'BootstrapId') =>
    validator('param', (v: Record<string, string>) => {
      contract.check<string>(schema, v[name], `path/${name}`);
      return v;
    });

  const fileNameParam = validator('param', (v: Record<string, string>) => {
    contract.check<string>('FileName', v.fileName, 'path/fileName');
    return v;
  });

  const app = new Hono();
  app.onError(problemErrorHandler(deps.log));
  app.notFound(problemNotFound);
  if (deps.fence) {
    // Before every route, so a refused command has touched nothing.
    app.use(fenceCommands(deps.fence, deps.log));
    app.route('/', fenceRoutes(deps.fence));
  }
  app.route('/', healthRoutes('storage', () => deps.disks.health()));

  app.get('/images', async (c) => c.json({ items: (await deps.images.list()).map((r) => r.image) }));

  app.get('/images/:imageId', pathId('imageId', 'ImageId'), async (c) => c.json((await deps.images.get(c.req.param('imageId'))).image));

  // A peer pulling an uploaded image this node holds (image-pulls.ts); members only, as every route.
  app.get('/images/:imageId/file', pathId('imageId', 'ImageId'), async (c) => {
    const { image, source } = await deps.images.get(c.req.param('imageId'));
    const file = source.kind === 'iso' || (source.kind === 'disk' && !source.kernelBoot) ? source.file : undefined;
    if (!file || builtinImageIds.has(image.id) || image.sha256 === undefined || uploadedImageId(image.sha256) !== image.id) {
      throw new ProblemError('image-not-found', `image ${image.id} is not an uploaded image: peers do not fetch it (each node builds its own)`);
    }
    return fileResponse(file, (await stat(file)).size, `"${image.sha256}"`, { range: c.req.header('range'), ifRange: c.req.header('if-range') });
  });

  const builds = deps.imageBuilds;
  if (builds) {
    app.post('/images/builds', requireJson, bodyLimit({ maxSize: 4096, onError: () => { throw new ProblemError('payload-too-large', 'a build request is at most 4096 bytes'); } }), contract.json<StorageSchemas['ImageBuildRequest']>('ImageBuildRequest'), (c) => {
      const { started, build } = builds.start(c.req.valid('json').recipe);
      return c.json(build, started ? 202 : 200);
    });
    app.get('/images/builds/:recipe', (c) => c.json(builds.get(contract.check<string>('ImageRecipeId', c.req.param('recipe'), 'path/recipe'))));
  }

  app.post('/images', requireType(/^application\/octet-stream$/i, 'application/octet-stream'), async (c) => {
    const q = c.req.query();
    const name = contract.check<string>('ImageName', q.name, 'query/name');
    const format = q.format === undefined ? undefined : contract.check<'qcow2' | 'raw' | 'iso'>('UploadFormat', q.format, 'query/format');
    const sha256 = q.sha256 === undefined ? undefined : contract.check<string>('Sha256', q.sha256, 'query/sha256');
    const length = contentLength(c.req.header('content-length'));
    const { created, image } = await deps.uploads.upload({
      body: c.req.raw.body,
      name,
      ...(format ? { format } : {}),
      ...(sha256 ? { sha256 } : {}),
      ...(length !== undefined ? { contentLength: length } : {}),
    });
    return c.json(image, created ? 201 : 200);
  });

  app.delete('/images/:imageId', pathId('imageId', 'ImageId'), async (c) => {
    await deps.uploads.delete(c.req.param('imageId'));
    return c.body(null, 204);
  });

  app.post('/bootstraps', requireType(/^application\/(x-)?tar$/i, 'application/x-tar'), async (c) => {
    const { created, bootstrap } = await deps.bootstraps.upload(c.req.raw.body, contentLength(c.req.header('content-length')));
    return c.json(bootstrap, created ? 201 : 200);
  });

  app.get('/bootstraps/:bootstrapId', pathId('bootstrapId', 'BootstrapId'), async (c) => c.json(await deps.bootstraps.get(c.req.param('bootstrapId'))));

  app.delete('/bootstraps/:bootstrapId', pathId('bootstrapId', 'BootstrapId'), async (c) => {
    await deps.bootstraps.delete(c.req.param('bootstrapId'));
    return c.body(null, 204);
  });

  app.get('/capacity', async (c) => {
    const s = await deps.disks.space();
    let available = usableBytes(s);
    const quota = deps.disks.quotaBytes;
    let quotaFields = {};
    if (quota !== undefined) {
      const committed = await deps.disks.committedBytes();
      available = Math.min(available, Math.max(0, quota - committed));
      quotaFields = { quotaMiB: Math.floor(quota / MiB), committedMiB: Math.ceil(committed / MiB) };
    }
    const body: StorageSchemas['StorageCapacity'] = { ...s, availableMiB: Math.floor(available / MiB), ...quotaFields };
    return c.json(body);
  });

  app.put(
    '/disks/:taskId',
    pathId('taskId', 'TaskId'),
    requireJson,
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: () => {
        throw new ProblemError('payload-too-large', `a disks request is at most ${maxBodyBytes} bytes`);
      },
    }),
    contract.json<StorageSchemas['TaskDisksRequest']>('TaskDisksRequest'),
    async (c) => {
      // An uploaded image only a peer holds is fetched first; the answer says so (the task's history shows it).
      const imagePull = await deps.imagePulls?.ensure(c.req.valid('json').image);
      const { created, disks } = await deps.disks.create(c.req.param('taskId'), c.req.valid('json'));
      return c.json(imagePull ? { ...disks, imagePull } : disks, created ? 201 : 200);
    },
  );

  app.get('/disks/:taskId', pathId('taskId', 'TaskId'), async (c) => c.json(await deps.disks.get(c.req.param('taskId'))));

  app.delete('/disks/:taskId', pathId('taskId', 'TaskId'), async (c) => {
    await deps.disks.discard(c.req.param('taskId'));
    return c.body(null, 204);
  });

  app.get('/disks/:taskId/files', pathId('taskId', 'TaskId'), async (c) => c.json(await deps.transfers.manifest(c.req.param('taskId'))));

  app.get('/disks/:taskId/files/:area/:fileName', pathId('taskId', 'TaskId'), fileNameParam, async (c) => {
    const area = contract.check<'disks' | 'checkpoints'>('TransferArea', c.req.param('area'), 'path/area');
    const { path, file } = await deps.transfers.file(c.req.param('taskId'), area, c.req.param('fileName'));
    return fileResponse(path, file.sizeBytes, `"${file.sha256}"`, { range: c.req.header('range'), ifRange: c.req.header('if-range') });
  });

  app.post('/disks/:taskId/pull', pathId('taskId', 'TaskId'), requireJson, contract.json<StorageSchemas['PullRequest']>('PullRequest'), async (c) => {
    const { created, disks } = await deps.transfers.pull(c.req.param('taskId'), c.req.valid('json').sourceNode);
    return c.json(disks, created ? 201 : 200);
  });

  app.get('/checkpoints/:taskId/files', pathId('taskId', 'TaskId'), async (c) => c.json(await deps.transfers.checkpointManifest(c.req.param('taskId'))));

  app.post('/checkpoints/:taskId/pull', pathId('taskId', 'TaskId'), requireJson, contract.json<StorageSchemas['PullRequest']>('PullRequest'), async (c) =>
    c.json(await deps.transfers.pullCheckpoint(c.req.param('taskId'), c.req.valid('json').sourceNode), 201),
  );

  app.get('/exports', async (c) => c.json({ items: await deps.exports.list() }));

  app.get('/exports/:taskId', pathId('taskId', 'TaskId'), async (c) => c.json(await deps.exports.get(c.req.param('taskId'))));

  app.delete('/exports/:taskId', pathId('taskId', 'TaskId'), async (c) => {
    await deps.exports.delete(c.req.param('taskId'));
    return c.body(null, 204);
  });

  app.get('/exports/:taskId/:fileName', pathId('taskId', 'TaskId'), fileNameParam, async (c) => {
    const { path, file } = await deps.exports.file(c.req.param('taskId'), c.req.param('fileName'));
    return fileResponse(path, file.sizeBytes, `"${file.sha256}"`, { range: c.req.header('range'), ifRange: c.req.header('if-range') });
  });

  return app;
}

/** Refuses a body of another media type before a byte of it is read. */
function requireType(pattern: RegExp, expected: string): MiddlewareHandler {
  return async (c, next) => {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim();
    if (!pattern.test(type)) {
      throw new ProblemError('unsupported-media-type', `send the body as ${expected} (got ${type ? JSON.stringify(type.slice(0, 100)) : 'no content-type'})`);
    }
    await next();
  };
}

/** Without this, Hono's validator reads a body of any other type as `{}` and reports missing fields. */
const requireJson = requireType(jsonMediaType, 'application/json');
