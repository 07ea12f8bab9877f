import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { MiddlewareHandler } from 'hono';
import { validator } from 'hono/validator';
import { parse as parseYaml } from 'yaml';
import { ProblemError } from './problem.ts';

// ajv-formats is CommonJS; its default export arrives wrapped under NodeNext.
type AddFormats = (ajv: Ajv2020) => unknown;
const addFormats: AddFormats =
  (addFormatsModule as unknown as { default?: AddFormats }).default ?? (addFormatsModule as unknown as AddFormats);

type Spec = { components?: { schemas?: Record<string, unknown> } };

/**
 * The OpenAPI file is the contract: request bodies, queries and path parameters are checked
 * against its component schemas at the boundary, so a handler only ever sees contract-shaped data.
 */
export class Contract {
  private readonly ajv: Ajv2020;
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(spec: Spec) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true, coerceTypes: false });
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: 'spec', components: spec.components ?? {} });
  }

  static fromFile(path: string | URL): Contract {
    return new Contract(parseYaml(readFileSync(path, 'utf8')) as Spec);
  }

  validatorFor(schemaName: string): ValidateFunction {
    let v = this.cache.get(schemaName);
    if (!v) {
      v = this.ajv.compile({ $ref: `spec#/components/schemas/${schemaName}` });
      this.cache.set(schemaName, v);
    }
    return v;
  }

  /** Throws a `validation-failed` problem listing every mismatch. */
  check<T>(schemaName: string, value: unknown, where = 'body'): T {
    const v = this.validatorFor(schemaName);
    if (!v(value)) throw validationProblem(where, v.errors ?? []);
    return value as T;
  }

  /** Hono validator for a JSON body; `c.req.valid('json')` is then typed as T. */
  json<T>(schemaName: string) {
    return validator('json', (value) => this.check<T>(schemaName, value, 'body'));
  }

  /** Hono validator for path parameters. */
  param<T>(schemaName: string) {
    return validator('param', (value) => this.check<T>(schemaName, value, 'path'));
  }

  /** Hono validator for the query string. */
  query<T>(schemaName: string) {
    return validator('query', (value) => this.check<T>(schemaName, value, 'query'));
  }
}

export function validationProblem(where: string, errors: ErrorObject[]): ProblemError {
  const list = errors.slice(0, 20).map((e) => ({
    location: `${where}${e.instancePath}`,
    message: e.message ?? 'invalid',
  }));
  const detail = list.map((e) => `${e.location || where}: ${e.message}`).join('; ');
  return new ProblemError('validation-failed', detail, { errors: list });
}

/**
 * Rejects bodies over `maxBytes` before they are parsed. Content-Length is only a shortcut for
 * refusing unread: the bytes that arrive are counted whatever the header says (a chunked body has
 * none, a lying one says less), reading stops at the first chunk past the limit, and the handler
 * gets the body from a buffer of at most `maxBytes`.
 */
export function bodyLimit(maxBytes: number): MiddlewareHandler {
  return async (c, next) => {
    const declared = c.req.header('content-length');
    if (declared !== undefined && Number(declared) > maxBytes) {
      throw new ProblemError('payload-too-large', `body of ${declared} bytes exceeds ${maxBytes}`);
    }
    const body = c.req.raw.body;
    if (!body) return next();
    const buffered = await readAtMost(body, maxBytes);
    if (!buffered) throw new ProblemError('payload-too-large', `the body exceeds ${maxBytes} bytes`);
    c.req.raw = new Request(c.req.raw, { body: buffered });
    await next();
  };
}

/** The whole stream, or undefined (and the stream cancelled) once it passes `max` bytes. */
async function readAtMost(stream: ReadableStream<Uint8Array>, max: number): Promise<Uint8Array<ArrayBuffer> | undefined> {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      // Stop pulling: the rest is the server's to drain or drop, never ours to hold.
      await reader.cancel('body over the limit').catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const ch of chunks) {
    out.set(ch, at);
    at += ch.byteLength;
  }
  return out;
}
