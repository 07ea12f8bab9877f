import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Contract, createLogger, problemErrorHandler } from '@cps/common';
import { specFiles, type DiscoveryClient } from '@cps/openapi';
import { createCsr, decodeJoinToken, ensureClusterIdentity, JoinTokens, loadTrust, readRemovals, trustLayout } from '@cps/trust';
import { Hono } from 'hono';
import { beforeEach, describe, expect, it } from 'vitest';
import { trustRoutes } from '../src/trust/routes.ts';
import { RemovalSync } from '../src/trust/removal-sync.ts';

const log = createLogger('discovery-test', 'silent');
const contract = Contract.fromFile(specFiles.discovery);

let dataDir: string;
let clock: Date;
let app: Hono;
let pushed: { to: string; body: unknown }[];
let alivePeers: string[];

const self = { nodeId: 'node-a', address: '10.0.0.1', ports: { coordinator: 8080, discovery: 8081, provisioner: 8082, storage: 8083, vncGateway: 8084 }, uptimeSec: 5 };

beforeEach(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'cps-trust-routes-'));
  clock = new Date('2026-12-01T10:00:00Z');
  await ensureClusterIdentity(dataDir, { nodeId: 'node-a', addresses: ['10.0.0.1'], now: () => clock });
  const trust = loadTrust(dataDir, { log, timers: { setInterval: () => 0, clearInterval: () => {} } });
  const l = trustLayout(dataDir);
  const tokens = new JoinTokens(l.joinTokens, () => trust.identity.caSha256, () => clock);
  pushed = [];
  alivePeers = [];
  const fakeClient = (p: { address: string }) =>
    ({
      PUT: async (_path: string, o: { body: unknown }) => {
        pushed.push({ to: p.address, body: o.body });
        return { response: new Response(null, { status: 200 }) };
      },
    }) as unknown as DiscoveryClient;
  const removals = new RemovalSync({
    trust,
    path: l.removals,
    nodeId: 'node-a',
    peers: () => alivePeers.map((id, i) => ({ ...self, nodeId: id, address: `10.0.0.${i + 2}`, lastSeenMs: 1, state: 'alive' as const, head: false })),
    client: fakeClient,
    now: () => clock,
    log,
  });
  app = new Hono();
  app.onError(problemErrorHandler(log));
  app.route(
    '/',
    trustRoutes({
      contract,
      tokens,
      removals,
      joinAddress: () => ({ address: '10.0.0.1', port: 8081 }),
      admit: {
        tokens,
        ca: () => ({ certPem: trust.identity.caPem, keyPem: readFileSync(l.caKey, 'utf8') }),
        pepKey: () => 'the-pep-key-0123456789',
        pep: { group: '239.192.77.1', port: 47777, multicast: true },
        self: async () => self,
        taken: (id) => id === 'node-a' || alivePeers.includes(id),
        removals: () => trust.removals(),
        now: () => clock,
        log,
      },
    }),
  );
});


const json = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function newToken(ttlSec?: number) {
  const r = await app.request('/trust/join-tokens', json(ttlSec ? { ttlSec } : {}));
  expect(r.status).toBe(201);
  return (await r.json()) as { token: string; command: string; info: { id: string; state: string } };
}

async function requestJoin(token: string, nodeId = 'node-b', csr?: string) {
  const t = decodeJoinToken(token);
  const csrPem = csr ?? (await createCsr(nodeId)).csrPem;
  return app.request('/join', json({ tokenId: t.id, secret: t.secret, nodeId, csr: csrPem, addresses: ['10.0.0.2'] }));
}

