import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { specFiles } from '@cps/openapi';
import { sha256Hex } from '../src/accounts/secrets.ts';
import { accountsHarness, bearer, contract, passwords, sessionCookie } from './accounts-harness.ts';

const problemType = (t: string) => `urn:cps:problem:${t}`;
const min = 60_000;
const hour = 60 * min;

async function expectProblem(res: Response, status: number, type: string) {
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const body = (await res.json()) as { type: string; status: number; detail: string };
  expect({ status: res.status, type: body.type }).toEqual({ status, type: problemType(type) });
  return body;
}

describe('the first admin', () => {
  it('is made once, as admin with a random password that signs in; a second call makes nothing', async () => {
    const h = await accountsHarness();
    expect(h.admin).toMatchObject({ name: 'admin', role: 'admin' });
    expect(h.adminPassword).toMatch(/^[A-Za-z2-9]{20}$/);
    expect(await h.accounts.ensureFirstAdmin()).toBeUndefined();
    expect(h.store.users.count()).toBe(3);
    const res = await h.signIn('admin', h.adminPassword);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ user: { name: 'admin', role: 'admin', disabled: false } });
  });

  it('keeps only an argon2id hash with the OWASP parameters, never the password', async () => {
    const h = await accountsHarness();
    const stored = h.store.users.get(h.admin.id)!;
    expect(stored.passwordHash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(JSON.stringify(h.store.users.list())).not.toContain(h.adminPassword);
    expect(JSON.stringify(h.store.users.list())).not.toContain(passwords.alice);
  });
});

describe('POST /api/session (sign in)', () => {
  it('sets an HttpOnly, SameSite=Strict, Path=/ cookie for the session lifetime, not Secure over plain HTTP', async () => {
    const h = await accountsHarness();
    const res = await h.signIn('alice', passwords.alice);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { user: Record<string, unknown>; expiresAt: string };
    expect(body.user).toEqual({ id: h.alice.id, name: 'alice', role: 'user', quota: h.alice.quota, createdAt: h.alice.createdAt, disabled: false });
    expect(body.expiresAt).toBe(new Date(h.clock.now().getTime() + 8 * hour).toISOString());
    const [line, ...more] = res.headers.getSetCookie();
    expect(more).toEqual([]);
    const [pair, ...attrs] = line!.split('; ');
    expect(pair).toMatch(/^cps_session=[A-Za-z0-9_-]{43}$/);
    expect(attrs.sort()).toEqual(['HttpOnly', 'Max-Age=28800', 'Path=/', 'SameSite=Strict']);
  });

  it('marks the cookie Secure when the request came over HTTPS', async () => {
    const h = await accountsHarness();
    const res = await h.signIn('alice', passwords.alice, { https: true });
    expect(res.status).toBe(200);
    expect(res.headers.getSetCookie()[0]!.split('; ')).toEqual(expect.arrayContaining(['Secure', 'HttpOnly', 'SameSite=Strict', 'Path=/']));
  });

  it('stores the session only as the SHA-256 of the cookie value', async () => {
    const h = await accountsHarness();
    const value = sessionCookie(await h.signIn('alice', passwords.alice))!.slice('cps_session='.length);
    const session = h.store.sessions.get(sha256Hex(value));
    expect(session).toMatchObject({ userId: h.alice.id });
    expect(JSON.stringify(session)).not.toContain(value);
    expect(h.store.sessions.get(value)).toBeUndefined();
  });

  it('gives one answer for a wrong password, an unknown name and a disabled user, and sets no cookie', async () => {
    const h = await accountsHarness();
    await h.accounts.update(h.bob.id, { disabled: true });
    const answers = [];
    for (const [name, password] of [['alice', 'not-her-password'], ['mallory', 'whatever-it-is'], ['bob', passwords.bob]] as const) {
      const res = await h.signIn(name, password, { from: `198.51.100.${answers.length + 1}` });
      expect(res.headers.getSetCookie()).toEqual([]);
      const body = await expectProblem(res, 401, 'sign-in-failed');
      answers.push({ ...body, instance: undefined });
    }
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
  });

  it('refuses a body over 16 KiB unread', async () => {
    const h = await accountsHarness();
    const res = await h.json('POST', '/api/session', { name: 'alice', password: 'x'.repeat(20_000) });
    await expectProblem(res, 413, 'payload-too-large');
  });

  it('ends a session the browser already had (a planted id signs no one in)', async () => {
    const h = await accountsHarness();
    const before = await h.cookieFor('alice', passwords.alice);
    const res = await h.json('POST', '/api/session', { name: 'alice', password: passwords.alice }, { cookie: before });
    const after = sessionCookie(res)!;
    expect(after).not.toBe(before);
    await expectProblem(await h.call('/api/me', { headers: { cookie: before } }), 401, 'authentication-required');
    expect((await h.call('/api/me', { headers: { cookie: after } })).status).toBe(200);
  });
});

