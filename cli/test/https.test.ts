import { execFile, execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, publicRoutesOfFile, serveApp, type ClusterTls, type PublicCert, type Served } from '@cps/common';
import { specFiles } from '@cps/openapi';
import { fingerprintOf, trustLayout, type CaFiles } from '@cps/trust';
import { memberOf, newCa } from '../../packages/trust/test/fixtures.ts';
import { fakeNode, signedInCluster } from '../../services/coordinator/test/fakes.ts';
import { colonHex, readCaFile } from '../src/auth/coordinator-trust.ts';
import { loadLogin } from '../src/auth/credentials.ts';
import { normalSha256 } from '../src/auth/first-trust.ts';
import { memoryIo } from '../src/io.ts';
import { run } from '../src/main.ts';

// The CLI against the real coordinator app behind the real door (serveApp with the cluster's
// TLS, the contract's public routes, plain HTTP on loopback only), over https with a test CA.
const log = createLogger('cli-https-test', 'silent');
let ca: CaFiles;
let otherCa: CaFiles;
let node: ClusterTls;
let otherNode: ClusterTls;
let served: Served | undefined;
let home: string;

beforeAll(async () => {
  ca = await newCa();
  otherCa = await newCa();
  node = await memberOf(ca, 'node-a');
  otherNode = await memberOf(otherCa, 'node-x');
});
afterAll(() => served?.close());

afterEach(async () => {
  await served?.close();
  served = undefined;
  rmSync(home, { recursive: true, force: true });
});

/** A coordinator served over the cluster TLS of `tls`; on `port` if given (the same URL again). */
async function coordinator(tls: ClusterTls, port = 0, hostname = '127.0.0.1', publicCert?: PublicCert) {
  const cluster = await signedInCluster([fakeNode('node-a', '127.0.0.1')]);
  served = await serveApp(cluster.app, { port, hostname, log, ...(publicCert ? { publicCert } : {}), tls, publicRoutes: publicRoutesOfFile(specFiles.coordinator), plainHttpFrom: 'loopback' });
  return { cluster, url: `https://127.0.0.1:${served.port}`, port: served.port };
}

function freshHome() {
  home = mkdtempSync(join(tmpdir(), 'cps-https-'));
  return home;
}

/** One cps command line as a user of this machine (its own HOME, no data dir of a member). */
async function cps(argv: string[], env: Record<string, string> = {}, o: { stdin?: string; answers?: boolean[] } = {}) {
  const io = memoryIo({ HOME: home, CPS_DATA_DIR: join(home, 'no-node'), ...env }, o.stdin, o.answers);
  const code = await run(argv, io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n'), asked: io.asked };
}

const credentials = () => JSON.parse(readFileSync(join(home, '.config', 'cps', 'credentials.json'), 'utf8'));
const pem = (dir: string, name: string, text: string) => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};

