import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ProblemError } from '@cps/common';
import type { AuthEnv } from '../accounts/authenticate.ts';
import type { BootstrapUploads } from '../uploads/bootstrap-upload.ts';
import type { NamedFile } from '../uploads/pack-files.ts';
import { declaredLength } from './upload-body.ts';

export interface UploadRoutesDeps {
  bootstraps: BootstrapUploads;
  signedIn?: MiddlewareHandler<AuthEnv>;
}

const tarType = /^application\/(?:x-)?tar\s*(?:;|$)/i;
const formType = /^multipart\/form-data\s*;/i;
// A form's boundaries and part headers: a few hundred bytes a file, well within this.
const formOverheadBytes = 1024 * 1024;

/** POST /api/bootstraps: a user's bootstrap files, one tar or several files of a form. */
export function uploadRoutes({ bootstraps, signedIn }: UploadRoutesDeps) {
  const { maxBytes } = bootstraps;
  const app = new Hono<AuthEnv>();
  if (signedIn) app.post('/api/bootstraps', signedIn);
  app.post(
    '/api/bootstraps',
    bodyLimit({
      maxSize: maxBytes + formOverheadBytes,
      onError: () => {
        throw new ProblemError('payload-too-large', `the body exceeds the bootstrap limit of ${maxBytes} bytes`);
      },
    }),
    async (c) => {
      const type = c.req.header('content-type') ?? '';
      let answer;
      if (tarType.test(type)) {
        answer = await bootstraps.fromTar(c.req.raw.body, declaredLength(c.req.header('content-length')));
      } else if (formType.test(type)) {
        answer = await bootstraps.fromFiles(await formFiles(c.req.raw));
      } else {
        throw new ProblemError('unsupported-media-type', `send one tar (application/x-tar) or files (multipart/form-data), not ${type ? JSON.stringify(type.slice(0, 100)) : 'no content type'}`);
      }
      return c.json(answer.bootstrap, answer.created ? 201 : 200);
    },
  );
  return app;
}

/** Every part of the form must be a file; its filename (a relative path) names it in the archive. */
async function formFiles(req: Request): Promise<NamedFile[]> {
  let form: FormData;
  try {
    form = await req.formData();
  } catch (err) {
    if (err instanceof ProblemError) throw err;
    throw new ProblemError('validation-failed', `the body is not a well-formed multipart form: ${(err as Error).message.slice(0, 200)}`, { errors: [{ location: 'body', message: 'must be multipart/form-data' }] });
  }
  const files: NamedFile[] = [];
  const parts: Array<[string, string | File]> = [];
  form.forEach((value, field) => parts.push([field, value]));
  for (const [field, value] of parts) {
    if (typeof value === 'string') {
      throw new ProblemError('validation-failed', `part ${JSON.stringify(field.slice(0, 80))} is not a file; every part must be a file`, { errors: [{ location: `body/${field.slice(0, 80)}`, message: 'must be a file' }] });
    }
    files.push({ name: value.name, data: new Uint8Array(await value.arrayBuffer()) });
  }
  return files;
}
