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
 *
 * Typed by the generated schema map (`Contract.fromFile<CoordinatorSchemas>(...)`): a check names
 * a schema and its result has that schema's type, so no handler writes the type by hand. The
 * untyped form (`check<T>(name, ...)`) stays for callers not yet on a schema map.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- no schema names: only the untyped form applies
export class Contract<S extends object = {}> {
  private readonly ajv: Ajv2020;
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(spec: Spec) {
    this.ajv = new Ajv2020({ strict: false, allErrors: true, coerceTypes: false });
    addFormats(this.ajv);
    this.ajv.addSchema({ $id: 'spec', components: spec.components ?? {} });
  }

  static fromFile<S extends object = {}>(path: string | URL): Contract<S> {
    return new Contract<S>(parseYaml(readFileSync(path, 'utf8')) as Spec);
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
  check<K extends SchemaName<S>>(schemaName: K, value: unknown, where?: string): S[K];
  check<T>(schemaName: AnyName<S>, value: unknown, where?: string): T;
  check(schemaName: string, value: unknown, where = 'body'): unknown {
    return this.checkAny(schemaName, value, where);
  }

  private checkAny(schemaName: string, value: unknown, where: string): unknown {
    const v = this.validatorFor(schemaName);
    if (!v(value)) throw validationProblem(where, v.errors ?? []);
    return value;
  }

  /** Hono validator for a JSON body; `c.req.valid('json')` is then typed as the schema. */
  json<K extends SchemaName<S>>(schemaName: K): ReturnType<typeof validatorOf<S[K], 'json'>>;
  json<T>(schemaName: AnyName<S>): ReturnType<typeof validatorOf<T, 'json'>>;
  json(schemaName: string) {
    return validatorOf('json', (value) => this.checkAny(schemaName, value, 'body'));
  }

  /** Hono validator for path parameters. */
  param<K extends SchemaName<S>>(schemaName: K): ReturnType<typeof validatorOf<S[K], 'param'>>;
  param<T>(schemaName: AnyName<S>): ReturnType<typeof validatorOf<T, 'param'>>;
  param(schemaName: string) {
    return validatorOf('param', (value) => this.checkAny(schemaName, value, 'path'));
  }

  /** Hono validator for the query string. */
  query<K extends SchemaName<S>>(schemaName: K): ReturnType<typeof validatorOf<S[K], 'query'>>;
  query<T>(schemaName: AnyName<S>): ReturnType<typeof validatorOf<T, 'query'>>;
  query(schemaName: string) {
    return validatorOf('query', (value) => this.checkAny(schemaName, value, 'query'));
  }
}

/** The names of a schema map's schemas. */
export type SchemaName<S> = keyof S & string;

/** What the untyped form accepts: a typed contract's own names only, an untyped one's any string. */
type AnyName<S> = [keyof S] extends [never] ? string : SchemaName<S>;

function validatorOf<T, W extends 'json' | 'param' | 'query'>(target: W, check: (value: unknown) => unknown) {
  return validator(target, (value) => check(value) as T);
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
