import { Hono, type MiddlewareHandler } from 'hono';
import { ProblemError, problemContentType } from '@cps/common';
import type { CoordinatorSchemas } from '@cps/openapi';
import type { AuthEnv } from '../accounts/authenticate.ts';
import type { ClientsFor, NodeAddress } from '../clients.ts';
import { endedStates } from '../tasks/states.ts';
import type { Task } from '../tasks/store.ts';
import type { Tasks } from '../tasks/tasks.ts';
import type { CoordinatorContract } from './contract.ts';
import { ownedTaskOf } from './owned-task.ts';

type TaskDownloadList = CoordinatorSchemas['TaskDownloadList'];

export interface DownloadRoutesDeps {
  contract: CoordinatorContract;
  tasks: Tasks;
  clientsFor: ClientsFor;
  now: () => Date;
  signedIn?: MiddlewareHandler<AuthEnv>;
}

/** The headers of storage's answer a download passes on (the body is streamed as it comes). */
const passedHeaders = ['content-type', 'content-length', 'content-range', 'accept-ranges', 'etag'];

/**
 * The kept copy of an ended task's disks (keepCopy): the list of its files, and each file streamed
 * from the storage of the host that keeps it, Range and If-Range passed on (storage answers 206
 * and 416 by RFC 9110 §14); the coordinator never holds a whole file.
 */
export function downloadRoutes({ contract, tasks, clientsFor, now, signedIn }: DownloadRoutesDeps) {
  const app = new Hono<AuthEnv>();
  if (signedIn) app.use('/api/tasks/:taskId/download', signedIn).use('/api/tasks/:taskId/download/*', signedIn);
  const ownedTask = ownedTaskOf(contract, tasks);

  /** The task's copy, or the problem that says why there is none (yet). */
  const keptCopy = (task: Task) => {
    if (!task.request.keepCopy) throw new ProblemError('not-found', `task ${task.id} was not submitted with keepCopy: no copy of its disks is kept`);
    if (!endedStates.has(task.state)) throw new ProblemError('conflict', `task ${task.id} is ${task.state}; the copy of its disks is made when it stops`, { state: task.state });
    const d = task.download;
    if (!d || !task.node?.ports) throw new ProblemError('not-found', `no copy of task ${task.id}'s disks was kept (its history says why)`);
    if (Date.parse(d.expiresAt) <= now().getTime()) throw new ProblemError('not-found', `the copy of task ${task.id}'s disks expired at ${d.expiresAt}`);
    return { download: d, node: task.node as NodeAddress };
  };

  app.get('/api/tasks/:taskId/download', (c) => {
    const task = ownedTask(c);
    const { download } = keptCopy(task);
    const body: TaskDownloadList = {
      files: download.files.map((f) => ({ ...f, url: `/api/tasks/${task.id}/download/${encodeURIComponent(f.name)}` })),
      expiresAt: download.expiresAt,
    };
    return c.json(body);
  });

  app.get('/api/tasks/:taskId/download/:fileName', async (c) => {
    const task = ownedTask(c);
    const fileName = contract.check('DownloadFileName', c.req.param('fileName'), 'path/fileName');
    const { download, node } = keptCopy(task);
    if (!download.files.some((f) => f.name === fileName)) throw new ProblemError('not-found', `the copy of task ${task.id} has no file ${fileName}`);
    const forwarded: Record<string, string> = {};
    for (const h of ['range', 'if-range'] as const) {
      const v = c.req.header(h);
      if (v === undefined) continue;
      if (v.length > 200) throw new ProblemError('validation-failed', `the ${h} header is longer than 200 characters`, { errors: [{ location: `header/${h}`, message: 'at most 200 characters' }] });
      forwarded[h] = v;
    }
    let res: Response;
    try {
      ({ response: res } = await clientsFor(node).storage.GET('/exports/{taskId}/{fileName}', {
        params: { path: { taskId: task.id, fileName } },
        headers: forwarded,
        parseAs: 'stream',
        // No deadline on a download that may take long; it ends when the user goes away.
        signal: c.req.raw.signal,
      }));
    } catch (err) {
      throw new ProblemError('upstream-failed', `storage on ${node.nodeId} could not be reached: ${(err as Error).message}`);
    }
    if (res.status === 200 || res.status === 206) {
      const headers = new Headers({ 'content-disposition': `attachment; filename="${task.id}-${fileName}"` });
      for (const h of passedHeaders) {
        const v = res.headers.get(h);
        if (v !== null) headers.set(h, v);
      }
      return new Response(res.body, { status: res.status, headers });
    }
    // A refusal's body was read by the client already (as its problem).
    if (res.status === 416) {
      const size = download.files.find((f) => f.name === fileName)!.sizeBytes;
      const body = new ProblemError('range-not-satisfiable', `the range is outside the file, which has ${size} bytes`).toBody();
      return new Response(JSON.stringify(body), { status: 416, headers: { 'content-type': problemContentType, 'content-range': res.headers.get('content-range') ?? `bytes */${size}` } });
    }
    if (res.status === 404) throw new ProblemError('not-found', `storage on ${node.nodeId} no longer keeps the copy of task ${task.id} (${fileName})`);
    throw new ProblemError('upstream-failed', `storage on ${node.nodeId} answered ${res.status} for ${fileName}`);
  });
  return app;
}