describe('sign-in rate limit', () => {
  it('refuses a name with 429 and Retry-After after 5 failures in 15 minutes, even with the right password, until the window passes', async () => {
    const h = await accountsHarness();
    for (let i = 0; i < 5; i++) {
      h.clock.advance(min);
      await expectProblem(await h.signIn('alice', `wrong-${i}`, { from: `198.51.100.${i}` }), 401, 'sign-in-failed');
    }
    const refused = await h.signIn('alice', passwords.alice, { from: '203.0.113.9' });
    const body = await expectProblem(refused, 429, 'too-many-attempts');
    // The first failure was 4 minutes ago: it leaves the window in 11.
    expect(refused.headers.get('retry-after')).toBe('660');
    expect(body).toMatchObject({ retryAfterSec: 660 });
    expect(refused.headers.getSetCookie()).toEqual([]);
    // Another user is not held up.
    expect((await h.signIn('bob', passwords.bob)).status).toBe(200);

    h.clock.advance(11 * min - 1000);
    expect((await h.signIn('alice', passwords.alice)).status).toBe(429);
    h.clock.advance(1000);
    expect((await h.signIn('alice', passwords.alice)).status).toBe(200);
  });

  it('starts a name over after a success', async () => {
    const h = await accountsHarness();
    for (let i = 0; i < 4; i++) expect((await h.signIn('alice', 'wrong-password')).status).toBe(401);
    expect((await h.signIn('alice', passwords.alice)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await h.signIn('alice', 'wrong-password')).status).toBe(401);
    expect((await h.signIn('alice', passwords.alice)).status).toBe(429);
  });

  it('counts an unknown name like a known one', async () => {
    const h = await accountsHarness();
    for (let i = 0; i < 5; i++) expect((await h.signIn('nobody', 'guess', { from: `198.51.100.${i}` })).status).toBe(401);
    await expectProblem(await h.signIn('nobody', 'guess'), 429, 'too-many-attempts');
  });

  it('refuses an address that failed 20 times over any names, and a success does not buy it more guesses', async () => {
    const h = await accountsHarness();
    const from = '198.51.100.66';
    expect((await h.signIn('bob', passwords.bob, { from })).status).toBe(200);
    for (let i = 0; i < 20; i++) expect((await h.signIn(`name${i}`, 'guess', { from })).status).toBe(401);
    await expectProblem(await h.signIn('alice', passwords.alice, { from }), 429, 'too-many-attempts');
    await expectProblem(await h.signIn('bob', passwords.bob, { from }), 429, 'too-many-attempts');
    // From elsewhere the same accounts sign in.
    expect((await h.signIn('alice', passwords.alice, { from: '198.51.100.67' })).status).toBe(200);
    h.clock.advance(15 * min);
    expect((await h.signIn('alice', passwords.alice, { from })).status).toBe(200);
  });

  it('holds when the attempts arrive all at once', async () => {
    const h = await accountsHarness();
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => h.signIn('alice', `wrong-${i}`, { from: `198.51.100.${i}` })));
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([...Array(5).fill(401), ...Array(7).fill(429)]);
  });
});