describe('cps login over https: trust on first use', () => {
  it('shows the CA fingerprint, pins it when the user says yes, and every command then trusts it', async () => {
    freshHome();
    const { cluster, url } = await coordinator(node);
    const r = await cps(['login', url, '--name', 'alice'], { CPS_PASSWORD: 'alice-password-1' }, { answers: [true] });
    expect(r.code).toBe(0);
    expect(r.asked).toEqual([`Trust this CA for ${url}?`]);
    expect(r.err).toContain(`SHA-256 fingerprint: ${colonHex(fingerprintOf(ca.certPem))}`);
    expect(r.out).toMatch(new RegExp(`^signed in to ${url.replace(/\./g, '\\.')} as alice \\(user\\); token [0-9a-f]{16} saved in .*; CA ${colonHex(fingerprintOf(ca.certPem)).slice(0, 23)}… pinned$`));
    const saved = credentials()[url];
    expect(saved).toMatchObject({ user: 'alice', caSha256: fingerprintOf(ca.certPem) });
    expect(fingerprintOf(saved.ca)).toBe(fingerprintOf(ca.certPem));

    // No question again: the pin is what later commands trust.
    expect(await cps(['task', 'submit', '--name', 'over-tls', '--url', url])).toMatchObject({ code: 0 });
    expect(cluster.tasks.list().map((t) => t.name)).toEqual(['over-tls']);
    const list = await cps(['task', 'list', '--json', '--url', url]);
    expect(JSON.parse(list.out).map((t: { name: string }) => t.name)).toEqual(['over-tls']);
  });

  it('a no sends nothing and saves nothing; with no terminal it says how to confirm', async () => {
    freshHome();
    const { url } = await coordinator(node);
    const no = await cps(['login', url, '--name', 'alice'], { CPS_PASSWORD: 'alice-password-1' }, { answers: [false] });
    expect(no).toMatchObject({ code: 1 });
    expect(no.err).toMatch(/error: the CA was not trusted; nothing was sent$/);
    const noTty = await cps(['login', url, '--name', 'alice'], { CPS_PASSWORD: 'alice-password-1' });
    expect(noTty.code).toBe(1);
    expect(noTty.err).toMatch(/error: no terminal to confirm the CA on: pass --ca-sha256/);
    expect(() => credentials()).toThrow();
  });

  it('--ca-sha256 pins without a question when it matches, and refuses when it does not', async () => {
    freshHome();
    const { url } = await coordinator(node);
    const wrong = await cps(['login', url, '--name', 'alice', '--ca-sha256', fingerprintOf(otherCa.certPem)], { CPS_PASSWORD: 'alice-password-1' });
    expect(wrong.code).toBe(1);
    expect(wrong.err).toContain(`presents a CA with SHA-256 ${colonHex(fingerprintOf(ca.certPem))}, but --ca-sha256 says ${colonHex(fingerprintOf(otherCa.certPem))}`);
    // Colons and capitals, as openssl prints it.
    const right = await cps(['login', url, '--name', 'alice', '--ca-sha256', colonHex(fingerprintOf(ca.certPem))], { CPS_PASSWORD: 'alice-password-1' });
    expect(right).toMatchObject({ code: 0, asked: [] });
    expect(credentials()[url].caSha256).toBe(fingerprintOf(ca.certPem));
  });
});

