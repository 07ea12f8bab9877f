// Joining and the locked doors, as on a LAN of workstations: three namespace hosts. A runs a
// first `cps up` (it makes the cluster); `cps join-token` on A prints the command B runs to join;
// C tries every bad token first (each refused, nothing written), then joins. A task submitted on A
// runs on B (its own libvirtd, a real guest), and its console works through A's gateway (the hop
// over mutual TLS). Then C, an outsider on the LAN, calls every route of A's internal services
// (generated from the OpenAPI files) with no certificate, another cluster's and a removed node's.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { memberFetch, serviceUrl, type ClusterTls } from '@cps/common';
import { discoveryClient, provisionerClient, specFiles } from '@cps/openapi';
import { clusterTlsOf, createCa, decodeJoinToken, encodeJoinToken, loadNodeIdentity, Removals, trustLayout } from '@cps/trust';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { parse as parseYaml } from 'yaml';
import { makeUser } from '../helpers/cps-node.ts';
import { createHosts, type Host, type Hosts } from '../helpers/hosts.ts';
import type { HostProcess } from '../helpers/hosts-process.ts';
import { issueMember } from '../helpers/hosts-identity.ts';

const cpsBin = fileURLToPath(new URL('../../cli/bin/cps.js', import.meta.url));
let cluster: Hosts;
let a: Host, b: Host, c: Host;
let joinCommand: string;
let taskId: string | undefined;
/** Every secret this run made or handed out: none may appear in any log line. */
const secrets = new Map<string, string>();

/** What `cps up` gets on a workstation: its ports, its name, nothing of the cluster (that comes from the join). */
function upEnv(h: Host, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = h.serviceEnv({ CPS_OWNER_FIRST: '0', CPS_LOG_LEVEL: 'info', ...extra });
  for (const k of ['CPS_CLUSTER_KEY', 'CPS_PEP_INTERFACE', 'CPS_ADVERTISE_ADDRESS']) delete env[k];
  return { ...env, ...extra };
}

