import { hostname, userInfo } from 'node:os';
import { parse, UsageError, urlOption } from '../args.ts';
import { forgetLogin, loadLogin, saveLogin } from '../auth/credentials.ts';
import { readPassword } from '../auth/password-input.ts';
import type { Io } from '../io.ts';
import { call, clientFor, CommandError } from '../task/client.ts';

export const loginHelp = `Usage: cps login [--url URL] [--name NAME] [--password-stdin]

Signs in to the coordinator and saves an API token for this machine (0600, in
~/.config/cps/credentials.json, one per coordinator URL); every cps command then sends it.

  --url URL          the coordinator (default: $CPS_URL or http://localhost:8080)
  --name NAME        your user name (default: $CPS_USER, else your login name)
  --password-stdin   read the password from stdin (else $CPS_PASSWORD, else typed without echo)
`;

export const logoutHelp = `Usage: cps logout [--url URL]

Revokes the token cps login saved for the coordinator and forgets it.
`;

/** `cps-cli@<host>`: the token's label says which machine holds it, for cps token list. */
const tokenLabel = () => `cps-cli@${hostname()}`.slice(0, 64);

export async function login(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, { url: { type: 'string' }, name: { type: 'string' }, 'password-stdin': { type: 'boolean' } });
  if (values.help) return io.out(loginHelp), 0;
  const url = urlOption(values.url, io.env);
  const who = values.name ?? (io.env.CPS_USER || userInfo().username);
  if (!who) throw new UsageError('--name NAME is required (or set CPS_USER)');
  const password = await readPassword(io, { stdin: values['password-stdin'], prompt: `password for ${who} at ${url}: ` });

  // A session only long enough to make the token; the token is what this machine keeps.
  const c = clientFor(url);
  let cookie: string | undefined;
  const signedIn = await call(url, async () => {
    const r = await c.POST('/api/session', { body: { name: who, password } });
    cookie = r.response.headers.getSetCookie().find((l) => l.startsWith('cps_session='))?.split(';')[0];
    return r;
  });
  if (!cookie) throw new CommandError(`${url} signed ${who} in but sent no session cookie`);
  const headers = { cookie };
  const made = await call(url, () => c.POST('/api/tokens', { body: { name: tokenLabel() }, headers }));
  await call(url, () => c.DELETE('/api/session', { headers }).then((r) => ({ ...r, data: r.data ?? {} })));

  // A login again replaces the token this machine had for that coordinator.
  const before = loadLogin(io.env, url);
  const path = saveLogin(io.env, url, { token: made.token, tokenId: made.id, user: signedIn.user.name, savedAt: new Date().toISOString() });
  if (before) await revokeQuietly(url, before.token, before.tokenId);
  io.out(`signed in to ${url} as ${signedIn.user.name} (${signedIn.user.role}); token ${made.id} saved in ${path}`);
  return 0;
}

export async function logout(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, { url: { type: 'string' } });
  if (values.help) return io.out(logoutHelp), 0;
  const url = urlOption(values.url, io.env);
  const was = forgetLogin(io.env, url);
  if (!was) return io.out(`not signed in to ${url}`), 0;
  const revoked = await revokeQuietly(url, was.token, was.tokenId);
  io.out(`signed out of ${url}${revoked ? `; token ${was.tokenId} revoked` : `; token ${was.tokenId} forgotten (the coordinator could not be told: revoke it with cps token revoke)`}`);
  return 0;
}

async function revokeQuietly(url: string, token: string, tokenId: string): Promise<boolean> {
  try {
    const r = await clientFor(url, token).DELETE('/api/tokens/{tokenId}', { params: { path: { tokenId } } });
    return r.response.ok || r.response.status === 401;
  } catch {
    return false;
  }
}