describe('sessions', () => {
  it('renew while used (sliding), end when idle for their lifetime, and never outlive 7 days', async () => {
    const h = await accountsHarness();
    const cookie = await h.cookieFor('alice', passwords.alice);
    const signedInAt = h.clock.now().getTime();

    h.clock.advance(3 * hour);
    const early = await h.call('/api/me', { headers: { cookie } });
    expect(early.status).toBe(200);
    expect(early.headers.getSetCookie()).toEqual([]); // more than half the lifetime left

    h.clock.advance(2 * hour);
    const renewed = await h.call('/api/me', { headers: { cookie } });
    expect(renewed.status).toBe(200);
    expect(sessionCookie(renewed)).toBe(cookie);
    expect(renewed.headers.getSetCookie()[0]).toContain('Max-Age=28800');
    expect(((await renewed.json()) as { sessionExpiresAt: string }).sessionExpiresAt).toBe(new Date(h.clock.now().getTime() + 8 * hour).toISOString());

    h.clock.advance(8 * hour - 1000);
    expect((await h.call('/api/me', { headers: { cookie } })).status).toBe(200);

    // Used every 5 hours, it still ends 7 days after sign-in.
    while (h.clock.now().getTime() + 5 * hour < signedInAt + 7 * 24 * hour) {
      h.clock.advance(5 * hour);
      expect((await h.call('/api/me', { headers: { cookie } })).status).toBe(200);
    }
    h.clock.advance(signedInAt + 7 * 24 * hour - h.clock.now().getTime());
    const ended = await h.call('/api/me', { headers: { cookie } });
    const body = await expectProblem(ended, 401, 'authentication-required');
    expect(body.detail).toBe('the session has ended; sign in again');
    expect(ended.headers.getSetCookie()[0]).toMatch(/^cps_session=; Max-Age=0;/);
  });

  it('ends after 8 idle hours', async () => {
    const h = await accountsHarness();
    const cookie = await h.cookieFor('alice', passwords.alice);
    h.clock.advance(8 * hour);
    await expectProblem(await h.call('/api/me', { headers: { cookie } }), 401, 'authentication-required');
  });
});

describe('DELETE /api/session (sign out)', () => {
  it('ends the session and clears the cookie; the old cookie then signs no one in', async () => {
    const h = await accountsHarness();
    const cookie = await h.cookieFor('alice', passwords.alice);
    const res = await h.call('/api/session', { method: 'DELETE', headers: { cookie } });
    expect(res.status).toBe(204);
    expect(res.headers.getSetCookie()[0]!.split('; ').sort()).toEqual(['HttpOnly', 'Max-Age=0', 'Path=/', 'SameSite=Strict', 'cps_session=']);
    const after = await h.call('/api/me', { headers: { cookie } });
    expect((await expectProblem(after, 401, 'authentication-required')).detail).toBe('the session has ended; sign in again');
  });

  it('answers 204 without a session', async () => {
    const h = await accountsHarness();
    expect((await h.call('/api/session', { method: 'DELETE' })).status).toBe(204);
  });
});

describe('GET /api/me', () => {
  it('names the caller by session or by token', async () => {
    const h = await accountsHarness();
    const cookie = await h.cookieFor('bob', passwords.bob);
    const bySession = await h.call('/api/me', { headers: { cookie } });
    expect(await bySession.json()).toMatchObject({ user: { id: h.bob.id, name: 'bob', role: 'user' }, via: 'session' });
    const { token } = await h.tokenFor(cookie);
    const byToken = await h.call('/api/me', { headers: bearer(token) });
    const body = (await byToken.json()) as Record<string, unknown>;
    expect(body).toEqual({ user: expect.objectContaining({ name: 'bob' }), via: 'token' });
    expect(JSON.stringify(body)).not.toContain('passwordHash');
  });

  it('refuses a caller with nothing with 401 and WWW-Authenticate: Bearer', async () => {
    const h = await accountsHarness();
    const res = await h.call('/api/me');
    const body = await expectProblem(res, 401, 'authentication-required');
    expect(res.headers.get('www-authenticate')).toBe('Bearer realm="cps"');
    expect(body.detail).toMatch(/sign in/);
  });

  it('refuses a cookie that is not one of ours without hashing it', async () => {
    const h = await accountsHarness();
    await expectProblem(await h.call('/api/me', { headers: { cookie: 'cps_session=../../x' } }), 401, 'authentication-required');
    await expectProblem(await h.call('/api/me', { headers: { cookie: `cps_session=${'A'.repeat(43)}` } }), 401, 'authentication-required');
  });
});

