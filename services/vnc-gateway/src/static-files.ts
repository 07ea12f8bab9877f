import { readFile, realpath, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, extname, resolve, sep } from 'node:path';
import { ProblemError } from '@cps/common';

/** The installed noVNC package's root (its `exports` points at core/rfb.js). */
export function novncRoot(): string {
  return dirname(dirname(createRequire(import.meta.url).resolve('@novnc/novnc')));
}

/** The installed xterm.js package's root (its `main` is lib/xterm.js). */
export function xtermRoot(): string {
  return dirname(dirname(createRequire(import.meta.url).resolve('@xterm/xterm')));
}

const contentTypes: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

// One segment: a plain file or folder name. Excludes '', '.', '..', dot files, NUL, '/' and '\'
// (after percent-decoding), so no combination of segments can climb out of the root.
const segmentPattern = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/**
 * Maps the raw (still percent-encoded) path below the mount point to a file under `root`, or
 * undefined when the path is not one this server may serve. Pure, so it is tested from a table.
 */
export function assetPath(root: string, rawPath: string, topFolders: ReadonlySet<string>): string | undefined {
  const raw = rawPath.split('/');
  if (raw.length < 2 || raw.length > 8) return undefined;
  const segs: string[] = [];
  for (const r of raw) {
    let s: string;
    try {
      s = decodeURIComponent(r);
    } catch {
      return undefined;
    }
    if (!segmentPattern.test(s)) return undefined;
    segs.push(s);
  }
  if (!topFolders.has(segs[0]!) || !contentTypes[extname(segs.at(-1)!)]) return undefined;
  const full = resolve(root, ...segs);
  return full.startsWith(root + sep) ? full : undefined;
}

/**
 * Serves files below `root/<one of topFolders>` read-only, cached in memory (the noVNC library is
 * about half a megabyte and never changes while a gateway runs).
 */
export function staticFiles(root: string, topFolders: readonly string[]) {
  const tops = new Set(topFolders);
  const cache = new Map<string, { body: Uint8Array<ArrayBuffer>; type: string }>();
  let realRoot: Promise<string> | undefined;

  return async (rawPath: string): Promise<{ body: Uint8Array<ArrayBuffer>; type: string }> => {
    const path = assetPath(root, rawPath, tops);
    if (!path) throw new ProblemError('path-not-allowed', `${rawPath} is not a file this gateway serves`);
    const hit = cache.get(path);
    if (hit) return hit;
    realRoot ??= realpath(root);
    const rootReal = await realRoot;
    let real: string;
    try {
      real = await realpath(path);
      if (!(await stat(real)).isFile()) throw new Error('not a file');
    } catch {
      throw new ProblemError('not-found', `no file ${rawPath}`);
    }
    // A symlink inside the package must not lead outside it.
    if (!real.startsWith(rootReal + sep)) throw new ProblemError('path-not-allowed', `${rawPath} leaves the served folder`);
    const buf = await readFile(real);
    const file = { body: new Uint8Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength)) as Uint8Array<ArrayBuffer>, type: contentTypes[extname(path)]! };
    cache.set(path, file);
    return file;
  };
}
