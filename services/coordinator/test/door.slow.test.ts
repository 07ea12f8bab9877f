import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hono } from 'hono';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, doorLists, serveApp, type Served } from '@cps/common';
import { launchChromium } from '../../../tests/helpers/browser.ts';
import { fakeCluster, fakeNode, reach, type FakeNode } from './fakes.ts';

// A real Chromium, a real coordinator behind the door a node configures, and two hostile pages:
// one on another origin (http://127.0.0.2:PORT) using forms, no-cors fetches and a beacon, and one
// on evil.example whose name resolves to the node (DNS rebinding: same-origin to the browser).
// Every request the coordinator gets is logged with its answer, so the test knows the attacks
// arrived and were refused at the door, and that the task they aim at is still running.

interface Seen {
  method: string;
  path: string;
  host: string;
  origin?: string;
  status: number;
}

let coordinator: Served;
let attacker: Server;
let attackerOrigin: string;
let browser: Browser;
let node: FakeNode;
let cluster: ReturnType<typeof fakeCluster>;
let base: string;
let taskId: string;
const seen: Seen[] = [];

beforeAll(async () => {
  node = fakeNode('node-a', '127.0.0.1');
  // The node's door needs its port, known once it listens: the app is made then.
  let app: Hono | undefined;
  const front = new Hono();
  front.all('*', async (c) => {
    const res = await app!.fetch(c.req.raw, c.env);
    const path = new URL(c.req.url).pathname;
    seen.push({ method: c.req.method, path, host: c.req.header('host') ?? '', origin: c.req.header('origin'), status: res.status });
    return res;
  });
  coordinator = await serveApp(front, { port: 0, hostname: '127.0.0.1', log: createLogger('coordinator-test', 'silent') });
  cluster = fakeCluster([node], { door: doorLists({ port: coordinator.port, advertiseAddress: '127.0.0.1', nodeId: 'node-a' }) });
  app = cluster.app;
  base = `http://127.0.0.1:${coordinator.port}`;

  const created = await fetch(`${base}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"victim"}' });
  expect(created.status).toBe(202);
  taskId = ((await created.json()) as { id: string }).id;
  await reach(cluster.tasks, taskId, 'running');

  attacker = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(attackPage(base, taskId));
  });
  await new Promise<void>((r) => attacker.listen(0, '127.0.0.2', r));
  attackerOrigin = `http://127.0.0.2:${(attacker.address() as AddressInfo).port}`;

  browser = await launchChromium({
    // evil.example is the rebinding name: it resolves to this node. Private-network checks are off
    // so that what stops the attacks is the coordinator, not this Chromium's version of them.
    args: ['--host-resolver-rules=MAP evil.example 127.0.0.1', '--disable-features=PrivateNetworkAccessSendPreflights,PrivateNetworkAccessRespectPreflightResults,BlockInsecurePrivateNetworkRequests,LocalNetworkAccessChecks'],
  });
});

afterAll(async () => {
  await browser?.close();
  await coordinator?.close();
  await new Promise<void>((r) => (attacker ? attacker.close(() => r()) : r()));
});

/** The attacker's page: forms that post to the coordinator into hidden frames, and a script. */
function attackPage(target: string, id: string): string {
  return `<!doctype html><title>cute cats</title>
<iframe name="sink1"></iframe><iframe name="sink2"></iframe><iframe name="sink3"></iframe>
<form id="plain" method="POST" action="${target}/api/tasks" enctype="text/plain" target="sink1"><input name='{"name":"pwned","pad":"' value='"}'></form>
<form id="urlencoded" method="POST" action="${target}/api/tasks" target="sink2"><input name="name" value="pwned"></form>
<form id="multipart" method="POST" action="${target}/api/tasks/${id}" enctype="multipart/form-data" target="sink3"><input name="_method" value="DELETE"></form>`;
}

const tries = (s: Seen) => s.method !== 'GET' && s.method !== 'OPTIONS';
const state = () => cluster.tasks.get(taskId)?.state;

describe('the coordinator against hostile pages in Chromium', () => {
  it('a page of another origin changes nothing: forms, no-cors fetches and a beacon are refused at the door', async () => {
    const page = await browser.newPage();
    await page.goto(`${attackerOrigin}/`);
    const before = seen.length;

    await page.evaluate(() => {
      for (const id of ['plain', 'urlencoded', 'multipart']) (document.getElementById(id) as HTMLFormElement).submit();
    });
    const fetches = await page.evaluate(async ({ target, id }) => {
      const out: Record<string, string> = {};
      const attempt = async (name: string, url: string, init: RequestInit) => {
        try {
          const r = await fetch(url, init);
          out[name] = `answered ${r.type} ${r.status}`;
        } catch (err) {
          out[name] = `threw ${(err as Error).name}`;
        }
      };
      await attempt('no-cors POST', `${target}/api/tasks`, { method: 'POST', mode: 'no-cors', body: '{"name":"pwned"}' });
      await attempt('no-cors POST without body', `${target}/api/tasks`, { method: 'POST', mode: 'no-cors' });
      await attempt('no-cors DELETE', `${target}/api/tasks/${id}`, { method: 'DELETE', mode: 'no-cors' });
      await attempt('cors DELETE', `${target}/api/tasks/${id}`, { method: 'DELETE' });
      await attempt('cors JSON POST', `${target}/api/tasks`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"pwned"}' });
      out.beacon = String(navigator.sendBeacon(`${target}/api/tasks`, '{"name":"pwned"}'));
      return out;
    }, { target: base, id: taskId });

    // The simple requests reach the coordinator (opaquely); the others are stopped by the browser.
    expect(fetches).toEqual({
      'no-cors POST': 'answered opaque 0',
      'no-cors POST without body': 'answered opaque 0',
      'no-cors DELETE': 'threw TypeError',
      'cors DELETE': 'threw TypeError',
      'cors JSON POST': 'threw TypeError',
      beacon: 'true',
    });
    // Three forms, two no-cors POSTs and the beacon arrived, each from the attacker's origin, each refused.
    await expect.poll(() => seen.slice(before).filter(tries).length, { timeout: 10_000 }).toBe(6);
    const attacks = seen.slice(before).filter(tries);
    for (const a of attacks) {
      expect(a).toMatchObject({ method: 'POST', host: `127.0.0.1:${coordinator.port}`, origin: attackerOrigin, status: 403 });
    }
    expect(attacks.map((a) => a.path).sort()).toEqual([...Array(5).fill('/api/tasks'), `/api/tasks/${taskId}`].sort());
    // The preflights of the non-simple ones were not answered with a permission, so those never came.
    expect(seen.slice(before).filter((s) => s.method === 'OPTIONS').length).toBeGreaterThan(0);

    expect(state()).toBe('running');
    expect(cluster.tasks.list().map((t) => t.name)).toEqual(['victim']);
    expect(node.calls.filter((c) => c.startsWith('DELETE'))).toEqual([]);
    await page.close();
  });

  it('a DNS rebinding page (evil.example resolving to the node) can neither read nor stop anything', async () => {
    const page = await browser.newPage();
    const evil = `http://evil.example:${coordinator.port}`;
    // The attacker's first answer for its name: its own page. Then the name points at the node.
    await page.route(`${evil}/`, (route) => route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>rebound</title>' }));
    await page.goto(`${evil}/`);
    const before = seen.length;

    const results = await page.evaluate(async (id) => {
      const read = await fetch('/api/tasks');
      const del = await fetch(`/api/tasks/${id}`, { method: 'DELETE' });
      const post = await fetch('/api/tasks', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"pwned"}' });
      return { read: [read.status, await read.text()], del: del.status, post: post.status };
    }, taskId);

    // Same-origin to the browser, so it reads the answers: a refusal that names neither task nor node.
    expect(results.del).toBe(403);
    expect(results.post).toBe(403);
    expect(results.read[0]).toBe(403);
    const body = JSON.parse(results.read[1] as string) as { type: string; detail: string };
    expect(body.type).toBe('urn:cps:problem:host-not-allowed');
    expect(body.detail).toContain('CPS_PUBLIC_HOSTS');
    expect(JSON.stringify(body)).not.toContain(taskId);
    expect(JSON.stringify(body)).not.toContain('victim');

    const arrived = seen.slice(before);
    expect(arrived.map((s) => [s.method, s.host, s.origin ?? null, s.status])).toEqual([
      ['GET', `evil.example:${coordinator.port}`, null, 403],
      ['DELETE', `evil.example:${coordinator.port}`, evil, 403],
      ['POST', `evil.example:${coordinator.port}`, evil, 403],
    ]);
    expect(state()).toBe('running');
    expect(cluster.tasks.list()).toHaveLength(1);
    await page.close();
  });

  it("the portal itself (same origin) still creates and stops tasks", async () => {
    const page = await browser.newPage();
    await page.goto(`${base}/`);
    await expect.poll(() => page.getAttribute('#live', 'data-connected'), { timeout: 10_000 }).toBe('true');
    await page.fill('#task-form input[name=name]', 'from the portal');
    await page.click('#task-form button[type=submit]');
    const row = page.locator('tr[data-task-id]', { hasText: 'from the portal' }).first();
    await row.waitFor({ timeout: 10_000 });
    await expect.poll(() => row.locator('td.state').textContent(), { timeout: 30_000 }).toBe('running');
    await row.locator('button.stop').click();
    await expect.poll(() => row.locator('td.state').textContent(), { timeout: 30_000 }).toBe('stopped');

    const own = seen.filter((s) => s.origin === base && tries(s));
    expect(own.map((s) => [s.method, s.status])).toEqual([
      ['POST', 202],
      ['DELETE', 202],
    ]);
    // The victim of the attacks above was never touched.
    expect(state()).toBe('running');
    await page.close();
  });
});