describe('API tokens', () => {
  it('are made as cps_<id>_<secret>, stored as the SHA-256 of the secret, listed without it, and sign their owner in', async () => {
    const h = await accountsHarness();
    const cookie = await h.cookieFor('alice', passwords.alice);
    const res = await h.json('POST', '/api/tokens', { name: 'my laptop' }, { cookie });
    expect(res.status).toBe(201);
    const made = (await res.json()) as { id: string; token: string; userId: string; name: string };
    expect(made).toMatchObject({ userId: h.alice.id, name: 'my laptop' });
    const m = /^cps_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/.exec(made.token)!;
    expect(m[1]).toBe(made.id);
    expect(h.store.tokens.get(made.id)!.secretHash).toBe(sha256Hex(m[2]!));
    expect(JSON.stringify(h.store.tokens.listFor(h.alice.id))).not.toContain(m[2]);

    const who = await h.call('/api/whoami', { headers: bearer(made.token) });
    expect(await who.json()).toEqual({ name: 'alice', via: 'token' });

    const list = await h.call('/api/tokens', { headers: bearer(made.token) });
    const items = ((await list.json()) as { items: Record<string, unknown>[] }).items;
    expect(items).toEqual([{ id: made.id, userId: h.alice.id, name: 'my laptop', createdAt: h.clock.now().toISOString(), lastUsedAt: h.clock.now().toISOString() }]);
    // Bob sees none of them.
    const bobs = await h.call('/api/tokens', { headers: { cookie: await h.cookieFor('bob', passwords.bob) } });
    expect(await bobs.json()).toEqual({ items: [] });
  });

  it('expire after the days asked for', async () => {
    const h = await accountsHarness();
    const cookie = await h.cookieFor('alice', passwords.alice);
    const res = await h.json('POST', '/api/tokens', { name: 'ci', expiresInDays: 1 }, { cookie });
    const { token, expiresAt } = (await res.json()) as { token: string; expiresAt: string };
    expect(expiresAt).toBe(new Date(h.clock.now().getTime() + 24 * hour).toISOString());
    h.clock.advance(24 * hour - 1000);
    expect((await h.call('/api/me', { headers: bearer(token) })).status).toBe(200);
    h.clock.advance(1000);
    const refused = await h.call('/api/me', { headers: bearer(token) });
    expect((await expectProblem(refused, 401, 'authentication-required')).detail).toBe('the API token has expired');
    expect(refused.headers.get('www-authenticate')).toBe('Bearer realm="cps", error="invalid_token"');
  });

  it('once revoked sign no one in, and say so', async () => {
    const h = await accountsHarness();
    const cookie = await h.cookieFor('alice', passwords.alice);
    const { id, token } = await h.tokenFor(cookie);
    expect((await h.call(`/api/tokens/${id}`, { method: 'DELETE', headers: bearer(token) })).status).toBe(204);
    const refused = await h.call('/api/me', { headers: bearer(token) });
    expect((await expectProblem(refused, 401, 'authentication-required')).detail).toBe('the API token was revoked');
    expect(refused.headers.get('www-authenticate')).toContain('error="invalid_token"');
    // Revoking again is a no-op; the list shows when.
    expect((await h.call(`/api/tokens/${id}`, { method: 'DELETE', headers: { cookie } })).status).toBe(204);
    const list = (await (await h.call('/api/tokens', { headers: { cookie } })).json()) as { items: { revokedAt?: string }[] };
    expect(list.items[0]!.revokedAt).toBe(h.clock.now().toISOString());
  });

  it('with the right id and a wrong secret, or garbage, are just not valid', async () => {
    const h = await accountsHarness();
    const { id } = await h.tokenFor(await h.cookieFor('alice', passwords.alice));
    for (const header of [`Bearer cps_${id}_${'A'.repeat(43)}`, 'Bearer cps_nonsense', 'Basic YWxpY2U6eA==', 'Bearer']) {
      const res = await h.call('/api/me', { headers: { authorization: header } });
      expect((await expectProblem(res, 401, 'authentication-required')).detail).toBe('the API token is not valid');
    }
  });

  it("cannot be revoked by another user (not found), but can by an admin", async () => {
    const h = await accountsHarness();
    const { id } = await h.tokenFor(await h.cookieFor('alice', passwords.alice));
    const bob = await h.cookieFor('bob', passwords.bob);
    await expectProblem(await h.call(`/api/tokens/${id}`, { method: 'DELETE', headers: { cookie: bob } }), 404, 'not-found');
    expect(h.store.tokens.get(id)!.revokedAt).toBeUndefined();
    const admin = await h.cookieFor('admin', h.adminPassword);
    expect((await h.call(`/api/tokens/${id}`, { method: 'DELETE', headers: { cookie: admin } })).status).toBe(204);
    expect(h.store.tokens.get(id)!.revokedAt).toBeDefined();
  });

  it('refuses a bad token id, a bad request and a caller with nothing', async () => {
    const h = await accountsHarness();
    const cookie = await h.cookieFor('alice', passwords.alice);
    await expectProblem(await h.call('/api/tokens/..%2Fx', { method: 'DELETE', headers: { cookie } }), 400, 'validation-failed');
    await expectProblem(await h.call('/api/tokens/0123456789abcdef', { method: 'DELETE', headers: { cookie } }), 404, 'not-found');
    await expectProblem(await h.json('POST', '/api/tokens', { name: 'a\nb' }, { cookie }), 400, 'validation-failed');
    await expectProblem(await h.json('POST', '/api/tokens', { name: 'x', expiresInDays: 0 }, { cookie }), 400, 'validation-failed');
    await expectProblem(await h.json('POST', '/api/tokens', { name: 'x' }), 401, 'authentication-required');
    await expectProblem(await h.call('/api/tokens'), 401, 'authentication-required');
    await expectProblem(await h.call('/api/tokens/0123456789abcdef', { method: 'DELETE' }), 401, 'authentication-required');
  });
});

