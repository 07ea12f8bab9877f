import { realpathSync } from 'node:fs';
import { isAbsolute, normalize, sep } from 'node:path';
import { ProblemError } from '@cps/common';

/**
 * A guest may only be given files under the folders this peer lends (its data dir). The check is
 * lexical first (absolute, already normalized, no `..`, inside a root) and then, for files that
 * exist, repeated on the real path so a symlink cannot lead outside.
 */
export function checkAllowedPath(path: string, roots: readonly string[], what = 'path'): string {
  if (typeof path !== 'string' || path.length === 0) throw bad(what, 'is empty');
  if (path.length > 4096) throw bad(what, 'is longer than 4096 characters');
  if (/[\u0000-\u001F\u007F-\u009F]/.test(path)) throw bad(what, 'contains a control character');
  if (!isAbsolute(path)) throw bad(what, 'is not absolute');
  if (path.split('/').includes('..')) throw bad(what, 'contains ".."');
  if (normalize(path) !== path || path.endsWith(sep)) throw bad(what, 'is not in normal form');
  if (!roots.some((r) => isInside(path, r))) throw bad(what, `is outside ${roots.join(', ')}`);
  const real = realIfExists(path);
  if (real !== undefined && !roots.some((r) => isInside(real, realIfExists(r) ?? r))) {
    throw bad(what, 'resolves (through a link) outside the allowed folders');
  }
  return path;
}

export function isInside(path: string, root: string): boolean {
  const r = root.endsWith(sep) ? root : root + sep;
  return path.startsWith(r);
}

function realIfExists(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

const bad = (what: string, why: string) => new ProblemError('path-not-allowed', `${what} ${why}`);