describe('a pinned cluster CA', () => {
  it('CPS_CA with the cluster CA works with no question; another CA is refused with what each is', async () => {
    freshHome();
    const { url } = await coordinator(node);
    const good = pem(join(home, 'cas'), 'good.pem', ca.certPem);
    const bad = pem(join(home, 'cas'), 'bad.pem', otherCa.certPem);
    const ok = await cps(['login', url, '--name', 'bob'], { CPS_PASSWORD: 'bob-password-12', CPS_CA: good });
    expect(ok).toMatchObject({ code: 0, asked: [] });
    expect((await cps(['task', 'list', '--url', url], { CPS_CA: good })).code).toBe(0);

    const refused = await cps(['task', 'list', '--url', url], { CPS_CA: bad });
    expect(refused.code).toBe(1);
    expect(refused.err).toBe(
      `error: refused the coordinator at ${url}: it presents a certificate from CA "${subjectOf(ca)}" (SHA-256 ${colonHex(fingerprintOf(ca.certPem))}), ` +
        `but the cluster CA to trust is SHA-256 ${colonHex(fingerprintOf(otherCa.certPem))} (CPS_CA (${bad})). This is another cluster, or someone is in between; nothing was sent. ` +
        `If the cluster was really made anew, run cps logout --url ${url} and cps login --url ${url} again to see and pin its new CA.`,
    );
    // A login with the wrong CA never sends the password.
    const login = await cps(['login', url, '--name', 'bob', '--ca', bad], { CPS_PASSWORD: 'bob-password-12' });
    expect(login.code).toBe(1);
    expect(login.err).toMatch(/^error: refused the coordinator at /);
  });

  it('on a member, the data dir\'s CA is trusted', async () => {
    freshHome();
    const { url } = await coordinator(node);
    const dataDir = join(home, 'node');
    pem(trustLayout(dataDir).dir, 'ca.pem', ca.certPem);
    const r = await cps(['login', url, '--name', 'bob'], { CPS_PASSWORD: 'bob-password-12', CPS_DATA_DIR: dataDir });
    expect(r).toMatchObject({ code: 0, asked: [] });
    expect((await cps(['task', 'list', '--url', url], { CPS_DATA_DIR: dataDir })).code).toBe(0);
  });

  it('a coordinator at the same URL that presents another CA than the pinned one is refused', async () => {
    freshHome();
    const first = await coordinator(node);
    expect((await cps(['login', first.url, '--name', 'alice', '--ca-sha256', fingerprintOf(ca.certPem)], { CPS_PASSWORD: 'alice-password-1' })).code).toBe(0);
    await served!.close();
    // Another cluster now answers at that address and port.
    const second = await coordinator(otherNode, first.port);
    expect(second.url).toBe(first.url);
    const r = await cps(['task', 'list', '--url', second.url]);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`it presents a certificate from CA "${subjectOf(otherCa)}" (SHA-256 ${colonHex(fingerprintOf(otherCa.certPem))})`);
    expect(r.err).toContain(`but the cluster CA to trust is SHA-256 ${colonHex(fingerprintOf(ca.certPem))} (the CA pinned by cps login at `);
    // cps login again does not take the new CA silently either.
    const again = await cps(['login', second.url, '--name', 'alice'], { CPS_PASSWORD: 'alice-password-1' }, { answers: [true] });
    expect(again).toMatchObject({ code: 1, asked: [] });
    expect(again.err).toMatch(/^error: refused the coordinator at /);
    expect(second.cluster.tasks.list()).toEqual([]);
  });

  it('a server that sends the pinned CA along with a certificate another CA signed is refused', async () => {
    freshHome();
    // The CA certificate is public: anyone can put it in the chain they send.
    const { url } = await coordinator({ ...otherNode, cert: `${otherNode.cert.trimEnd()}\n${ca.certPem}` });
    const good = pem(join(home, 'cas'), 'good.pem', ca.certPem);
    const r = await cps(['login', url, '--name', 'bob'], { CPS_PASSWORD: 'bob-password-12', CPS_CA: good });
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: refused the coordinator at /);
  });
});

/** An admin's certificate for a DNS name, self-signed (as an admin's own CA would do). */
function adminCert(name: string): PublicCert & { path: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cps-admin-cert-'));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
  return { cert: readFileSync(join(dir, 'cert.pem'), 'utf8'), key: readFileSync(join(dir, 'key.pem'), 'utf8'), path: join(dir, 'cert.pem') };
}

describe('an admin-provided public certificate', () => {
  // The system store is fixed when Node starts: the CLI runs as its own process, with the admin's
  // certificate added to the store by NODE_EXTRA_CA_CERTS, as an admin's CA in the system store is.
  const cli = promisify(execFile);
  const cpsBin = join(import.meta.dirname, '..', 'bin', 'cps.js');
  it('is verified by the system store and the name: no CA is pinned, no question asked', async () => {
    freshHome();
    const admin = adminCert('localhost');
    const { port, cluster } = await coordinator(node, 0, '127.0.0.1', admin);
    const url = `https://localhost:${port}`;
    const env = { PATH: process.env.PATH!, HOME: home, CPS_DATA_DIR: join(home, 'no-node'), NODE_EXTRA_CA_CERTS: admin.path };
    const login = await cli(process.execPath, [cpsBin, 'login', url, '--name', 'bob'], { env: { ...env, CPS_PASSWORD: 'bob-password-12' } });
    expect(login.stdout).toMatch(new RegExp(`^signed in to https://localhost:${port} as bob \\(user\\); token [0-9a-f]{16} saved in \\S+\n$`));
    expect(credentials()[url].ca).toBeUndefined();
    await cli(process.execPath, [cpsBin, 'task', 'submit', '--name', 'by-name', '--url', url], { env });
    expect(cluster.tasks.list().map((t) => t.name)).toEqual(['by-name']);
    // Not in the store: refused, and told how to trust it.
    const { NODE_EXTRA_CA_CERTS: _, ...bare } = env;
    const refused = await cli(process.execPath, [cpsBin, 'task', 'list', '--url', url], { env: bare }).then(() => undefined, (e: { code: number; stderr: string }) => e);
    expect(refused?.code).toBe(1);
    expect(refused?.stderr).toContain(`error: refused the coordinator at ${url}: it presents a certificate from CA "CN=localhost" (SHA-256 ${colonHex(fingerprintOf(admin.cert))}), which this system does not trust (`);
  });
});

