import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseTsigKeyFile, type TsigKey } from '../src/index.ts';

/**
 * A real BIND9 for one test file: its own named on 127.0.0.1 and a free port, a temp folder with
 * named.conf, one zone and a TSIG key made here by `tsig-keygen`, updates allowed with that key only. `stop` kills
 * this named (by its own process handle) and removes the folder.
 */
export interface Bind {
  port: number;
  zone: string;
  key: TsigKey;
  dir: string;
  /** Runs `dig` against this server and returns its `+short` lines. */
  dig(name: string, type: 'A' | 'TXT'): string[];
  /** Runs `nsupdate` with this key; `lines` are its commands between `zone` and `send`. */
  nsupdate(lines: string[]): { status: number; output: string };
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function untilListening(port: number, named: ChildProcess, log: () => string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (named.exitCode !== null) throw new Error(`named exited (${named.exitCode}):\n${log()}`);
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect({ host: '127.0.0.1', port }, () => {
        c.destroy();
        resolve(true);
      });
      c.on('error', () => resolve(false));
    });
    // named listens on TCP before it has loaded the zone; "running" says it is done.
    if (ok && log().includes('running')) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`named did not start:\n${log()}`);
}

export async function startBind(zone = 'cps.test'): Promise<Bind> {
  const dir = mkdtempSync(join(tmpdir(), 'cps-bind-'));
  const port = await freePort();
  // The key as BIND's own tool makes it, read by our parser: the same file a node is given.
  const keygen = spawnSync('/usr/sbin/tsig-keygen', ['-a', 'hmac-sha256', 'cps-head-test'], { encoding: 'utf8' });
  if (keygen.status !== 0) throw new Error(`tsig-keygen: ${keygen.stderr}`);
  writeFileSync(join(dir, 'head.key'), keygen.stdout);
  const key: TsigKey = parseTsigKeyFile(keygen.stdout);
  writeFileSync(join(dir, 'named.conf'), `
include "${dir}/head.key";
controls { };
options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  session-keyfile "${dir}/session.key";
  managed-keys-directory "${dir}";
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; };
  recursion no;
  dnssec-validation no;
  notify no;
};
zone "${zone}" {
  type primary;
  file "${dir}/${zone}.zone";
  allow-update { key "${key.name}"; };
};
`);
  writeFileSync(join(dir, `${zone}.zone`), `$TTL 60
@ IN SOA ns.${zone}. admin.${zone}. ( 1 60 60 600 60 )
@ IN NS ns.${zone}.
ns IN A 127.0.0.1
`);
  let log = '';
  const named = spawn('/usr/sbin/named', ['-g', '-n', '1', '-c', join(dir, 'named.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
  named.stdout!.on('data', (d: Buffer) => (log += d.toString()));
  named.stderr!.on('data', (d: Buffer) => (log += d.toString()));
  await untilListening(port, named, () => log);
  const secretArg = `hmac-sha256:${key.name}:${key.secret.toString('base64')}`;
  return {
    port,
    zone,
    key,
    dir,
    dig(name, type) {
      const r = spawnSync('dig', ['@127.0.0.1', '-p', String(port), '+short', '+tcp', name, type], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`dig failed: ${r.stderr}${r.stdout}`);
      return r.stdout.split('\n').filter(Boolean);
    },
    nsupdate(lines) {
      const input = [`server 127.0.0.1 ${port}`, `zone ${zone}`, ...lines, 'send', ''].join('\n');
      const r = spawnSync('nsupdate', ['-v', '-y', secretArg], { input, encoding: 'utf8' });
      return { status: r.status ?? 1, output: r.stdout + r.stderr };
    },
    async stop() {
      if (named.exitCode === null) {
        const gone = new Promise((r) => named.once('exit', r));
        named.kill('SIGTERM');
        await gone;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
