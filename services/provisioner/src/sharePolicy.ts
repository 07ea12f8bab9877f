import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

/**
 * The donor's share policy: what this peer lends and when, and when its owner counts as busy.
 * Read once at start from `$CPS_DATA_DIR/share-policy.json` (or `CPS_SHARE_POLICY_FILE`; JSON or
 * YAML), then each `CPS_SHARE_*` / `CPS_OWNER_*` variable that is set overrides its field.
 * Every field may be left out; the defaults are below and in the README.
 */

/** "HH:MM-HH:MM" in the host's local time; a window may wrap past midnight ("18:00-08:00"). */
const HHMM = /^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$/;
export const hourWindow = z
  .string()
  .regex(HHMM, 'must be "HH:MM-HH:MM" (24 h, local time), e.g. "18:00-08:00"')
  .refine((w) => w.slice(0, 5) !== w.slice(6), 'must not start and end at the same minute (leave hours out to lend always)');

const count = z.number().int().min(0);
const seconds = z.number().min(0).max(86_400);

export const ownerSchema = z
  .object({
    /** Watch the owner and suspend the guests when they are busy. */
    enabled: z.boolean().default(true),
    /** Host CPU busy with the owner's own work (not the guests'), % of all cores, above which the owner is busy. */
    cpuBusyPercent: z.number().min(1).max(100).default(50),
    /** Memory pressure (PSI "some" avg10, %) above which the owner is busy; where PSI is missing, MemAvailable is used. */
    memoryPressurePercent: z.number().min(0).max(100).default(10),
    /** Below this much available memory (MiB) the owner is busy, where PSI is missing. */
    minAvailableMemoryMiB: count.default(256),
    /** Desktop input within this many seconds counts as the owner at work (only where a session exists). */
    desktopIdleSec: seconds.default(60),
    /**
     * Busy this long (seconds) → the guests are suspended (HTCondor waits 2 minutes). For CPU load
     * and memory only: desktop input suspends at once.
     */
    graceSec: seconds.default(10),
    /** Idle this long after a suspension → the guests resume. */
    resumeAfterSec: seconds.default(60),
    /** Suspended this long → the coordinator is asked to move the guest elsewhere. */
    vacateAfterSec: seconds.default(600),
    /** How often the owner is looked at (seconds). */
    sampleSec: z.number().min(0.1).max(60).default(1),
  })
  .strict();

export const sharePolicySchema = z
  .object({
    /** vCPUs lent; default: all but one (all on a one-core host). */
    vcpus: count.optional(),
    /** Memory lent (MiB); default: all but 1 GiB (half on hosts of 2 GiB or less). */
    memoryMiB: count.optional(),
    /** Disk lent (MiB); default: 90% of what the data dir's file system has free. */
    diskMiB: count.optional(),
    /** When lending is allowed; empty or absent: always. */
    hours: z.array(hourWindow).max(24).default([]),
    owner: ownerSchema.default(() => ownerSchema.parse({})),
  })
  .strict();

export type SharePolicy = z.infer<typeof sharePolicySchema>;
export type OwnerThresholds = z.infer<typeof ownerSchema>;

const envNumber = z.coerce.number().finite();

/** Environment variable → the field it overrides (dotted path). */
export const ENV_OVERRIDES: Record<string, string> = {
  CPS_SHARE_VCPUS: 'vcpus',
  CPS_SHARE_MEMORY_MIB: 'memoryMiB',
  CPS_SHARE_DISK_MIB: 'diskMiB',
  CPS_SHARE_HOURS: 'hours',
  CPS_OWNER_FIRST: 'owner.enabled',
  CPS_OWNER_CPU_BUSY_PERCENT: 'owner.cpuBusyPercent',
  CPS_OWNER_MEMORY_PRESSURE_PERCENT: 'owner.memoryPressurePercent',
  CPS_OWNER_MIN_AVAILABLE_MEMORY_MIB: 'owner.minAvailableMemoryMiB',
  CPS_OWNER_DESKTOP_IDLE_SEC: 'owner.desktopIdleSec',
  CPS_OWNER_GRACE_SEC: 'owner.graceSec',
  CPS_OWNER_RESUME_AFTER_SEC: 'owner.resumeAfterSec',
  CPS_OWNER_VACATE_AFTER_SEC: 'owner.vacateAfterSec',
  CPS_OWNER_SAMPLE_SEC: 'owner.sampleSec',
};

export class SharePolicyError extends Error {}

/** Reads, merges and validates; throws a SharePolicyError naming the file or variable and each bad field. */
export function loadSharePolicy(dataDir: string, env: NodeJS.ProcessEnv = process.env): { policy: SharePolicy; source: string } {
  const explicit = env.CPS_SHARE_POLICY_FILE;
  const file = explicit || join(dataDir, 'share-policy.json');
  let raw: Record<string, unknown> = {};
  let source = 'defaults';
  if (explicit || existsSync(file)) {
    raw = readPolicyFile(file);
    source = file;
  }
  const fromEnv: string[] = [];
  for (const [name, path] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    fromEnv.push(name);
    setPath(raw, path, path === 'hours' ? splitHours(value) : path === 'owner.enabled' ? parseEnvBool(name, value) : parseEnvNumber(name, value));
  }
  const r = sharePolicySchema.safeParse(raw);
  if (!r.success) {
    const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(policy)'}: ${i.message}`);
    throw new SharePolicyError(`invalid share policy (${source}${fromEnv.length ? ` + ${fromEnv.join(', ')}` : ''}):\n${lines.join('\n')}`);
  }
  return { policy: r.data, source: fromEnv.length ? `${source} + env` : source };
}

function readPolicyFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SharePolicyError(`cannot read the share policy ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let value: unknown;
  try {
    // YAML is a superset of JSON: one parser reads both.
    value = parseYaml(text, { maxAliasCount: 10 });
  } catch (err) {
    throw new SharePolicyError(`the share policy ${file} is neither JSON nor YAML: ${(err as Error).message.split('\n')[0]}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new SharePolicyError(`the share policy ${file} must be an object of settings`);
  return structuredClone(value) as Record<string, unknown>;
}

function parseEnvNumber(name: string, value: string): number {
  const r = envNumber.safeParse(value);
  if (!r.success || value.trim() === '') throw new SharePolicyError(`invalid share policy: ${name}=${JSON.stringify(value)} is not a number`);
  return r.data;
}

function parseEnvBool(name: string, value: string): boolean {
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new SharePolicyError(`invalid share policy: ${name}=${JSON.stringify(value)} is not a yes/no (1/0, true/false)`);
}

const splitHours = (v: string): string[] => v.split(',').map((s) => s.trim()).filter((s) => s !== '');

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let at = obj;
  for (const k of keys.slice(0, -1)) {
    const next = at[k];
    at = at[k] = typeof next === 'object' && next !== null && !Array.isArray(next) ? (next as Record<string, unknown>) : {};
  }
  at[keys.at(-1)!] = value;
}

const minutesOf = (hhmm: string): number => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Whether lending is allowed at `now` (host local time). No windows: always. */
export function lendingOpen(hours: readonly string[], now: Date): boolean {
  if (hours.length === 0) return true;
  const m = now.getHours() * 60 + now.getMinutes();
  return hours.some((w) => {
    const from = minutesOf(w.slice(0, 5));
    const to = minutesOf(w.slice(6));
    return from < to ? m >= from && m < to : m >= from || m < to;
  });
}