describe('admin: /api/users', () => {
  it('lists every user without password hashes, to an admin only', async () => {
    const h = await accountsHarness();
    const admin = await h.cookieFor('admin', h.adminPassword);
    const res = await h.call('/api/users', { headers: { cookie: admin } });
    expect(res.status).toBe(200);
    const { items } = (await res.json()) as { items: { name: string }[] };
    expect(items.map((u) => u.name)).toEqual(['admin', 'alice', 'bob']);
    expect(JSON.stringify(items)).not.toContain('argon2');

    const alice = await h.cookieFor('alice', passwords.alice);
    const refused = await h.call('/api/users', { headers: { cookie: alice } });
    expect((await expectProblem(refused, 403, 'forbidden')).detail).toBe("alice is not an admin; this is an admin's route");
    await expectProblem(await h.call('/api/users'), 401, 'authentication-required');
  });

  it('makes a user with the default quota unless told, and the user signs in', async () => {
    const h = await accountsHarness();
    const { token } = await h.tokenFor(await h.cookieFor('admin', h.adminPassword));
    const res = await h.json('POST', '/api/users', { name: 'carol', password: 'carol-long-password', quota: { vcpus: 2 } }, bearer(token));
    expect(res.status).toBe(201);
    const carol = (await res.json()) as { id: string; quota: unknown; role: string };
    expect(res.headers.get('location')).toBe(`/api/users/${carol.id}`);
    expect(carol).toMatchObject({ role: 'user', quota: { ...h.alice.quota, vcpus: 2 } });
    expect((await h.signIn('carol', 'carol-long-password')).status).toBe(200);
  });

  it('refuses a taken name, a bad name, a short password, and a user who is not an admin', async () => {
    const h = await accountsHarness();
    const admin = { cookie: await h.cookieFor('admin', h.adminPassword) };
    await expectProblem(await h.json('POST', '/api/users', { name: 'alice', password: 'another-long-one' }, admin), 409, 'conflict');
    await expectProblem(await h.json('POST', '/api/users', { name: 'Carol', password: 'another-long-one' }, admin), 400, 'validation-failed');
    await expectProblem(await h.json('POST', '/api/users', { name: 'carol', password: 'short' }, admin), 400, 'validation-failed');
    await expectProblem(await h.json('POST', '/api/users', { name: 'carol', password: 'another-long-one', quota: { vcpus: -1 } }, admin), 400, 'validation-failed');
    await expectProblem(await h.json('POST', '/api/users', { name: 'carol', password: 'another-long-one', passwordHash: 'x' }, admin), 400, 'validation-failed');
    const alice = { cookie: await h.cookieFor('alice', passwords.alice) };
    await expectProblem(await h.json('POST', '/api/users', { name: 'carol', password: 'another-long-one', role: 'admin' }, alice), 403, 'forbidden');
    expect(h.store.users.byName('carol')).toBeUndefined();
  });

  it('changes role, some quota fields, and the password', async () => {
    const h = await accountsHarness();
    const admin = { cookie: await h.cookieFor('admin', h.adminPassword) };
    const res = await h.json('PATCH', `/api/users/${h.alice.id}`, { role: 'admin', quota: { memoryMiB: 1024 }, password: 'alice-new-password' }, admin);
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ role: 'admin', quota: { ...h.alice.quota, memoryMiB: 1024 } });
    await expectProblem(await h.signIn('alice', passwords.alice), 401, 'sign-in-failed');
    const alice = await h.cookieFor('alice', 'alice-new-password');
    expect((await h.call('/api/users', { headers: { cookie: alice } })).status).toBe(200);
  });

  it('disables a user: their session and tokens stop at once, sign-in fails; enabling brings them back', async () => {
    const h = await accountsHarness();
    const admin = { cookie: await h.cookieFor('admin', h.adminPassword) };
    const cookie = await h.cookieFor('bob', passwords.bob);
    const { token } = await h.tokenFor(cookie);
    const res = await h.json('PATCH', `/api/users/${h.bob.id}`, { disabled: true }, admin);
    expect(await res.json()).toMatchObject({ disabled: true, disabledAt: h.clock.now().toISOString() });
    // The token is refused for the disabled account; the session is gone altogether.
    const refused = await h.call('/api/whoami', { headers: bearer(token) });
    expect((await expectProblem(refused, 401, 'authentication-required')).detail).toBe('the account is disabled');
    await expectProblem(await h.call('/api/whoami', { headers: { cookie } }), 401, 'authentication-required');
    expect(h.store.sessions.deleteForUser(h.bob.id)).toBe(0);
    await expectProblem(await h.signIn('bob', passwords.bob), 401, 'sign-in-failed');

    const enabled = await h.json('PATCH', `/api/users/${h.bob.id}`, { disabled: false }, admin);
    expect(await enabled.json()).toMatchObject({ disabled: false });
    expect((await h.call('/api/whoami', { headers: bearer(token) })).status).toBe(200);
    // Disabling ended the session for good: enabling again does not bring an old cookie back.
    await expectProblem(await h.call('/api/whoami', { headers: { cookie } }), 401, 'authentication-required');
  });

  it('a new password signs the user out of every session, their own included; tokens stay', async () => {
    const h = await accountsHarness();
    const admin = { cookie: await h.cookieFor('admin', h.adminPassword) };
    const first = await h.cookieFor('alice', passwords.alice);
    const second = await h.cookieFor('alice', passwords.alice);
    const { token } = await h.tokenFor(first);
    const other = await h.cookieFor('bob', passwords.bob);
    expect((await h.json('PATCH', `/api/users/${h.alice.id}`, { password: 'alice-new-password' }, admin)).status).toBe(200);
    for (const cookie of [first, second]) {
      await expectProblem(await h.call('/api/whoami', { headers: { cookie } }), 401, 'authentication-required');
    }
    expect((await h.call('/api/whoami', { headers: bearer(token) })).status).toBe(200);
    expect((await h.call('/api/whoami', { headers: { cookie: other } })).status).toBe(200);
    expect((await h.call('/api/whoami', { headers: admin })).status).toBe(200);
  });

  it('keeps the last enabled admin one', async () => {
    const h = await accountsHarness();
    const admin = { cookie: await h.cookieFor('admin', h.adminPassword) };
    await expectProblem(await h.json('PATCH', `/api/users/${h.admin.id}`, { role: 'user' }, admin), 409, 'conflict');
    await expectProblem(await h.json('PATCH', `/api/users/${h.admin.id}`, { disabled: true }, admin), 409, 'conflict');
    expect((await h.json('PATCH', `/api/users/${h.bob.id}`, { role: 'admin' }, admin)).status).toBe(200);
    expect((await h.json('PATCH', `/api/users/${h.admin.id}`, { role: 'user' }, admin)).status).toBe(200);
  });

  it('refuses an unknown user, a bad id, an empty change, and a user who is not an admin', async () => {
    const h = await accountsHarness();
    const admin = { cookie: await h.cookieFor('admin', h.adminPassword) };
    await expectProblem(await h.json('PATCH', '/api/users/u-0123456789abcdef', { role: 'admin' }, admin), 404, 'not-found');
    await expectProblem(await h.json('PATCH', '/api/users/alice', { role: 'admin' }, admin), 400, 'validation-failed');
    await expectProblem(await h.json('PATCH', `/api/users/${h.bob.id}`, {}, admin), 400, 'validation-failed');
    await expectProblem(await h.json('PATCH', `/api/users/${h.bob.id}`, { role: 'root' }, admin), 400, 'validation-failed');
    const bob = { cookie: await h.cookieFor('bob', passwords.bob) };
    await expectProblem(await h.json('PATCH', `/api/users/${h.bob.id}`, { role: 'admin' }, bob), 403, 'forbidden');
    await expectProblem(await h.json('PATCH', `/api/users/${h.bob.id}`, { role: 'admin' }), 401, 'authentication-required');
    expect(h.store.users.get(h.bob.id)!.role).toBe('user');
  });
});

