import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Bad usage: the message is one line, printed as `cps <command>: <message>`, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * `parseArgs` in strict mode, with its multi-sentence errors cut to their first sentence and
 * thrown as UsageError, so every command reports bad usage the same way.
 */
export function parse<O extends Options>(args: string[], options: O, maxPositionals = 0) {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch (err) {
    const msg = (err as Error).message.split(/\.\s/)[0]!.replace(/\.$/, '');
    throw new UsageError(msg);
  }
  if (parsed.positionals.length > maxPositionals && !(parsed.values as { help?: boolean }).help) {
    throw new UsageError(`unexpected argument '${parsed.positionals[maxPositionals]}'`);
  }
  return parsed;
}

/** A whole number from an option, within bounds; `what` names the option in the message. */
export function intOption(raw: string | undefined, what: string, min: number, max: number, def: number): number {
  if (raw === undefined) return def;
  if (!/^\d+$/.test(raw)) throw new UsageError(`${what} must be a whole number, got '${raw}'`);
  const n = Number(raw);
  if (n < min || n > max) throw new UsageError(`${what} must be between ${min} and ${max}, got ${n}`);
  return n;
}

export const defaultUrl = 'http://localhost:8080';

const loopbackHost = /^(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])(:\d+)?$/i;

/**
 * An http(s) URL from --url or CPS_URL. Without a scheme (`cps.lan:8080`) it is https, but for
 * this machine (loopback), where the coordinator answers plain HTTP: another machine's
 * coordinator answers plain HTTP only with a redirect or 426.
 */
export function urlOption(raw: string | undefined, env: NodeJS.ProcessEnv): string {
  const given = raw ?? env.CPS_URL ?? defaultUrl;
  const value = /^[a-z][a-z0-9+.-]*:\/\//i.test(given) ? given : `${loopbackHost.test(given.replace(/\/.*$/, '')) ? 'http' : 'https'}://${given}`;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UsageError(`--url must be a URL like http://localhost:8080, got '${value}'`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--url must be http or https, got '${value}'`);
  return value.replace(/\/+$/, '');
}
