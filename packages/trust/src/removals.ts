import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { nodeIdPattern } from '@cps/common';
import { writeFilesAtomically } from './files.ts';

/**
 * `cps node remove ID` adds a removal; every member refuses a certificate for that node id issued
 * at or before `removedAt`. A set that only grows merges by union, so peers converge whatever the
 * order they hear of removals in (HELLO carries the digest; a peer whose digest differs is asked
 * for its list). A node that joins again gets a newer certificate and is a member again.
 */
export const removalSchema = z.strictObject({
  nodeId: z.string().regex(nodeIdPattern),
  removedAt: z.iso.datetime(),
  by: z.string().regex(nodeIdPattern),
});
export type Removal = z.infer<typeof removalSchema>;
export const removalListSchema = z.array(removalSchema).max(10_000);

const key = (r: Removal) => `${r.nodeId}\n${r.removedAt}`;

export class Removals {
  private readonly byKey = new Map<string, Removal>();
  private cachedDigest: string | undefined;

  constructor(items: readonly Removal[] = []) {
    this.merge(items);
  }

  /** Adds what is new; returns how many were new. */
  merge(items: readonly Removal[]): number {
    let added = 0;
    for (const r of items) {
      if (this.byKey.has(key(r))) continue;
      this.byKey.set(key(r), { nodeId: r.nodeId, removedAt: r.removedAt, by: r.by });
      added++;
    }
    if (added) this.cachedDigest = undefined;
    return added;
  }

  /** The removal that voids a certificate of `nodeId` issued at `issuedAt`, if any. */
  voids(nodeId: string, issuedAt: Date): Removal | undefined {
    let hit: Removal | undefined;
    for (const r of this.byKey.values()) {
      if (r.nodeId === nodeId && issuedAt.getTime() <= Date.parse(r.removedAt)) hit = r;
    }
    return hit;
  }

  list(): Removal[] {
    return [...this.byKey.values()].sort((a, b) => key(a).localeCompare(key(b)));
  }

  get size(): number {
    return this.byKey.size;
  }

  /** 16 hex digits over the sorted set: equal sets, equal digests. */
  digest(): string {
    this.cachedDigest ??= createHash('sha256').update(JSON.stringify(this.list())).digest('hex').slice(0, 16);
    return this.cachedDigest;
  }
}

/** The removals file, or an empty set when there is none; a damaged file is an error, not "none". */
export function readRemovals(path: string): Removals {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Removals();
    throw err;
  }
  return new Removals(removalListSchema.parse(JSON.parse(text)));
}

export function writeRemovals(path: string, removals: Removals): void {
  writeFilesAtomically([{ path, data: `${JSON.stringify(removals.list(), null, 1)}\n`, mode: 0o644 }]);
}
