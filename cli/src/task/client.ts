import { coordinatorClient, type CoordinatorClient } from '@cps/openapi';
import { cpsRequestHeader, isProblemBody } from '@cps/common';
import { defaultUrl } from '../args.ts';
import { problemLine } from './format.ts';

/** A failure to show the user as `error: …`, exit code 1. */
export class CommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandError';
  }
}

/**
 * Bodies go as JSON and `stop` is a bare DELETE, which the coordinator's public door lets in; the
 * `x-cps-request` mark says so outright (no web page can send it without a preflight the
 * coordinator never answers), so a request without a JSON body would pass too.
 */
export const clientFor = (baseUrl: string, token?: string, fetch?: (req: Request) => Promise<Response>): CoordinatorClient =>
  coordinatorClient({ baseUrl, headers: { [cpsRequestHeader]: '1', ...(token ? { authorization: `Bearer ${token}` } : {}) }, ...(fetch ? { fetch } : {}) });

/**
 * Runs one typed call and returns its data, or throws a CommandError whose message is the
 * problem's title and detail, or why the service (the coordinator unless `what` says) could not
 * be reached, with `hint` on what to check.
 */
export async function call<T>(
  baseUrl: string,
  fn: () => Promise<{ data?: T; error?: unknown; response: Response }>,
  what = 'the coordinator',
  hint = 'is `cps up` running? set --url or CPS_URL',
): Promise<T> {
  let r;
  try {
    r = await fn();
  } catch (err) {
    // Already in words (a certificate refused: what it presents and what was expected).
    if (err instanceof CommandError) throw err;
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const why = e.cause?.code ?? e.cause?.message ?? e.message;
    throw new CommandError(`cannot reach ${what} at ${baseUrl}: ${why} (${hint})`);
  }
  if (r.data !== undefined && r.response.ok) return r.data;
  // A missing, revoked or expired token: say what to do, then what the coordinator said.
  if (r.response.status === 401 && isProblemBody(r.error) && r.error.type.endsWith(':authentication-required')) {
    throw new CommandError(`not signed in: run cps login${baseUrl === defaultUrl ? '' : ` --url ${baseUrl}`} (${r.error.detail ?? r.error.title})`);
  }
  // Plain HTTP to another machine: the coordinator answers it on loopback only.
  if ((r.response.status === 426 || r.response.status === 308) && baseUrl.startsWith('http://')) {
    throw new CommandError(`the coordinator at ${baseUrl} answers plain HTTP only on its own machine: use --url ${baseUrl.replace(/^http:/, 'https:')}`);
  }
  if (isProblemBody(r.error)) throw new CommandError(problemLine(r.error));
  const text = typeof r.error === 'string' ? r.error.slice(0, 200) : JSON.stringify(r.error ?? '').slice(0, 200);
  throw new CommandError(`HTTP ${r.response.status} ${r.response.statusText}${text ? `: ${text}` : ''}`);
}
