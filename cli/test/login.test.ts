import { getRequestListener } from '@hono/node-server';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fakeNode, signedInCluster } from '../../services/coordinator/test/fakes.ts';
import { memoryIo } from '../src/io.ts';
import { run } from '../src/main.ts';

// cps login, token and user against the real coordinator app with accounts, over a socket.
let server: Server | undefined;
let home: string | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  if (home) rmSync(home, { recursive: true, force: true });
});

async function coordinator() {
  const cluster = await signedInCluster([fakeNode('node-a', '127.0.0.1')]);
  server = createServer((req, res) => void getRequestListener(cluster.app.fetch)(req, res));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  home = mkdtempSync(join(tmpdir(), 'cps-login-'));
  /** One cps command line as a user of this machine (its own HOME), with extra env and stdin. */
  const cps = async (argv: string[], env: Record<string, string> = {}, stdin?: string) => {
    const io = memoryIo({ HOME: home!, ...env }, stdin);
    const code = await run([...argv, '--url', url], io);
    return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
  };
  const credentials = join(home, '.config', 'cps', 'credentials.json');
  return { cluster, url, cps, credentials };
}

describe('cps login', () => {
  it('signs in with CPS_PASSWORD, saves a token 0600 keyed by the URL, and every cps task sends it', async () => {
    const { cluster, url, cps, credentials } = await coordinator();
    const r = await cps(['login', '--name', 'alice'], { CPS_PASSWORD: 'alice-password-1' });
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toMatch(/^signed in to http:\/\/127\.0\.0\.1:\d+ as alice \(user\); token [0-9a-f]{16} saved in /);
    expect(statSync(credentials).mode & 0o777).toBe(0o600);
    expect(statSync(join(home!, '.config', 'cps')).mode & 0o077).toBe(0);
    const saved = JSON.parse(readFileSync(credentials, 'utf8'));
    expect(Object.keys(saved)).toEqual([url]);
    expect(saved[url]).toMatchObject({ user: 'alice', token: expect.stringMatching(/^cps_/) });
    // The token works and is alice's: the session used to make it was ended.
    expect(cluster.accounts.checkToken(saved[url].token)).toMatchObject({ user: { name: 'alice' } });

    expect((await cps(['task', 'submit', '--name', 'mine'])).code).toBe(0);
    await cluster.request('bob', 'POST', '/api/tasks', { name: 'bobs' });
    const [mine] = cluster.tasks.list().filter((t) => t.name === 'mine');
    expect(mine!.owner).toEqual({ id: cluster.users.alice.id, name: 'alice' });
    const list = await cps(['task', 'list', '--json']);
    expect(JSON.parse(list.out).map((t: { name: string }) => t.name)).toEqual(['mine']);
  });

  it('reads the password from stdin with --password-stdin, and says when it is wrong', async () => {
    const { cps, credentials } = await coordinator();
    const wrong = await cps(['login', '--name', 'bob', '--password-stdin'], {}, 'not-his-password\n');
    expect(wrong.code).toBe(1);
    expect(wrong.err).toMatch(/^error: The name or password is wrong: /);
    expect(() => statSync(credentials)).toThrow();
    const right = await cps(['login', '--name', 'bob', '--password-stdin'], {}, 'bob-password-12\n');
    expect(right).toMatchObject({ code: 0, err: '' });
    expect(right.out).toContain('as bob (user)');
  });

  it('with no terminal and no CPS_PASSWORD, says how to give the password', async () => {
    const { cps } = await coordinator();
    const r = await cps(['login', '--name', 'bob']);
    expect(r.code).toBe(1);
    expect(r.err).toBe('error: no terminal to type the password on: set CPS_PASSWORD or use --password-stdin');
  });

  it('says "not signed in: run cps login" when no token is saved, and after logout', async () => {
    const { cps } = await coordinator();
    const none = await cps(['task', 'list']);
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/^error: not signed in: run cps login --url http:\/\/127\.0\.0\.1:\d+ \(sign in, or send Authorization: Bearer <API token>\)$/);
    await cps(['login', '--name', 'alice'], { CPS_PASSWORD: 'alice-password-1' });
    expect((await cps(['task', 'list'])).code).toBe(0);
    await cps(['logout']);
    expect((await cps(['task', 'submit', '--name', 'after'])).err).toMatch(/^error: not signed in: run cps login/);
    // A token that was revoked behind the CLI's back says so.
    const revoked = await cps(['task', 'list'], { CPS_TOKEN: 'cps_0123456789abcdef_' + 'A'.repeat(43) });
    expect(revoked.err).toMatch(/not signed in: run cps login .*\(the API token is not valid\)$/);
  });

  it('logout revokes the saved token and forgets it', async () => {
    const { cluster, url, cps, credentials } = await coordinator();
    await cps(['login', '--name', 'alice'], { CPS_PASSWORD: 'alice-password-1' });
    const token = JSON.parse(readFileSync(credentials, 'utf8'))[url].token as string;
    const out = await cps(['logout']);
    expect(out).toMatchObject({ code: 0, err: '' });
    expect(out.out).toMatch(/^signed out of .*; token [0-9a-f]{16} revoked$/);
    expect(cluster.accounts.checkToken(token)).toEqual({ failure: 'token-revoked' });
    expect(JSON.parse(readFileSync(credentials, 'utf8'))).toEqual({});
    expect((await cps(['logout'])).out).toBe(`not signed in to ${url}`);
  });
});

describe('cps token and cps user', () => {
  it('creates, lists and revokes tokens of the signed-in user', async () => {
    const { cluster, cps } = await coordinator();
    await cps(['login', '--name', 'alice'], { CPS_PASSWORD: 'alice-password-1' });
    const made = await cps(['token', 'create', 'ci', '--json']);
    expect(made.code).toBe(0);
    const { id, token } = JSON.parse(made.out) as { id: string; token: string };
    expect(cluster.accounts.checkToken(token)).toMatchObject({ user: { name: 'alice' } });
    const list = await cps(['token', 'list']);
    expect(list.out).toMatch(/^ID +NAME +CREATED/);
    expect(list.out).toContain(' ci ');
    expect(list.out).toMatch(/cps-cli@/);
    expect(await cps(['token', 'revoke', id])).toMatchObject({ code: 0, out: `token ${id} revoked` });
    expect(cluster.accounts.checkToken(token)).toEqual({ failure: 'token-revoked' });
  });

  it('lets an admin add a user whose printed password signs them in; refuses a user', async () => {
    const { cps, cluster } = await coordinator();
    await cps(['login', '--name', 'admin'], { CPS_PASSWORD: cluster.adminPassword! });
    const added = await cps(['user', 'add', 'carol']);
    expect(added.code).toBe(0);
    const password = /password, shown once: (\S+)/.exec(added.out)![1]!;
    expect(password).toHaveLength(20);
    expect((await cps(['user', 'list'])).out).toMatch(/carol +user +enabled/);
    const carol = await cps(['login', '--name', 'carol'], { CPS_PASSWORD: password });
    expect(carol).toMatchObject({ code: 0, err: '' });
    const refused = await cps(['user', 'add', 'dave', '--admin']);
    expect(refused.code).toBe(1);
    expect(refused.err).toBe('error: Your role does not allow this: carol is not an admin; this is an admin\'s route');
  });
});
