import type { Context } from 'hono';
import { ProblemError, type Contract, type SchemaName } from '@cps/common';

const jsonType = /^application\/(?:[\w.-]+\+)?json\s*(?:;|$)/i;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads a JSON body and checks it against a contract schema. Anything that is not a well-formed
 * JSON document of the right shape is a `validation-failed` problem naming what is wrong. Demanding
 * the JSON content type also keeps cross-site HTML forms (which cannot send it) from creating tasks.
 */
export async function contractBody<S extends object, K extends SchemaName<S>>(c: Context, contract: Contract<S>, schema: K): Promise<S[K]>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the untyped form takes any contract
export async function contractBody<T>(c: Context, contract: Contract<any>, schema: string): Promise<T>;
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function contractBody(c: Context, contract: Contract<any>, schema: string): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  if (!jsonType.test(type)) {
    throw new ProblemError('validation-failed', `the body must be JSON, sent with content-type application/json (got ${type ? JSON.stringify(type.slice(0, 100)) : 'none'})`, {
      errors: [{ location: 'header/content-type', message: 'must be application/json' }],
    });
  }
  let text: string;
  try {
    text = utf8.decode(await c.req.arrayBuffer());
  } catch {
    throw new ProblemError('validation-failed', 'the body is not valid UTF-8', { errors: [{ location: 'body', message: 'must be UTF-8 text' }] });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ProblemError('validation-failed', `the body is not valid JSON: ${(err as Error).message.slice(0, 200)}`, {
      errors: [{ location: 'body', message: 'must be a JSON document' }],
    });
  }
  return contract.check<unknown>(schema, value, 'body');
}