describe('behind the public door (as createApp mounts it)', () => {
  const host = { host: 'localhost:8080' };

  it("refuses a sign-in another site's page sends (a form, a foreign Origin), and sets no cookie", async () => {
    const h = await accountsHarness({ door: true });
    const form = await h.call('/api/session', { method: 'POST', headers: { ...host, 'content-type': 'application/x-www-form-urlencoded' }, body: `name=alice&password=${passwords.alice}` });
    await expectProblem(form, 403, 'cross-site-request');
    const foreign = await h.json('POST', '/api/session', { name: 'alice', password: passwords.alice }, { ...host, origin: 'http://evil.example' });
    await expectProblem(foreign, 403, 'cross-site-request');
    for (const res of [form, foreign]) expect(res.headers.getSetCookie()).toEqual([]);
    expect(h.store.users.byName('alice')).toBeDefined();
    const own = await h.json('POST', '/api/session', { name: 'alice', password: passwords.alice }, { ...host, origin: 'http://localhost:8080' });
    expect(own.status).toBe(200);
    expect(sessionCookie(own)).toBeDefined();
  });

  it("does not sign out on another site's request", async () => {
    const h = await accountsHarness({ door: true });
    const own = await h.json('POST', '/api/session', { name: 'alice', password: passwords.alice }, host);
    const cookie = sessionCookie(own)!;
    const res = await h.call('/api/session', { method: 'DELETE', headers: { ...host, cookie, origin: 'http://evil.example' } });
    await expectProblem(res, 403, 'cross-site-request');
    expect((await h.call('/api/me', { headers: { ...host, cookie } })).status).toBe(200);
  });
});

