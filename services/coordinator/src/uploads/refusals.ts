import { ProblemError, problemTypeUri, type ProblemType } from '@cps/common';
import { UpstreamError } from '../upstream.ts';

/**
 * A refusal of this node's storage that is about the user's upload (too large, not an image, a
 * link in the archive) is passed on as the same problem, so the user reads storage's own reason;
 * anything else (storage away, a bug) is upstream-failed.
 */
export function passOnRefusal(err: unknown, theirs: readonly ProblemType[]): never {
  if (!(err instanceof UpstreamError)) throw err;
  const mine = theirs.find((t) => problemTypeUri(t) === err.failure.type);
  if (mine) throw new ProblemError(mine, `storage: ${err.failure.detail}`);
  throw new ProblemError('upstream-failed', err.message);
}
