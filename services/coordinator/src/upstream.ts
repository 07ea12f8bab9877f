import { isProblemBody, ProblemError, problemTypeUri } from '@cps/common';
import type { Problem } from './tasks/tasks.ts';

/** What went wrong in a service the coordinator called, kept as that service said it. */
export interface UpstreamFailure {
  service: 'discovery' | 'storage' | 'provisioner';
  nodeId?: string;
  type: string;
  status: number;
  detail: string;
}

export class UpstreamError extends Error {
  constructor(readonly failure: UpstreamFailure) {
    super(`${failure.service}${failure.nodeId ? ` on ${failure.nodeId}` : ''}: ${failure.detail}`);
    this.name = 'UpstreamError';
  }
}

type FetchResult<T> = { data?: T; error?: unknown; response: Response };

/**
 * Runs one typed-client call and returns its data, or throws an UpstreamError carrying the
 * upstream's problem type and detail (or why the service could not be reached at all).
 */
export async function call<T>(
  where: Pick<UpstreamFailure, 'service' | 'nodeId'>,
  run: () => Promise<FetchResult<T>>,
): Promise<T> {
  let r: FetchResult<T>;
  try {
    r = await run();
  } catch (err) {
    throw new UpstreamError({ ...where, type: problemTypeUri('upstream-failed'), status: 502, detail: `unreachable: ${reason(err)}` });
  }
  if (r.response.ok) return r.data as T;
  const e = r.error;
  if (isProblemBody(e)) {
    throw new UpstreamError({ ...where, type: e.type, status: e.status, detail: String(e.detail ?? e.title ?? e.type) });
  }
  const text = typeof e === 'string' && e.trim() ? `: ${e.trim().slice(0, 300)}` : '';
  throw new UpstreamError({ ...where, type: problemTypeUri('upstream-failed'), status: r.response.status, detail: `HTTP ${r.response.status}${text}` });
}

function reason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === 'TimeoutError' || err.name === 'AbortError') return 'no answer in time';
  const code = (err.cause as { code?: string } | undefined)?.code;
  return code ? `${err.message} (${code})` : err.message;
}

/** The task's error for an upstream failure: `upstream-failed`, with the upstream's own problem inside. */
export function upstreamProblem(f: UpstreamFailure, suffix = ''): Problem {
  const where = `${f.service}${f.nodeId ? ` on ${f.nodeId}` : ''}`;
  return new ProblemError('upstream-failed', `${where}: ${f.detail}${suffix}`, { upstream: { ...f } }).toBody() as Problem;
}
