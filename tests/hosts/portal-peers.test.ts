// The portal's Peers page on two namespace hosts: host A's portal, opened in Chromium from the
// root namespace over HTTPS, lists A and B with what each lends, and the user's task on its node.
import type { Browser } from 'playwright-core';
import { coordinatorClient } from '@cps/openapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.ts';
import { makeUser } from '../helpers/cps-node.ts';
import { untilLeads } from '../helpers/head.ts';
import { createHosts, type Host, type Hosts } from '../helpers/hosts.ts';
import { peers, stateOf, until } from './pep-test-kit.ts';

let cluster: Hosts;
let a: Host, b: Host;
let user: { name: string; password: string; token: string };
let browser: Browser;

beforeAll(async () => {
  cluster = await createHosts(2);
  [a, b] = cluster.hosts as [Host, Host];
  const env = { CPS_SHARE_VCPUS: '1' };
  // A starts first: the longest-up, it leads (B's discovery runs without a coordinator, and a
  // longer-up B would be handed the head it cannot take).
  await a.startServices({ services: ['provisioner', 'storage', 'discovery', 'coordinator'], env });
  await b.startServices({ services: ['provisioner', 'storage', 'discovery'], env });
  await until('A sees B alive', () => peers(a), (ps) => stateOf(ps, b.nodeId) === 'alive');
  await untilLeads(a);
  user = await makeUser(a.dataDir);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await cluster?.destroy();
});

describe('the Peers page on two namespace hosts', () => {
  it("A's portal lists both hosts, alive, with what each lends and the user's task on its host", async () => {
    // One task of the user's, so a peer shows it by name.
    const api = coordinatorClient({ baseUrl: a.url('coordinator'), fetch: cluster.fetch, headers: { authorization: `Bearer ${user.token}` } });
    const { data: task, error } = await api.POST('/api/tasks', { body: { name: 'peers-page-task', vcpus: 1, memoryMiB: 128, diskMiB: 16, image: 'tiny' } });
    expect(error, JSON.stringify(error)).toBeUndefined();
    const running = await until('the task runs', async () => (await api.GET('/api/tasks/{taskId}', { params: { path: { taskId: task!.id } } })).data!, (t) => t.state === 'running' || t.state === 'failed', 60_000);
    expect(running.state, a.logs('coordinator')).toBe('running');

    // The portal is served with A's node certificate, signed by the cluster CA the harness made;
    // Chromium has no way to trust that CA without a certificate database of its own, so this
    // context alone skips the check (the TLS itself is the hosts tests' and trust tests' subject).
    const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${a.url('coordinator')}/#peers`);
    await page.fill('form#sign-in input[name=name]', user.name);
    await page.fill('form#sign-in input[name=password]', user.password);
    await page.click('form#sign-in button[type=submit]');
    await page.locator('#page-peers').waitFor({ state: 'visible', timeout: 15_000 });

    const card = (h: Host) => page.locator(`#peer-list li.peer[data-node-id="${h.nodeId}"]`);
    await card(a).waitFor({ timeout: 15_000 });
    await card(b).waitFor({ timeout: 15_000 });
    expect(await page.locator('#peer-list li.peer').count()).toBe(2);
    expect(await card(a).locator('h3').textContent()).toContain('this node');
    for (const h of [a, b]) {
      expect(await card(h).locator('.address').textContent()).toBe(h.address);
      expect(await card(h).locator('.state').textContent()).toBe('alive');
      await expect.poll(() => card(h).locator('.lends').textContent(), { timeout: 15_000 }).toMatch(/ of 1 vCPUs free · /);
      expect(await card(h).locator('.owner').textContent()).toMatch(/^(idle|busy \(using the machine\))$/);
      expect(await card(h).locator('.uptime').textContent()).toMatch(/^\d+ (s|min)/);
    }
    const host = running.node!.nodeId === a.nodeId ? a : b;
    await expect.poll(() => card(host).locator('.tasks li').allTextContents(), { timeout: 15_000 }).toEqual([`peers-page-task (running, ${user.name})`]);
    expect(await card(host === a ? b : a).locator('.tasks').textContent()).toBe('0 running');
    await page.screenshot({ path: '/tmp/cps-portal-peers-hosts.png', fullPage: true });
    await context.close();
  });
});
