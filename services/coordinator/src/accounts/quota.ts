import { ProblemError } from '@cps/common';
import type { Quota } from './types.ts';

/** What a new user may hold unless an admin says otherwise. */
export const defaultQuota: Quota = { vcpus: 8, memoryMiB: 16_384, diskMiB: 65_536, runningTasks: 4 };

/** What a user holds now: the sum over their tasks that have not ended. */
export type QuotaUsage = Quota;

/** What one new task asks for; it counts as one more running task. */
export interface QuotaRequest {
  vcpus: number;
  memoryMiB: number;
  diskMiB: number;
}

export interface QuotaOverrun {
  limit: keyof Quota;
  quota: number;
  held: number;
  requested: number;
  /** How far past the quota holding the request would go. */
  over: number;
}

const units: Record<keyof Quota, (n: number) => string> = {
  vcpus: (n) => `${n} vCPU${n === 1 ? '' : 's'}`,
  memoryMiB: (n) => `${n} MiB of memory`,
  diskMiB: (n) => `${n} MiB of disk`,
  runningTasks: (n) => `${n} running task${n === 1 ? '' : 's'}`,
};

/**
 * Undefined when the request fits; else the problem naming every limit it passes and by how
 * much, e.g. "needs 4 vCPUs; you hold 2 of your 4". Pure: the caller sums the usage.
 */
export function checkQuota(quota: Quota, usage: QuotaUsage, request: QuotaRequest): ProblemError | undefined {
  const asked: Quota = { ...request, runningTasks: 1 };
  const overruns: QuotaOverrun[] = [];
  for (const limit of Object.keys(units) as (keyof Quota)[]) {
    const over = usage[limit] + asked[limit] - quota[limit];
    if (over > 0) overruns.push({ limit, quota: quota[limit], held: usage[limit], requested: asked[limit], over });
  }
  if (overruns.length === 0) return undefined;
  const u = (o: QuotaOverrun) => units[o.limit];
  const detail = overruns
    .map((o) => `needs ${u(o)(o.requested)}; you hold ${o.held} of your ${o.quota} (${u(o)(o.over)} too many)`)
    .join('; ');
  return new ProblemError('user-quota-exceeded', detail, { limits: overruns });
}
