import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { CommandError } from '../task/client.ts';

/**
 * One coordinator's saved sign-in: the API token `cps login` made, and for an https URL the
 * cluster CA the user confirmed then (trust on first use, as kubectl's kubeconfig keeps it). The
 * CA fields are optional: files written before them still read.
 */
const saved = z.object({
  token: z.string().regex(/^cps_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/),
  tokenId: z.string(),
  user: z.string(),
  savedAt: z.string(),
  ca: z.string().max(16_384).optional(),
  caSha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
  caPinnedAt: z.string().optional(),
});
export type SavedLogin = z.infer<typeof saved>;
const file = z.record(z.string(), saved);

/** ~/.config/cps/credentials.json (XDG_CONFIG_HOME respected; CPS_CREDENTIALS overrides). */
export function credentialsPath(env: NodeJS.ProcessEnv): string {
  if (env.CPS_CREDENTIALS) return env.CPS_CREDENTIALS;
  const config = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), '.config');
  return join(config, 'cps', 'credentials.json');
}

function readAll(path: string): Record<string, SavedLogin> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CommandError(`cannot read ${path}: ${(err as Error).message}`);
  }
  const parsed = file.safeParse(JSON.parse(text || '{}'));
  if (!parsed.success) throw new CommandError(`${path} is not a cps credentials file (remove it and run cps login again)`);
  return parsed.data;
}

function writeAll(path: string, all: Record<string, SavedLogin>): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // Written whole and renamed: a crash never leaves half a file; 0600 before the secret is in it.
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(all, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}

/** The saved sign-in for the coordinator at `url`, if any. */
export function loadLogin(env: NodeJS.ProcessEnv, url: string): SavedLogin | undefined {
  return readAll(credentialsPath(env))[url];
}

export function saveLogin(env: NodeJS.ProcessEnv, url: string, login: SavedLogin): string {
  const path = credentialsPath(env);
  writeAll(path, { ...readAll(path), [url]: login });
  return path;
}

/** Forgets the sign-in for `url`; returns what was saved. */
export function forgetLogin(env: NodeJS.ProcessEnv, url: string): SavedLogin | undefined {
  const path = credentialsPath(env);
  const all = readAll(path);
  const was = all[url];
  if (!was) return undefined;
  delete all[url];
  writeAll(path, all);
  return was;
}

/** The bearer token for `url`: CPS_TOKEN (scripts), else the one `cps login` saved. */
export function tokenFor(env: NodeJS.ProcessEnv, url: string): string | undefined {
  return env.CPS_TOKEN || loadLogin(env, url)?.token;
}
