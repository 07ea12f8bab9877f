import { hostname, userInfo } from 'node:os';
import { parse, UsageError, urlOption } from '../args.ts';
import { colonHex, fetchFor, trustFor, type Fetch } from '../auth/coordinator-trust.ts';
import { forgetLogin, loadLogin, saveLogin } from '../auth/credentials.ts';
import { trustToSignIn } from '../auth/first-trust.ts';
import { readPassword } from '../auth/password-input.ts';
import type { Io } from '../io.ts';
import { call, clientFor, CommandError } from '../task/client.ts';

export const loginHelp = `Usage: cps login [URL] [--name NAME] [--password-stdin] [--ca FILE | --ca-sha256 HEX]

Signs in to the coordinator and saves an API token for this machine (0600, in
~/.config/cps/credentials.json, one per coordinator URL); every cps command then sends it.

Another machine's coordinator is spoken to over https (a URL without a scheme is https, but on
this machine). Its certificate is trusted by the cluster CA: CPS_CA, or --ca FILE, or this
node's own (on a member), else the system store (a certificate the admin provides). Failing
those, the CA the coordinator presents is shown with its SHA-256 fingerprint for you to confirm,
and is pinned beside the token: a coordinator that later presents another CA is refused.

  URL, --url URL     the coordinator (default: $CPS_URL or http://localhost:8080)
  --name NAME        your user name (default: $CPS_USER, else your login name)
  --password-stdin   read the password from stdin (else $CPS_PASSWORD, else typed without echo)
  --ca FILE          trust this CA certificate (the cluster's ca.pem) and pin it
  --ca-sha256 HEX    pin the CA the coordinator presents if it has this fingerprint (no question)
`;

export const logoutHelp = `Usage: cps logout [--url URL]

Revokes the token cps login saved for the coordinator and forgets it.
`;

/** `cps-cli@<host>`: the token's label says which machine holds it, for cps token list. */
const tokenLabel = () => `cps-cli@${hostname()}`.slice(0, 64);

export async function login(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(
    args,
    { url: { type: 'string' }, name: { type: 'string' }, 'password-stdin': { type: 'boolean' }, ca: { type: 'string' }, 'ca-sha256': { type: 'string' } },
    1,
  );
  if (values.help) return io.out(loginHelp), 0;
  if (positionals[0] && values.url) throw new UsageError('give the URL once: as an argument or with --url');
  const url = urlOption(positionals[0] ?? values.url, io.env);
  const who = values.name ?? (io.env.CPS_USER || userInfo().username);
  if (!who) throw new UsageError('--name NAME is required (or set CPS_USER)');
  // Trust first: no password goes to a coordinator whose certificate was not checked.
  const { trust, pin } = await trustToSignIn(io, url, { caFile: values.ca, caSha256: values['ca-sha256'] });
  const password = await readPassword(io, { stdin: values['password-stdin'], prompt: `password for ${who} at ${url}: ` });

  // A session only long enough to make the token; the token is what this machine keeps.
  const fetch = fetchFor(trust, url);
  const c = clientFor(url, undefined, fetch);
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
  const savedAt = new Date().toISOString();
  const pinFields = pin ? { ca: pin.ca, caSha256: pin.caSha256, caPinnedAt: before?.caSha256 === pin.caSha256 ? (before.caPinnedAt ?? savedAt) : savedAt } : {};
  const path = saveLogin(io.env, url, { token: made.token, tokenId: made.id, user: signedIn.user.name, savedAt, ...pinFields });
  if (before) await revokeQuietly(url, before.token, before.tokenId, fetch);
  io.out(`signed in to ${url} as ${signedIn.user.name} (${signedIn.user.role}); token ${made.id} saved in ${path}${pin ? `; CA ${colonHex(pin.caSha256).slice(0, 23)}… pinned` : ''}`);
  return 0;
}

export async function logout(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, { url: { type: 'string' } });
  if (values.help) return io.out(logoutHelp), 0;
  const url = urlOption(values.url, io.env);
  const was = forgetLogin(io.env, url);
  if (!was) return io.out(`not signed in to ${url}`), 0;
  // Trusted as it was before the pin is forgotten with the token.
  const revoked = await revokeQuietly(url, was.token, was.tokenId, fetchFor(was.ca && was.caSha256 ? { kind: 'pinned', caPem: was.ca, caSha256: was.caSha256, source: 'the CA pinned at cps login' } : trustFor(io.env, url), url));
  io.out(`signed out of ${url}${revoked ? `; token ${was.tokenId} revoked` : `; token ${was.tokenId} forgotten (the coordinator could not be told: revoke it with cps token revoke)`}`);
  return 0;
}

async function revokeQuietly(url: string, token: string, tokenId: string, fetch: Fetch): Promise<boolean> {
  try {
    const r = await clientFor(url, token, fetch).DELETE('/api/tokens/{tokenId}', { params: { path: { tokenId } } });
    return r.response.ok || r.response.status === 401;
  } catch {
    return false;
  }
}
