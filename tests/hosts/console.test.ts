// One way in, across two namespace hosts: a task runs on B (its own libvirtd, a real tiny guest); a
// user of A's portal gets console tickets from A's coordinator and opens the desktop and the serial
// console on A's portal origin. A's coordinator carries each to A's gateway, which hops over mutual
// TLS to B's gateway, which bridges to the guest. Both gateways log whose console it is.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { makeUser } from '../helpers/cps-node.ts';
import { untilLeads } from '../helpers/head.ts';
import { createHosts, type Host, type Hosts } from '../helpers/hosts.ts';
import { peers, stateOf, until } from './pep-test-kit.ts';

let cluster: Hosts;
let a: Host, b: Host;
let token: string;
let portal: string;

beforeAll(async () => {
  cluster = await createHosts(2);
  [a, b] = cluster.hosts as [Host, Host];
  await b.startLibvirtd();
  // A starts first: the longest-up, it leads (B's discovery runs without a coordinator, and a
  // longer-up B would be handed the head it cannot take).
  // A lends nothing, so the task runs on B; its portal answers the test over the bridge in plain HTTP.
  await a.startServices({ services: 'all', env: { CPS_SHARE_VCPUS: '0', CPS_PLAIN_HTTP_FROM: 'any' } });
  await b.startServices({ services: ['provisioner', 'storage', 'discovery', 'vnc-gateway'] });
  await until('A sees B alive', () => peers(a), (ps) => stateOf(ps, b.nodeId) === 'alive');
  await untilLeads(a);
  ({ token } = await makeUser(a.dataDir));
  portal = `http://${a.address}:${cluster.ports.coordinator}`;
}, 180_000);

afterAll(async () => {
  await cluster?.destroy();
});

const auth = () => ({ authorization: `Bearer ${token}` });
const json = async (path: string, init: RequestInit = {}) => {
  const res = await fetch(`${portal}${path}`, { ...init, headers: { 'content-type': 'application/json', ...auth(), ...(init.headers as Record<string, string>) } });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};
const ticket = async (taskId: string, kind: 'vnc' | 'serial') => {
  const r = await json(`/api/tasks/${taskId}/console-ticket`, { method: 'POST', body: JSON.stringify({ kind }) });
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as { ticket: string; url: string };
};
const open = (url: string) => {
  const ws = new WebSocket(`ws://${a.address}:${cluster.ports.coordinator}${url}`, { origin: portal });
  ws.on('error', () => {});
  return ws;
};

describe("a console on A's portal of a guest on B", () => {
  it('carries the desktop and the serial console through both gateways, with the user named on each', async () => {
    const made = await json('/api/tasks', { method: 'POST', body: JSON.stringify({ name: 'hop', vcpus: 1, memoryMiB: 128, diskMiB: 64, image: 'tiny' }) });
    expect(made.status, JSON.stringify(made.body)).toBe(202);
    const id = made.body.id as string;
    const task = await until(`${id} running`, async () => (await json(`/api/tasks/${id}`)).body, (t) => t.state === 'running' || t.state === 'failed', 180_000);
    expect(task.state, `${JSON.stringify(task)}\n${a.logs('coordinator')}`).toBe('running');
    expect((task.node as { nodeId: string }).nodeId).toBe(b.nodeId);
    expect((task.console as { vncUrl: string }).vncUrl).toBe(`/console/${id}`);

    // The desktop: the guest's VNC server's banner comes back through A's portal.
    const desk = open((await ticket(id, 'vnc')).url);
    const banner = await new Promise<string>((resolve, reject) => {
      desk.once('message', (d: Buffer) => resolve(d.toString()));
      desk.once('unexpected-response', (_q, r) => reject(new Error(`refused ${r.statusCode}`)));
    });
    expect(banner).toMatch(/^RFB 003\.00\d/);

    // The serial console: typed in on A's portal, answered by B's guest.
    const term = open((await ticket(id, 'serial')).url);
    let out = '';
    term.on('message', (d: Buffer) => (out += d.toString('utf8')));
    await new Promise((resolve, reject) => {
      term.once('open', resolve);
      term.once('unexpected-response', (_q, r) => reject(new Error(`refused ${r.statusCode}`)));
    });
    await until('the guest on the serial console', async () => out, (o) => /cps-guest/.test(o), 90_000);
    await until(
      'echo hello-cps answered',
      async () => {
        term.send('echo hello-cps\r');
        await new Promise((r) => setTimeout(r, 700));
        return out;
      },
      (o) => o.split(/\r?\n/).some((l) => l.trim() === 'hello-cps'),
      60_000,
    );

    // Without a ticket, A's portal refuses before anything reaches B.
    const refused = await new Promise<number>((resolve, reject) => {
      const ws = open(`/console/${id}/websockify`);
      ws.once('open', () => reject(new Error('opened without a ticket')));
      ws.once('unexpected-response', (_q, r) => resolve(r.statusCode ?? 0));
    });
    expect(refused).toBe(403);

    desk.close();
    term.close();
    const opened = (h: Host) =>
      h
        .logs('vnc-gateway')
        .split('\n')
        .filter((l) => l.includes('console session open') && l.includes(id));
    await until('both gateways logged the consoles', async () => [opened(a).length, opened(b).length], ([x, y]) => x! >= 2 && y! >= 2, 10_000);
    // On A the browser came through the portal; on B it came over the hop from A. Both know the user.
    for (const line of [...opened(a), ...opened(b)]) expect(JSON.parse(line.slice(line.indexOf('{')))).toMatchObject({ user: expect.stringMatching(/^test-[0-9a-f]+ \(u-/) });
    expect(opened(b).some((l) => l.includes(`member ${a.nodeId}`))).toBe(true);
    expect(opened(a).some((l) => l.includes(`via member ${a.nodeId}`))).toBe(true);

    await json(`/api/tasks/${id}`, { method: 'DELETE' });
  });
});
