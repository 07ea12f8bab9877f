import type { Context, ErrorHandler, NotFoundHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';

/**
 * Every error a CPS service returns is an RFC 9457 problem document whose `type` is one of these
 * stable URNs. Clients switch on `type`, never on `title` or `detail`, so titles may be reworded
 * but a `type` once published is never renamed.
 */
export const problemTypes = {
  'bad-request': { status: 400, title: 'The request is malformed' },
  'validation-failed': { status: 400, title: 'The request does not match the API contract' },
  'not-found': { status: 404, title: 'No such resource' },
  'route-not-found': { status: 404, title: 'No such endpoint' },
  'method-not-allowed': { status: 405, title: 'Method not allowed' },
  conflict: { status: 409, title: 'The resource is in a conflicting state' },
  'payload-too-large': { status: 413, title: 'The request body is too large' },
  'unsupported-media-type': { status: 415, title: 'Unsupported content type' },
  'insufficient-capacity': { status: 409, title: 'Not enough free capacity on this node' },
  'no-capable-node': { status: 503, title: 'No peer can host this task right now' },
  'image-not-found': { status: 404, title: 'No such image' },
  'path-not-allowed': { status: 400, title: 'A path leaves the folders this service may use' },
  'upstream-failed': { status: 502, title: 'A service this request depends on failed' },
  'hypervisor-error': { status: 502, title: 'libvirt refused the operation' },
  'tool-failed': { status: 500, title: 'An external tool failed' },
  'image-rejected': { status: 422, title: 'The upload is not an image this service accepts' },
  'image-in-use': { status: 409, title: 'The image is used by a task on this node' },
  'upload-incomplete': { status: 400, title: 'The upload ended before its declared end' },
  'archive-rejected': { status: 422, title: 'The archive holds an entry this service refuses' },
  'quota-exceeded': { status: 409, title: "The donor's share policy allows no more disk" },
  'range-not-satisfiable': { status: 416, title: 'The requested byte range is outside the file' },
  'transfer-failed': { status: 502, title: 'A transfer from a peer failed; nothing was kept' },
  'peer-not-allowed': { status: 403, title: 'The source is not a peer this node knows' },
  'headers-too-large': { status: 431, title: 'The request headers are too large' },
  'member-certificate-required': { status: 401, title: 'Only members of this cluster may call this' },
  'member-certificate-refused': { status: 403, title: "The caller's certificate is not a member's" },
  'join-refused': { status: 403, title: 'The join request is refused' },
  'disk-rejected': { status: 422, title: 'A disk reaches beyond the files storage built for the task' },
  'checkpoint-rejected': { status: 422, title: "The checkpoint is not this task's guest, or not a save image" },
  'console-limit': { status: 429, title: 'The task has as many consoles open as this gateway allows' },
  'console-ticket-refused': { status: 403, title: 'The console needs a valid ticket for this task and kind' },
  'host-not-allowed': { status: 403, title: 'This node is not reached by that name' },
  'cross-site-request': { status: 403, title: 'A request another site could have made is refused' },
  'authentication-required': { status: 401, title: 'Sign in, or send an API token' },
  'sign-in-failed': { status: 401, title: 'The name or password is wrong' },
  forbidden: { status: 403, title: 'Your role does not allow this' },
  'too-many-attempts': { status: 429, title: 'Too many failed sign-in attempts; wait before trying again' },
  'user-quota-exceeded': { status: 403, title: "The request goes beyond the user's quota" },
  'idempotency-key-reused': { status: 422, title: 'The Idempotency-Key was used for another request' },
  'unknown-bootstrap': { status: 422, title: 'The request names bootstrap files this coordinator does not keep' },
  'guest-ended': { status: 410, title: "The task's guest ended on its host without being asked to" },
  interrupted: { status: 409, title: 'A restart interrupted this task' },
  'guest-lost': { status: 410, title: "The task's guest was not found on its host after the coordinator restarted" },
  'https-required': { status: 426, title: 'This port answers plain HTTP on loopback only; use https' },
  'stale-epoch': { status: 409, title: 'The command carries an older epoch than this host has seen' },
  'not-head': { status: 409, title: 'This coordinator is not the head; ask the head' },
  'no-head': { status: 503, title: 'No head coordinator is known right now; try again in a few seconds' },
  internal: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: ContentfulStatusCode; title: string }>;

export type ProblemType = keyof typeof problemTypes;

export const problemTypeUri = (t: ProblemType): string => `urn:cps:problem:${t}`;

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

/** The one error type services throw for anything a client should see. */
export class ProblemError extends Error {
  readonly problemType: ProblemType;
  readonly status: ContentfulStatusCode;
  readonly extensions: Record<string, unknown>;

  constructor(type: ProblemType, detail?: string, extensions: Record<string, unknown> = {}) {
    super(detail ?? problemTypes[type].title);
    this.name = 'ProblemError';
    this.problemType = type;
    this.status = problemTypes[type].status;
    this.extensions = extensions;
  }

  toBody(instance?: string): ProblemBody {
    return {
      ...this.extensions,
      type: problemTypeUri(this.problemType),
      title: problemTypes[this.problemType].title,
      status: this.status,
      detail: this.message,
      ...(instance ? { instance } : {}),
    };
  }
}

export const problemContentType = 'application/problem+json';

export function problemResponse(c: Context, err: ProblemError): Response {
  return c.body(JSON.stringify(err.toBody(c.req.path)), err.status, {
    'content-type': problemContentType,
  });
}

/** Maps anything thrown in a handler to problem+json in one place; unknown errors are logged, not leaked. */
export function problemErrorHandler(log?: Logger): ErrorHandler {
  return (err, c) => {
    if (err instanceof ProblemError) return problemResponse(c, err);
    if (err instanceof HTTPException) {
      const type: ProblemType =
        err.status === 413 ? 'payload-too-large' : err.status === 415 ? 'unsupported-media-type' : 'bad-request';
      return problemResponse(c, new ProblemError(type, err.message || problemTypes[type].title));
    }
    log?.error({ err, path: c.req.path, method: c.req.method }, 'unhandled error');
    return problemResponse(c, new ProblemError('internal', 'The service hit an unexpected error; see its log.'));
  };
}

export const problemNotFound: NotFoundHandler = (c) =>
  problemResponse(c, new ProblemError('route-not-found', `${c.req.method} ${c.req.path} is not part of this API`));

export function isProblemBody(x: unknown): x is ProblemBody {
  return typeof x === 'object' && x !== null && typeof (x as ProblemBody).type === 'string' && typeof (x as ProblemBody).status === 'number';
}