describe('the contract', () => {
  const accountPaths = ['/api/session', '/api/me', '/api/tokens', '/api/tokens/{tokenId}', '/api/users', '/api/users/{userId}'];

  it('every account operation in coordinator.yaml is public with a reason, and served here', async () => {
    const spec = parseYaml(readFileSync(specFiles.coordinator, 'utf8')) as { paths: Record<string, Record<string, { 'x-cps-public'?: unknown }>> };
    const h = await accountsHarness();
    const ops: string[] = [];
    for (const path of accountPaths) {
      for (const [method, op] of Object.entries(spec.paths[path]!)) {
        if (method === 'parameters') continue;
        ops.push(`${method} ${path}`);
        expect(typeof op['x-cps-public'], `${method} ${path}`).toBe('string');
        const url = path.replace('{tokenId}', '0123456789abcdef').replace('{userId}', h.bob.id);
        const res = await h.call(url, { method: method.toUpperCase() });
        const body = res.status === 204 ? {} : ((await res.json()) as { type?: string });
        expect(body.type, `${method} ${path}`).not.toBe('urn:cps:problem:route-not-found');
      }
    }
    expect(ops).toHaveLength(9);
  });

  it('every answer has the shape its schema says', async () => {
    const h = await accountsHarness();
    const signedIn = await h.signIn('admin', h.adminPassword);
    contract.check('SignedIn', await signedIn.json());
    const cookie = sessionCookie(signedIn)!;
    const made = await (await h.json('POST', '/api/tokens', { name: 'ci', expiresInDays: 3 }, { cookie })).json();
    contract.check('NewApiToken', made);
    contract.check('Me', await (await h.call('/api/me', { headers: { cookie } })).json());
    contract.check('Me', await (await h.call('/api/me', { headers: bearer((made as { token: string }).token) })).json());
    await h.call(`/api/tokens/${(made as { id: string }).id}`, { method: 'DELETE', headers: { cookie } });
    const tokens = (await (await h.call('/api/tokens', { headers: { cookie } })).json()) as { items: unknown[] };
    for (const t of tokens.items) contract.check('ApiToken', t);
    await h.json('PATCH', `/api/users/${h.bob.id}`, { disabled: true }, { cookie });
    const users = (await (await h.call('/api/users', { headers: { cookie } })).json()) as { items: unknown[] };
    expect(users.items).toHaveLength(3);
    for (const u of users.items) contract.check('User', u);
    contract.check('User', await (await h.json('POST', '/api/users', { name: 'dave', password: 'dave-long-password', role: 'admin' }, { cookie })).json());
  });
});
