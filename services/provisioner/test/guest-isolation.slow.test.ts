// A real NAT guest against a real listener on the host's loopback: reachable at 10.0.2.2 (and
// [fec0::2]) without the isolation rule, refused with it, reachable again once it is removed. The
// tiny guest runs a probe loop from a bootstrap disk (label CPSBOOT) and prints each try on ttyS0.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@cps/common';
import { accelReader } from '../src/accel.ts';
import { createApp } from '../src/app.ts';
import { installGuestIsolation, isolationRule, qemuUid, removeGuestIsolation } from '../src/guestIsolation.ts';
import { connectLibvirt, type Hypervisor } from '../src/hypervisor.ts';
import { probeMemoryCapMode } from '../src/memoryCap.ts';

const uri = 'qemu:///system';
const dataDir = resolve(process.env.CPS_DATA_DIR ?? '/var/lib/cps');
const image = join(dataDir, 'images', 'tiny');
const taskId = `t-${randomBytes(4).toString('hex')}`;
const domain = `cps-${taskId}`;
const diskDir = join(dataDir, 'disks', taskId);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = createLogger('provisioner-slow', 'silent');
const { uid } = qemuUid();
const ruleHere = (tool: string) => {
  try {
    execFileSync(tool, ['-w', '-C', 'OUTPUT', ...isolationRule(uid!)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

let hv: Hypervisor;
let app: ReturnType<typeof createApp>;
const servers: Server[] = [];
const hits: string[] = [];
let ports: { v4: number; v6: number };
// A provisioner of this machine may have put the rule in place already: the test takes it out for
// the "off" part and puts it back at the end.
let hadRule = false;

async function listen(host: string): Promise<number> {
  const s = createServer((req, res) => {
    hits.push(`${host} ${req.url}`);
    res.end(`hello-from-${host === '::1' ? 'v6' : 'v4'}\n`);
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, host, r));
  return (s.address() as AddressInfo).port;
}

beforeAll(async () => {
  if (!existsSync(join(image, 'vmlinuz'))) throw new Error(`no tiny image in ${image}: run scripts/build-tiny-image.sh first`);
  if (uid === undefined) throw new Error("QEMU's user is not in /etc/passwd");
  hadRule = ruleHere('iptables') || ruleHere('ip6tables');
  await removeGuestIsolation(uid);
  ports = { v4: await listen('127.0.0.1'), v6: await listen('::1') };
  hv = await connectLibvirt(uri);
  app = createApp({ hypervisor: hv, dataDir, accelerator: accelReader(dataDir, log), memoryCap: probeMemoryCapMode(), log });

  // slirp's fixed plan: the guest is 10.0.2.15, the host 10.0.2.2; IPv6 comes from slirp's RA (fec0::/64).
  const files = mkdtempSync(join(tmpdir(), 'cps-iso-boot-'));
  writeFileSync(
    join(files, 'run.sh'),
    `ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
ip addr show eth0
ip -6 addr add fec0::15/64 dev eth0
ip -6 route add default via fec0::2
probe() { # family, address, port
  out=$(printf 'GET /%s-%s HTTP/1.0\r\n\r\n' $1 $i | nc -w 3 $2 $3 2>&1 | tail -n 1)
  case "$out" in hello-from-*) echo "cps-probe $1 $i: open $out" ;; *) echo "cps-probe $1 $i: closed ($out)" ;; esac
}
i=0
while :; do
  i=$((i+1))
  probe v4 10.0.2.2 ${ports.v4}
  probe v6 fec0::2 ${ports.v6}
  sleep 1
done
`,
  );
  mkdirSync(diskDir, { recursive: true });
  const boot = join(diskDir, 'boot.img');
  execFileSync('truncate', ['-s', '8M', boot]);
  execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'CPSBOOT', '-m', '0', '-E', 'root_owner=0:0', '-d', files, boot]);
  rmSync(files, { recursive: true, force: true });
});

afterAll(async () => {
  await hv?.remove(domain).catch(() => undefined);
  await hv?.close();
  for (const s of servers) s.close();
  rmSync(diskDir, { recursive: true, force: true });
  rmSync(join(dataDir, 'logs', `${taskId}.serial`), { force: true });
  if (uid !== undefined) {
    await removeGuestIsolation(uid);
    if (hadRule) await installGuestIsolation(uri, { log });
  }
});

const serial = async () => (await app.request(`/vms/${taskId}/serial`)).text();
/** Waits for `count` probe lines of each family numbered after `after`, and returns them. */
async function probesAfter(after: number, count: number, timeoutMs = 120_000): Promise<{ n: number; lines: string[] }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const lines = [...(await serial()).matchAll(/^cps-probe (v4|v6) (\d+): (.*?)\r?$/gm)].filter((m) => Number(m[2]) > after);
    const v6 = lines.filter((m) => m[1] === 'v6').map((m) => Number(m[2]));
    if (v6.length >= count) return { n: Math.max(...v6), lines: lines.map((m) => m[0].trim()) };
    if (Date.now() > deadline) throw new Error(`no ${count} probes after ${after}; serial:\n${(await serial()).slice(-3000)}`);
    await sleep(500);
  }
}
const lastProbe = async () => Math.max(0, ...[...(await serial()).matchAll(/^cps-probe v6 (\d+):/gm)].map((m) => Number(m[1])));

