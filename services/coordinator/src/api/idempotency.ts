import { createHash } from 'node:crypto';
import { ProblemError } from '@cps/common';
import type { IdempotencyRecord } from '../registry/idempotency.ts';

/** Where keys are remembered (the registry's SqliteIdempotencyKeys in a node). */
export interface IdempotencyKeys {
  lookup(userId: string, key: string): IdempotencyRecord | undefined;
  record(userId: string, key: string, fingerprint: string, taskId: string): IdempotencyRecord;
}

const keyPattern = /^[\x21-\x7e]{1,255}$/;

/** The Idempotency-Key header, checked against the contract's pattern; undefined when absent. */
export function idempotencyKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  if (!keyPattern.test(header)) {
    throw new ProblemError('validation-failed', 'the Idempotency-Key header must be 1-255 printable ASCII characters', {
      errors: [{ location: 'header/Idempotency-Key', message: 'must match ^[\\x21-\\x7e]{1,255}$' }],
    });
  }
  return header;
}

/** A digest of what was asked for, with keys in a fixed order, so a retry of the same body matches. */
export function fingerprintOf(request: Record<string, unknown>): string {
  const canonical = JSON.stringify(Object.fromEntries(Object.entries(request).sort(([a], [b]) => a.localeCompare(b))));
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * The task a key already made for this user, if the same request made it; a key reused with
 * another request is the client's bug and is refused, naming the task the key belongs to.
 */
export function replayOf(keys: IdempotencyKeys, userId: string, key: string, fingerprint: string): string | undefined {
  const seen = keys.lookup(userId, key);
  if (!seen) return undefined;
  if (seen.fingerprint !== fingerprint) {
    throw new ProblemError('idempotency-key-reused', `Idempotency-Key ${JSON.stringify(key.slice(0, 60))} was used for another request (task ${seen.taskId}) at ${seen.createdAt}; use a new key for a new request`, { taskId: seen.taskId });
  }
  return seen.taskId;
}