async function until<T>(what: string, f: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000, logs?: () => string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: T | undefined;
  for (;;) {
    try {
      last = await f();
      if (ok(last)) return last;
    } catch (err) {
      last = err as T;
    }
    if (Date.now() > deadline) throw new Error(`timed out: ${what} (last: ${JSON.stringify(last)?.slice(0, 500)})\n${logs?.() ?? ''}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

function cpsUp(h: Host, args: string[], env: NodeJS.ProcessEnv): HostProcess {
  return h.spawn('cps-up', process.execPath, [cpsBin, 'up', '--data-dir', h.dataDir, ...args], { env });
}

async function healthy(p: HostProcess): Promise<void> {
  await until('cps up reports all services healthy', async () => p.output(), (o) => /all services healthy/.test(o) || /FAILED/.test(o), 120_000);
  if (/FAILED/.test(p.output())) throw new Error(`cps up failed:\n${p.output()}`);
}

/** `cps …` run inside host `h` as its root would; resolves with stdout, or rejects with what it said. */
const cps = (h: Host, args: string[], env: NodeJS.ProcessEnv = upEnv(h)) => h.exec(process.execPath, [cpsBin, ...args], { env, timeoutMs: 60_000 });
const cpsFails = (h: Host, args: string[], env?: NodeJS.ProcessEnv) => cps(h, args, env).then(
  (out) => {
    throw new Error(`expected failure, got: ${out}`);
  },
  (err: Error) => err.message,
);

/** A member's TLS from a host's data dir, as root on that host would hold it. */
const tlsOf = (h: Host): ClusterTls => clusterTlsOf(loadNodeIdentity(h.dataDir), () => new Removals());

beforeAll(async () => {
  cluster = await createHosts(3, { identities: 'none', portsBase: 18610 });
  [a, b, c] = cluster.hosts as [Host, Host, Host];
  await b.startLibvirtd();
  // A lends too little to host a guest, so the task must go to B.
  const upA = cpsUp(a, [], upEnv(a, { CPS_NODE_ID: 'host-a', CPS_ADVERTISE_ADDRESS: a.address, CPS_SHARE_MEMORY_MIB: '64' }));
  await healthy(upA);
}, 300_000);

afterAll(async () => {
  await cluster?.destroy();
});

describe('joining a cluster in one command', () => {
  it('the first cps up made the cluster CA and the node certificate, keys for root alone', () => {
    const l = trustLayout(a.dataDir);
    for (const f of [l.caKey, l.nodeKey, l.pepKey]) expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(loadNodeIdentity(a.dataDir).nodeId).toBe('host-a');
  });

  it('cps join-token prints the command for the next workstation', async () => {
    const out = await cps(a, ['join-token', '--data-dir', a.dataDir, '--port', String(cluster.ports.discovery)]);
    const line = /node cli\/bin\/cps\.js (up --join \S+ --token \S+)/.exec(out);
    expect(line, out).not.toBeNull();
    joinCommand = line![1]!;
    secrets.set('the first join token', /--token (\S+)/.exec(joinCommand)![1]!);
    secrets.set("the first join token's secret", decodeJoinToken(/--token (\S+)/.exec(joinCommand)![1]!).secret);
    expect(joinCommand).toContain(`--join ${a.address}:${cluster.ports.discovery}`);
  });

  it('every bad token is refused with a clear message, and nothing is written', async () => {
    const token = /--token (\S+)/.exec(joinCommand)![1]!;
    const t = decodeJoinToken(token);
    const target = `${a.address}:${cluster.ports.discovery}`;
    const tryJoin = (tok: string) => cpsFails(c, ['up', '--data-dir', c.dataDir, '--join', target, '--token', tok], upEnv(c, { CPS_NODE_ID: 'host-c' }));
    // A man in the middle, or the address of another cluster: the CA does not match the token.
    const mitm = encodeJoinToken({ ...t, caSha256: 'ab'.repeat(32) });
    expect(await tryJoin(mitm)).toMatch(/presents a cluster CA with SHA-256 .* but the token is for abababababababab.*Nothing was sent/);
    // Expired (the token says so itself: refused before anything is sent).
    expect(await tryJoin(encodeJoinToken({ ...t, expiresAt: new Date(Date.now() - 1000) }))).toMatch(/expired at .*Nothing was sent/);
    // A wrong secret.
    expect(await tryJoin(encodeJoinToken({ ...t, secret: 'x'.repeat(43) }))).toMatch(/refused the join: the secret does not match/);
    // Revoked.
    const second = await cps(a, ['join-token', '--json', '--data-dir', a.dataDir, '--port', String(cluster.ports.discovery)]);
    const revoked = JSON.parse(second) as { token: string; info: { id: string } };
    secrets.set("the revoked token's secret", decodeJoinToken(revoked.token).secret);
    await cps(a, ['join-token', 'revoke', revoked.info.id, '--data-dir', a.dataDir, '--port', String(cluster.ports.discovery)]);
    expect(await tryJoin(revoked.token)).toMatch(/was revoked/);
    // Not garbage either.
    expect(await tryJoin('cps1.nonsense')).toMatch(/not a CPS join token/);
    expect(existsSync(trustLayout(c.dataDir).dir)).toBe(false);
    expect(existsSync(trustLayout(c.dataDir).pepKey)).toBe(false);
    // None of that used up the real token: the forged ones never reached A, or were refused there.
    const list = await cps(a, ['join-token', 'list', '--json', '--data-dir', a.dataDir, '--port', String(cluster.ports.discovery)]);
    expect(JSON.parse(list)).toContainEqual(expect.objectContaining({ id: t.id, state: 'valid' }));
  });

  it('the printed command joins B: it picks the interface that routes to A, and A sees it alive', async () => {
    const upB = cpsUp(b, joinCommand.split(' ').slice(1), upEnv(b, { CPS_NODE_ID: 'host-b' }));
    await healthy(upB);
    expect(upB.output()).toContain(`this node's address: ${b.address}`);
    const settings = JSON.parse(readFileSync(trustLayout(b.dataDir).clusterSettings, 'utf8'));
    expect(settings).toMatchObject({ address: b.address, pepPort: cluster.ports.pep });
    expect(readFileSync(trustLayout(b.dataDir).pepKey, 'utf8').trim()).toBe(readFileSync(trustLayout(a.dataDir).pepKey, 'utf8').trim());
    const disc = discoveryClient({ baseUrl: serviceUrl(a.address, cluster.ports.discovery), fetch: memberFetch(tlsOf(a)) });
    await until('A sees B alive', async () => (await disc.GET('/peers')).data?.items ?? [], (ps) => ps.some((p) => p.nodeId === 'host-b' && p.state === 'alive'), 30_000, () => upB.output());
    // The token is used up: a replay is refused.
    const again = await cpsFails(c, ['up', '--data-dir', c.dataDir, ...joinCommand.split(' ').slice(1)], upEnv(c, { CPS_NODE_ID: 'host-c' }));
    expect(again).toMatch(/already used by host-b/);
  });

  it('a task submitted on A runs on B, and its console works through A’s gateway', async () => {
    // From the test's side of the bridge, not loopback: the public port answers users over https only.
    const api = serviceUrl(a.address, cluster.ports.coordinator);
    const fetch = (url: string, init?: RequestInit) => memberFetch(tlsOf(a), { anonymous: true })(new Request(url, init));
    // A user of A's portal, made in A's registry; its password and token are secrets of this run too.
    const user = await makeUser(a.dataDir);
    secrets.set("the portal user's password", user.password);
    secrets.set("the portal user's API token", user.token);
    const auth = { authorization: `Bearer ${user.token}` };
    const res = await fetch(`${api}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ name: 'joined', memoryMiB: 128 }) });
    expect(res.status, await res.clone().text()).toBe(202);
    taskId = (await res.json()).id as string;
    const task = await until('the task runs', async () => (await (await fetch(`${api}/api/tasks/${taskId}`, { headers: auth })).json()) as { state: string; node?: { nodeId: string } }, (t) => t.state === 'running' || t.state === 'failed', 180_000);
    expect(task.state, JSON.stringify(task)).toBe('running');
    expect(task.node?.nodeId).toBe('host-b');
    const xml = await b.exec('virsh', ['-c', 'qemu:///system', 'dumpxml', '--security-info', `cps-${taskId}`]);
    const passwd = /<graphics [^>]*passwd='([^']+)'/.exec(xml)?.[1];
    expect(passwd, 'the guest has a VNC password').toBeTruthy();
    secrets.set("the guest's VNC password", passwd!);
    // The password never leaves B: B's own services see it, a member on another node does not.
    const vmAs = async (h: Host) => (await provisionerClient({ baseUrl: serviceUrl(b.address, cluster.ports.provisioner), fetch: memberFetch(tlsOf(h)) }).GET('/vms/{taskId}', { params: { path: { taskId: taskId! } } })).data!;
    expect((await vmAs(b)).console.vnc.password).toBe(passwd);
    expect((await vmAs(a)).console.vnc).not.toHaveProperty('password');
    const gw = `${a.address}:${cluster.ports.vncGateway}`;
    // A console needs a ticket from the coordinator (single use, for this user and task).
    const issued = await fetch(`${api}/api/tasks/${taskId}/console-ticket`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ kind: 'vnc' }) });
    expect(issued.status, await issued.clone().text()).toBe(201);
    const { url: socketPath } = (await issued.json()) as { url: string };
    const ws = new WebSocket(`wss://${gw}${socketPath}`, { origin: `https://${gw}`, ca: tlsOf(a).ca, ...({ checkServerIdentity: () => undefined } as object) });
    const banner = await new Promise<string>((resolve, reject) => {
      ws.once('message', (d: Buffer) => resolve(d.toString()));
      ws.once('unexpected-response', (_q, r) => reject(new Error(`refused ${r.statusCode}`)));
      ws.once('error', reject);
    });
    ws.close();
    expect(banner).toMatch(/^RFB 003\.00\d/);
  });

  it('C joins with a fresh token; removing B is honoured by A and C within seconds', async () => {
    const fresh = JSON.parse(await cps(a, ['join-token', '--json', '--data-dir', a.dataDir, '--port', String(cluster.ports.discovery)])) as { command: string; token: string };
    secrets.set("the third token's secret", decodeJoinToken(fresh.token).secret);
    const upC = cpsUp(c, fresh.command.split(' ').slice(2), upEnv(c, { CPS_NODE_ID: 'host-c' }));
    await healthy(upC);
    const asB = memberFetch(tlsOf(b));
    const provisionerOf = (h: Host) => provisionerClient({ baseUrl: serviceUrl(h.address, cluster.ports.provisioner), fetch: asB });
    for (const h of [a, c]) expect((await provisionerOf(h).GET('/vms')).response.status).toBe(200);
    const said = await cps(a, ['node', 'remove', 'host-b', '--data-dir', a.dataDir, '--port', String(cluster.ports.discovery)]);
    expect(said).toMatch(/node host-b removed/);
    const started = Date.now();
    for (const h of [a, c]) {
      const r = await until(`${h.nodeId} refuses B`, () => provisionerOf(h).GET('/vms'), (r) => r.response.status === 403, 10_000);
      expect((r.error as { detail?: string }).detail).toMatch(/host-b was removed from the cluster by host-a/);
    }
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('every internal door is locked to strangers (routes from the OpenAPI files)', () => {
  it('no certificate, another cluster’s, a removed node’s: all refused; /healthz answers', async () => {
    const ports = { discovery: cluster.ports.discovery, provisioner: cluster.ports.provisioner, storage: cluster.ports.storage, 'vnc-gateway': cluster.ports.vncGateway };
    const specs = { discovery: specFiles.discovery, provisioner: specFiles.provisioner, storage: specFiles.storage, 'vnc-gateway': specFiles.vncGateway };
    const routes: { service: string; method: string; path: string; port: number; public: boolean }[] = [];
    for (const [service, file] of Object.entries(specs)) {
      const spec = parseYaml(readFileSync(file, 'utf8')) as { paths: Record<string, Record<string, { 'x-cps-public'?: string }>> };
      for (const [template, ops] of Object.entries(spec.paths)) {
        for (const [method, op] of Object.entries(ops)) {
          if (!['get', 'put', 'post', 'delete', 'patch'].includes(method)) continue;
          routes.push({ service, method: method.toUpperCase(), path: template.replace(/\{[^}]+\}/g, 't-door1'), port: ports[service as keyof typeof ports], public: typeof op['x-cps-public'] === 'string' });
        }
      }
    }
    expect(routes.filter((r) => !r.public).length).toBeGreaterThan(30);
    const other = await issueMember(await createCa({ now: new Date() }), 'host-a', [c.address]);
    const removed = tlsOf(b);
    const probe = { host: a.address, routes: routes.map(({ public: _p, ...r }) => r), clients: { none: null, 'other-cluster': { cert: other.cert, key: other.key }, removed: { cert: removed.cert, key: removed.key } } };
    const out = await c.exec(process.execPath, ['--import', 'tsx', 'tests/hosts/door-probe.ts'], { env: { ...process.env, CPS_DOOR_PROBE: JSON.stringify(probe) }, timeoutMs: 120_000 });
    const results = JSON.parse(out.trim().split('\n').at(-1)!) as { service: string; method: string; path: string; client: string; status: number; type?: string }[];
    const isPublic = (r: { service: string; method: string; path: string }) => routes.find((x) => x.service === r.service && x.method === r.method && x.path === r.path)!.public;
    // The gateway's is a public port: plain HTTP from another machine is only pointed to https
    // (GET 308) or refused (426 https-required), before the member gate (CPS_PLAIN_HTTP_FROM).
    const toHttps = (r: { service: string; client: string; method: string; status: number; type?: string }) =>
      r.service === 'vnc-gateway' && r.client === 'plain-http' && (r.method === 'GET' ? r.status === 308 : r.status === 426 && r.type === 'urn:cps:problem:https-required');
    const leaks = results.filter((r) => !isPublic(r) && !(r.status === 401 || r.status === 403) && !toHttps(r));
    expect(leaks, JSON.stringify(leaks, null, 1)).toEqual([]);
    expect(results.filter((r) => !isPublic(r) && !toHttps(r) && !/member-certificate-(required|refused)/.test(r.type ?? ''))).toEqual([]);
    const health = results.filter((r) => r.path === '/healthz');
    expect(health.length).toBe(4 * 4);
    expect(health.filter((r) => !toHttps(r)).every((r) => r.status === 200)).toBe(true);
    expect(health.filter(toHttps).length).toBe(1);
    expect(results.every((r) => r.status > 0 && r.status < 500), JSON.stringify(results.filter((r) => r.status >= 500 || r.status <= 0))).toBe(true);
  });
});

describe('no secret in any log line', () => {
  it('the whole run’s logs of every host hold none of the keys, token secrets or VNC passwords it made', () => {
    const keyBody = (pem: string) => pem.split('\n').filter((l) => l.length >= 40 && !l.startsWith('-----'))[0]!;
    secrets.set('the PEP key', readFileSync(trustLayout(a.dataDir).pepKey, 'utf8').trim());
    secrets.set("the CA's key", keyBody(readFileSync(trustLayout(a.dataDir).caKey, 'utf8')));
    for (const h of [a, b, c]) secrets.set(`${h.nodeId}'s node key`, keyBody(readFileSync(trustLayout(h.dataDir).nodeKey, 'utf8')));
    expect(secrets.size).toBeGreaterThanOrEqual(9);
    const files = cluster.hosts.flatMap((h) => h.processes).map((p) => p.logFile!).filter(Boolean);
    const text = files.map((f) => readFileSync(f, 'utf8')).join('\n');
    expect(text.length, 'the services logged something').toBeGreaterThan(10_000);
    const found = [...secrets].filter(([, v]) => text.includes(v)).map(([k]) => k);
    expect(found).toEqual([]);
  });
});