describe('guest isolation on a real NAT guest', () => {
  it('lets the guest reach a host loopback port without the rule, refuses it with the rule, and VNC still answers', async () => {
    const meta = JSON.parse(readFileSync(join(image, 'image.json'), 'utf8')) as { cmdline: string };
    const put = await app.request(`/vms/${taskId}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'isolation probe',
        vcpus: 1,
        memoryMiB: 128,
        network: 'user',
        disks: [{ path: join(diskDir, 'boot.img'), format: 'raw', device: 'disk', readonly: true }],
        boot: { kind: 'kernel', kernel: join(image, 'vmlinuz'), initrd: join(image, 'initrd.img'), cmdline: meta.cmdline },
      }),
    });
    const created = await put.json();
    expect(put.status, JSON.stringify(created)).toBe(201);

    // The QEMU process runs as the user the rule names (qemu.conf's, looked up in /etc/passwd).
    const qemuPid = execFileSync('pgrep', ['-f', `guest=${domain}`], { encoding: 'utf8' }).trim().split('\n')[0]!;
    expect(Number(execFileSync('ps', ['-o', 'uid=', '-p', qemuPid], { encoding: 'utf8' }).trim())).toBe(uid);

    // Off: the guest gets the listener's answer, over IPv4 and IPv6, and the listener sees it.
    const off = await probesAfter(0, 2);
    expect(off.lines.filter((l) => l.endsWith('open hello-from-v4')).length, await serial()).toBeGreaterThanOrEqual(1);
    expect(off.lines.filter((l) => l.endsWith('open hello-from-v6')).length, off.lines.join('\n')).toBeGreaterThanOrEqual(1);
    expect(hits.some((h) => h.startsWith('127.0.0.1 /v4-'))).toBe(true);
    expect(hits.some((h) => h.startsWith('::1 /v6-'))).toBe(true);

    // On: every later try is refused and none reaches the listener.
    const status = await installGuestIsolation(uri, { log });
    expect(status).toEqual({ state: 'on', uid, tools: ['iptables', 'ip6tables'] });
    const mark = await lastProbe();
    const seen = hits.length;
    const on = await probesAfter(mark + 1, 3);
    const after = on.lines.filter((l) => Number(/ (\d+):/.exec(l)![1]) > mark + 1);
    expect(after.length).toBeGreaterThanOrEqual(4);
    expect(after.every((l) => /: closed \(/.test(l)), after.join('\n')).toBe(true);
    expect(hits.slice(seen).filter((h) => Number(/-(\d+)$/.exec(h)![1]) > mark + 1)).toEqual([]);

    // QEMU's own VNC server still answers a client on loopback (its replies are not NEW connections).
    const vm = await (await app.request(`/vms/${taskId}`)).json();
    const banner = await new Promise<string>((res, rej) => {
      const s = connect(vm.console.vnc.port, '127.0.0.1');
      s.once('data', (d) => (res(d.toString('latin1')), s.destroy()));
      s.once('error', rej);
    });
    expect(banner).toMatch(/^RFB 003\.00\d\n$/);

    // Removed again: the guest reaches the listener once more, so the rule was what refused it.
    await removeGuestIsolation(uid!);
    expect(ruleHere('iptables') || ruleHere('ip6tables')).toBe(false);
    const mark2 = await lastProbe();
    const again = await probesAfter(mark2 + 1, 2);
    expect(again.lines.some((l) => l.endsWith('open hello-from-v4')), again.lines.join('\n')).toBe(true);

    expect((await app.request(`/vms/${taskId}`, { method: 'DELETE' })).status).toBe(204);
  });
});
