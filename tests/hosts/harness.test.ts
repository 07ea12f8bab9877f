// The test-host harness itself (tests/helpers/hosts.ts): what it makes, that hosts reach each
// other and can be cut off, and that nothing is left behind however the test process ends.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { createHosts, type Host, type Hosts } from '../helpers/hosts.ts';
import { removeStaleRuns, sh } from '../helpers/hosts-net.ts';

const made: Hosts[] = [];
afterAll(async () => {
  for (const c of made) await c.destroy();
});

interface RunInfo {
  run: string;
  netns: string[];
  bridge: string;
  dir: string;
}

/** Whatever of a run still exists on the machine (empty when all is gone). */
function leftovers(r: RunInfo): string[] {
  const out: string[] = [];
  const netns = sh('ip', ['netns', 'list']);
  for (const n of r.netns) if (netns.split('\n').some((l) => l.split(' ')[0] === n)) out.push(`netns ${n}`);
  const links = sh('ip', ['-o', 'link']);
  if (links.includes(`cps-${r.run}`) || links.includes(r.bridge)) out.push('links');
  if (sh('iptables', ['-S', 'FORWARD']).includes(`cps-hosts ${r.run}`)) out.push('iptables rule');
  if (existsSync(r.dir)) out.push(`dir ${r.dir}`);
  return out;
}

const infoOf = (c: Hosts): RunInfo => ({ run: c.run, netns: c.hosts.map((h) => h.netns), bridge: c.names.bridge, dir: c.names.dir });

/** From inside `from`, an HTTP GET to `to`'s test server: its body, or 'unreachable'. */
const reach = (from: Host, to: Host) =>
  from
    .exec(process.execPath, ['-e', `fetch('http://${to.address}:18499/', { signal: AbortSignal.timeout(1500) }).then((r) => r.text()).then(console.log, () => console.log('unreachable'))`])
    .then((s) => s.trim());

describe('test hosts', () => {
  it('makes namespaces with their own addresses on one bridge, reachable from each other and from the test', async () => {
    const c = await createHosts(2);
    made.push(c);
    const [a, b] = c.hosts as [Host, Host];
    expect(a.address).toBe(`${c.prefix}1`);
    expect(b.address).toBe(`${c.prefix}2`);
    expect(await a.exec('ip', ['-4', '-o', 'addr', 'show', 'eth0'])).toContain(`${a.address}/24`);
    expect(await a.exec('ip', ['route', 'show', '224.0.0.0/4'])).toContain('dev eth0');
    expect(sh('ip', ['-o', 'link', 'show', a.veth])).toContain(`master ${c.names.bridge}`);

    const server = b.spawn('http', process.execPath, ['-e', `require('http').createServer((q, s) => s.end('hello from b')).listen(18499)`]);
    await new Promise((r) => setTimeout(r, 500));
    expect(await reach(a, b)).toBe('hello from b');
    expect(await reach(b, b)).toBe('hello from b');
    expect(await (await fetch(`http://${b.address}:18499/`)).text()).toBe('hello from b'); // through the bridge's .254

    a.cutLink();
    expect(await reach(a, b)).toBe('unreachable');
    a.restoreLink();
    // The link comes back up with carrier at once; give ARP a moment on a loaded machine.
    let again = '';
    for (let i = 0; i < 10 && again !== 'hello from b'; i++) again = await reach(a, b);
    expect(again).toBe('hello from b');

    a.removeMulticastRoute();
    expect(await a.exec('ip', ['route', 'show', '224.0.0.0/4'])).toBe('');
    a.addMulticastRoute();

    await b.kill();
    expect(server.proc.exitCode ?? server.proc.signalCode).toBe('SIGKILL');
    expect(sh('ip', ['netns', 'pids', b.netns]).trim()).toBe('');

    // A killed host can be brought back: its services start again in the same namespace.
    await b.startServices({ services: ['discovery'] });
    expect((await b.discovery.GET('/self')).data?.nodeId).toBe('host-b');

    const info = infoOf(c);
    expect(leftovers(info).length).toBeGreaterThan(0);
    await c.destroy();
    expect(leftovers(info)).toEqual([]);
  });

  async function childRun(mode: 'exit' | 'wait') {
    const child = spawn(process.execPath, ['--import', 'tsx', 'tests/hosts/fixtures/make-hosts.ts', mode], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).once('line', resolve);
      child.once('exit', (code) => reject(new Error(`make-hosts exited with ${code} before printing its run`)));
    });
    const exited = new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
    return { child, info: JSON.parse(line) as RunInfo, exited };
  }

  it('a test process that exits without destroy() leaves nothing behind', async () => {
    const { info, exited } = await childRun('exit');
    await exited;
    expect(leftovers(info)).toEqual([]);
  });

  it('a test process stopped by SIGTERM leaves nothing behind', async () => {
    const { child, info, exited } = await childRun('wait');
    expect(leftovers(info).length).toBeGreaterThan(0);
    child.kill('SIGTERM');
    await exited;
    expect(leftovers(info)).toEqual([]);
  });

  it("a SIGKILLed test process's hosts are removed by the next run, and live runs are not", async () => {
    const live = await createHosts(1);
    made.push(live);
    const { child, info, exited } = await childRun('wait');
    child.kill('SIGKILL');
    await exited;
    expect(leftovers(info)).toContain(`netns ${info.netns[0]}`);
    expect(removeStaleRuns()).toContain(info.run);
    expect(leftovers(info)).toEqual([]);
    // This process is alive: its own run was left alone.
    expect(leftovers(infoOf(live)).length).toBeGreaterThan(0);
  });
});