// This machine's own address on its LAN: a connection to it is not from loopback.
const lanAddress = Object.values(networkInterfaces())
  .flat()
  .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;

describe('plain HTTP to another machine', () => {
  it.skipIf(!lanAddress)('is answered by the door with a redirect or 426; the CLI says to use https', async () => {
    freshHome();
    const { port } = await coordinator(node, 0, '0.0.0.0');
    const plain = `http://${lanAddress}:${port}`;
    const https = `https://${lanAddress}:${port}`;
    const login = await cps(['login', plain, '--name', 'bob'], { CPS_PASSWORD: 'bob-password-12' });
    expect(login).toMatchObject({ code: 1, err: `error: the coordinator at ${plain} answers plain HTTP only on its own machine: use --url ${https}` });
    const list = await cps(['task', 'list', '--url', plain], { CPS_TOKEN: `cps_${'0'.repeat(16)}_${'a'.repeat(43)}` });
    expect(list.err).toBe(`error: the coordinator at ${plain} answers plain HTTP only on its own machine: use --url ${https}`);
  });
});

describe('hostile input to the trust settings', () => {
  it('a CA file that is no certificate, or missing, is refused by name', () => {
    freshHome();
    expect(() => readCaFile(pem(home, 'junk.pem', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'))).toThrow(/junk\.pem is not a PEM certificate/);
    expect(() => readCaFile(pem(home, 'empty.pem', ''))).toThrow(/is not a PEM certificate/);
    expect(() => readCaFile(join(home, 'absent.pem'))).toThrow(/cannot read the CA certificate .*absent\.pem: ENOENT/);
  });

  it.each(['', 'ab', 'zz'.repeat(32), 'a'.repeat(63), 'a'.repeat(65), `${'a'.repeat(64)}\n`, 'AB:CD'])('--ca-sha256 %j is refused', (raw) => {
    expect(() => normalSha256(raw)).toThrow(/is not a SHA-256 fingerprint/);
  });

  it('a credentials file from before the CA fields still reads; a bad pin in it is refused', () => {
    freshHome();
    const path = pem(join(home, '.config', 'cps'), 'credentials.json', JSON.stringify({ 'https://h:1': { token: `cps_${'0'.repeat(16)}_${'a'.repeat(43)}`, tokenId: '0'.repeat(16), user: 'alice', savedAt: '2026-01-01T00:00:00Z' } }));
    expect(loadLogin({ HOME: home }, 'https://h:1')).toMatchObject({ user: 'alice' });
    writeFileSync(path, JSON.stringify({ 'https://h:1': { token: `cps_${'0'.repeat(16)}_${'a'.repeat(43)}`, tokenId: '0'.repeat(16), user: 'alice', savedAt: 'x', caSha256: 'not-hex' } }));
    expect(() => loadLogin({ HOME: home }, 'https://h:1')).toThrow(/is not a cps credentials file/);
  });
});

const subjectOf = (c: CaFiles) => new X509Certificate(c.certPem).subject.replace(/\n/g, ', ');
