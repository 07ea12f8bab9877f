import { realpathSync } from 'node:fs';
import path from 'node:path';
import { ProblemError } from '@cps/common';

// The same patterns as TaskId and ImageId in openapi/storage.yaml. Both forbid '/', '\0' and a
// leading '.', so a valid id is always exactly one path component that is neither '.' nor '..'.
export const taskIdPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const imageIdPattern = /^[a-z0-9][a-z0-9._-]{0,127}$/;

export const bootstrapIdPattern = /^b-[0-9a-f]{24}$/;
/** A file name inside one of storage's folders (FileName in the contract): one plain component. */
export const fileNamePattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export const isTaskId = (s: string): boolean => typeof s === 'string' && taskIdPattern.test(s);
export const isImageId = (s: string): boolean => typeof s === 'string' && imageIdPattern.test(s);

/** Is `target` the root itself or below it? Both absolute and normalised. */
export function isInside(root: string, target: string): boolean {
  const rel = path.relative(root, target);
  if (rel === '') return true;
  if (path.isAbsolute(rel)) return false;
  // '..' or '../x' leaves the root; a file named '..foo' does not.
  return rel !== '..' && !rel.startsWith(`..${path.sep}`);
}

/**
 * Joins relative parts under `root` by string rules alone (no file system): refuses empty or
 * absolute parts, NUL bytes, and any result that is not below `root` after '..' is resolved.
 */
export function lexicalJoin(root: string, ...parts: string[]): string {
  if (!path.isAbsolute(root) || root.includes('\0')) throw notAllowed(`root ${JSON.stringify(root)} is not an absolute path`);
  const base = path.resolve(root);
  for (const p of parts) {
    if (typeof p !== 'string' || p === '') throw notAllowed('an empty path part');
    if (p.includes('\0')) throw notAllowed('a path part contains a NUL byte');
    if (path.isAbsolute(p)) throw notAllowed(`the absolute path part ${JSON.stringify(clip(p))}`);
  }
  const joined = path.resolve(base, ...parts);
  if (!isInside(base, joined)) throw notAllowed(`${JSON.stringify(clip(parts.join('/')))} leaves ${base}`);
  return joined;
}

/**
 * `lexicalJoin`, then the same check on the real path of the deepest part that exists, so a
 * symlink planted inside the root cannot lead out of it. Paths that do not exist yet pass on
 * their lexical check (their existing ancestor is still checked).
 */
export function safeJoin(root: string, ...parts: string[]): string {
  const joined = lexicalJoin(root, ...parts);
  const realRoot = realpathOrNull(path.resolve(root));
  if (realRoot === null) return joined;
  let probe = joined;
  for (;;) {
    const real = realpathOrNull(probe);
    if (real !== null) {
      if (!isInside(realRoot, real)) throw notAllowed(`${JSON.stringify(clip(parts.join('/')))} resolves outside ${realRoot}`);
      return joined;
    }
    const up = path.dirname(probe);
    if (up === probe) return joined;
    probe = up;
  }
}

function realpathOrNull(p: string): string | null {
  try {
    return realpathSync(p);
  } catch {
    return null;
  }
}

const clip = (s: string) => (s.length > 80 ? `${s.slice(0, 80)}…` : s);
const notAllowed = (detail: string) => new ProblemError('path-not-allowed', detail);

/** Where this service keeps things under CPS_DATA_DIR; every path it touches comes from here. */
export class StorageLayout {
  readonly root: string;
  readonly imagesDir: string;
  readonly disksDir: string;
  /** Uploads, builds and transfers in progress; renamed into place when whole, emptied at start. */
  readonly tmpDir: string;
  readonly bootstrapsDir: string;
  readonly exportsDir: string;
  /** The provisioner's saved guest states (checkpoints/<task>/); storage only reads and transfers them. */
  readonly checkpointsDir: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    this.imagesDir = path.join(this.root, 'images');
    this.disksDir = path.join(this.root, 'disks');
    this.tmpDir = path.join(this.root, 'tmp', 'storage');
    this.bootstrapsDir = path.join(this.root, 'bootstraps');
    this.exportsDir = path.join(this.root, 'exports');
    this.checkpointsDir = path.join(this.root, 'checkpoints');
  }

  imageDir(imageId: string): string {
    if (!isImageId(imageId)) throw new ProblemError('validation-failed', `image id ${JSON.stringify(clip(imageId))} is not valid`);
    return safeJoin(this.imagesDir, imageId);
  }

  /** A file an image.json names, kept inside that image's folder. */
  imageFile(imageId: string, name: string): string {
    return safeJoin(this.imageDir(imageId), name);
  }

  bootstrapDir(id: string): string {
    if (!bootstrapIdPattern.test(id)) throw new ProblemError('validation-failed', `bootstrap id ${JSON.stringify(clip(id))} is not valid`);
    return safeJoin(this.bootstrapsDir, id);
  }

  exportDir(taskId: string): string {
    return safeJoin(this.exportsDir, checkTaskId(taskId));
  }

  checkpointDir(taskId: string): string {
    return safeJoin(this.checkpointsDir, checkTaskId(taskId));
  }

  taskDir(taskId: string): string {
    return safeJoin(this.disksDir, checkTaskId(taskId));
  }

  /**
   * disks/<task> by string rules only: for removing the entry itself, which must work even when
   * something planted there is a symlink leading out (the link goes, its target is never followed).
   */
  taskEntry(taskId: string): string {
    return lexicalJoin(this.disksDir, checkTaskId(taskId));
  }
}

function checkTaskId(taskId: string): string {
  if (!isTaskId(taskId)) throw new ProblemError('validation-failed', `task id ${JSON.stringify(clip(taskId))} is not valid`);
  return taskId;
}
