import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createLogger, serveApp, type Served } from '@cps/common';
import { launchChromium } from '../../../tests/helpers/browser.ts';
import { fakeCluster, fakeNode, type FakeNode } from './fakes.ts';

// The portal in a real Chromium against fake peers: the form, live updates, console, stop, errors.
let served: Served;
let gateway: Served;
let browser: Browser;
let page: Page;
let node: FakeNode;

beforeAll(async () => {
  node = fakeNode('node-a', '127.0.0.1', { vmStates: ['nostate', 'nostate', 'nostate', 'running'] });
  // A stand-in for the node's vnc-gateway, so the console tab has a page to load.
  const console = new Hono().get('/console/:taskId', (c) => c.html(`<title>console ${c.req.param('taskId')}</title>`));
  gateway = await serveApp(console, { port: 0, hostname: '127.0.0.1', log: createLogger('coordinator-test', 'silent') });
  node.info.ports.vncGateway = gateway.port;
  // Slow enough polling that a person (or a screenshot) could watch the states go by.
  const cluster = fakeCluster([node], { pollIntervalMs: 150, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) });
  served = await serveApp(cluster.app, { port: 0, hostname: '127.0.0.1', log: createLogger('coordinator-test', 'silent') });
  browser = await launchChromium();
  page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${served.port}/`);
});

afterAll(async () => {
  await browser?.close();
  await served?.close();
  await gateway?.close();
});

const row = (name: string) => page.locator('tr[data-task-id]', { hasText: name }).first();

describe('portal in Chromium', () => {
  it('fills the image list from /api/images and goes live', async () => {
    await expect.poll(() => page.locator('#task-form select[name=image] option').allTextContents(), { timeout: 10_000 }).toEqual(['tiny']);
    await expect.poll(() => page.getAttribute('#live', 'data-connected'), { timeout: 10_000 }).toBe('true');
  });

  it("shows the server's problem next to the form when it refuses", async () => {
    await page.fill('#task-form input[name=name]', '');
    await page.fill('#task-form input[name=vcpus]', '0');
    await page.click('#task-form button[type=submit]');
    const box = page.locator('#form-problem');
    await box.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await box.locator('.errors li').allTextContents()).toEqual(expect.arrayContaining([expect.stringMatching(/^body\/name: /), expect.stringMatching(/^body\/vcpus: /)]));
    expect(await page.getAttribute('#task-form input[name=vcpus]', 'aria-invalid')).toBe('true');
    expect(await page.locator('tr[data-task-id]').count()).toBe(0);
  });

  it('submits, follows the task to running without reloading, opens the console, and stops it', async () => {
    const name = `<img src=x onerror="window.pwned=1"> & "q"`;
    await page.fill('#task-form input[name=name]', name);
    await page.fill('#task-form input[name=vcpus]', '2');
    await page.fill('#task-form input[name=memoryMiB]', '128');
    await page.click('#task-form button[type=submit]');
    await expect.poll(() => page.locator('#form-problem').isHidden(), { timeout: 10_000 }).toBe(true);

    const r = row('<img src=x');
    await r.waitFor({ timeout: 10_000 });
    const id = (await r.getAttribute('data-task-id'))!;
    expect(await r.locator('td.name').textContent()).toBe(name);
    expect(await r.locator('img').count()).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();

    await expect.poll(() => r.locator('td.state').textContent(), { timeout: 30_000 }).toBe('running');
    expect(await r.locator('td.state').getAttribute('data-state')).toBe('running');
    expect(await r.locator('.history li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-state')))).toEqual(['pending', 'placing', 'starting', 'running']);
    expect(await r.locator('td.node').textContent()).toBe('node-a (127.0.0.1)');

    const consoleButton = r.locator('button.console');
    expect(await consoleButton.isEnabled()).toBe(true);
    const [popup] = await Promise.all([page.context().waitForEvent('page'), consoleButton.click()]);
    await popup.waitForLoadState();
    expect(popup.url()).toBe(`http://127.0.0.1:${gateway.port}/console/${id}`);
    expect(await popup.title()).toBe(`console ${id}`);
    await popup.close();
    await page.screenshot({ path: '/tmp/cps-portal-running.png', fullPage: true });

    await r.locator('button.stop').click();
    await expect.poll(() => r.locator('td.state').textContent(), { timeout: 30_000 }).toBe('stopped');
    expect(await r.locator('button.stop').isDisabled()).toBe(true);
    expect(await r.locator('button.console').isDisabled()).toBe(true);
  });

  it('shows why a task failed', async () => {
    node.behaviour.failDisks = ['tool-failed', 'qemu-img: No space left on device'];
    await page.fill('#task-form input[name=name]', 'doomed');
    await page.click('#task-form button[type=submit]');
    const r = row('doomed');
    await expect.poll(() => r.locator('td.state').textContent(), { timeout: 30_000 }).toBe('failed');
    expect(await r.locator('.error').textContent()).toContain('No space left on device');
    expect(await r.locator('button.console').isDisabled()).toBe(true);
    expect(await r.locator('button.stop').isEnabled()).toBe(true);
    await page.screenshot({ path: '/tmp/cps-portal.png', fullPage: true });
  });
});