describe('join tokens and joining (discovery /join, /trust/join-tokens)', () => {
  it('a token prints the command to run, pins the CA, and admits one node with a certificate of this cluster', async () => {
    const t = await newToken();
    expect(t.command).toBe(`cps up --join 10.0.0.1:8081 --token ${t.token}`);
    const ca = readFileSync(trustLayout(dataDir).caCert, 'utf8');
    const { createHash } = await import('node:crypto');
    expect(decodeJoinToken(t.token).caSha256).toBe(createHash('sha256').update(new X509Certificate(ca).raw).digest('hex'));
    expect(decodeJoinToken(t.token).expiresAt.getTime() - clock.getTime()).toBe(3600_000);
    const r = await requestJoin(t.token);
    expect(r.status).toBe(200);
    const grant = await r.json();
    const cert = new X509Certificate(grant.certificate);
    expect(cert.subject).toContain('CN=node-b');
    expect(cert.verify(new X509Certificate(ca).publicKey)).toBe(true);
    expect(grant).toMatchObject({ ca, clusterKey: 'the-pep-key-0123456789', pep: { group: '239.192.77.1', port: 47777, multicast: true }, admittedBy: { nodeId: 'node-a' } });
    expect(grant.caKey).toMatch(/PRIVATE KEY/);
    const listed = await (await app.request('/trust/join-tokens')).json();
    expect(listed.items).toEqual([expect.objectContaining({ id: t.info.id, state: 'used', usedBy: 'node-b' })]);
    // The secret is not on disk, only its hash; the file is for root alone.
    const file = readFileSync(trustLayout(dataDir).joinTokens, 'utf8');
    expect(file).not.toContain(decodeJoinToken(t.token).secret);
    expect(statSync(trustLayout(dataDir).joinTokens).mode & 0o777).toBe(0o600);
  });

  const refused = async (r: Response, reason: string) => {
    expect(r.status).toBe(403);
    expect(r.headers.get('content-type')).toBe('application/problem+json');
    const p = await r.json();
    expect(p).toMatchObject({ type: 'urn:cps:problem:join-refused', reason });
    return p.detail as string;
  };

  it('a used token (a replay) is refused', async () => {
    const t = await newToken();
    expect((await requestJoin(t.token)).status).toBe(200);
    expect(await refused(await requestJoin(t.token, 'node-c'), 'used')).toMatch(/already used by node-b/);
  });

  it('an expired token is refused', async () => {
    const t = await newToken(60);
    clock = new Date(clock.getTime() + 61_000);
    expect(await refused(await requestJoin(t.token), 'expired')).toMatch(/expired at/);
  });

  it('a revoked token is refused, and revoking says so in the list', async () => {
    const t = await newToken();
    const del = await app.request(`/trust/join-tokens/${t.info.id}`, { method: 'DELETE' });
    expect((await del.json()).state).toBe('revoked');
    await refused(await requestJoin(t.token), 'revoked');
    expect((await app.request('/trust/join-tokens/00000000', { method: 'DELETE' })).status).toBe(404);
  });

  it('a wrong secret or an unknown token id is refused, and the real token still works after', async () => {
    const t = await newToken();
    const parts = decodeJoinToken(t.token);
    const csr = (await createCsr('node-b')).csrPem;
    const wrong = await app.request('/join', json({ tokenId: parts.id, secret: 'A'.repeat(43), nodeId: 'node-b', csr, addresses: [] }));
    await refused(wrong, 'wrong-secret');
    const unknown = await app.request('/join', json({ tokenId: 'ffffffff', secret: parts.secret, nodeId: 'node-b', csr, addresses: [] }));
    await refused(unknown, 'unknown');
    expect((await requestJoin(t.token)).status).toBe(200);
  });

  it('a name a live member has, or a damaged CSR, is refused without using the token up', async () => {
    const t = await newToken();
    alivePeers = ['node-b'];
    expect(await refused(await requestJoin(t.token, 'node-b'), 'name-taken')).toMatch(/another CPS_NODE_ID/);
    await refused(await requestJoin(t.token, 'node-c', '-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n'), 'bad-request');
    expect((await requestJoin(t.token, 'node-c')).status).toBe(200);
  });

  it('malformed join bodies get validation problems', async () => {
    for (const body of [{}, { tokenId: 'x' }, { tokenId: '00000000', secret: 'A'.repeat(43), nodeId: 'bad id', csr: '', addresses: [] }]) {
      const r = await app.request('/join', json(body));
      expect(r.status).toBe(400);
      expect((await r.json()).type).toBe('urn:cps:problem:validation-failed');
    }
    const r = await app.request('/join', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"tokenId": ' });
    expect(r.status).toBe(400);
  });
});

describe('removals (/trust/removals)', () => {
  it('removing a node writes it, pushes the list to every live peer, and the digest changes', async () => {
    alivePeers = ['node-b', 'node-c'];
    const before = (await (await app.request('/trust/removals')).json()).digest;
    const r = await app.request('/trust/removals', json({ nodeId: 'node-c' }));
    expect(r.status).toBe(201);
    const after = await r.json();
    expect(after.items).toEqual([{ nodeId: 'node-c', removedAt: clock.toISOString(), by: 'node-a' }]);
    expect(after.digest).not.toBe(before);
    // The removed node is not told; the other is.
    expect(pushed.map((p) => p.to)).toEqual(['10.0.0.2']);
    expect(readRemovals(trustLayout(dataDir).removals).list()).toEqual(after.items);
  });

  it('a peer’s list merges as a union, idempotently', async () => {
    const items = [{ nodeId: 'node-x', removedAt: '2026-11-30T00:00:00.000Z', by: 'node-b' }];
    const put = (b: unknown) => app.request('/trust/removals', { ...json(b), method: 'PUT' });
    const once = await (await put({ items })).json();
    const twice = await (await put({ items })).json();
    expect(once).toEqual(twice);
    expect(once.items).toHaveLength(1);
    const bad = await put({ items: [{ nodeId: 'node-x', removedAt: 'yesterday', by: 'node-b' }] });
    expect(bad.status).toBe(400);
  });
});

