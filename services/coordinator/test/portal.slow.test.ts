import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createLogger, serveApp, type Served } from '@cps/common';
import { launchChromium } from '../../../tests/helpers/browser.ts';
import { fakeNode, signedInCluster, type FakeNode } from './fakes.ts';

// The portal in a real Chromium against fake peers: sign-in, the form, live updates, console, stop, errors, sign-out.
let served: Served;
let browser: Browser;
let page: Page;
let node: FakeNode;
let cluster: Awaited<ReturnType<typeof signedInCluster>>;

beforeAll(async () => {
  node = fakeNode('node-a', '127.0.0.1', { vmStates: ['nostate', 'nostate', 'nostate', 'running'] });
  // Slow enough polling that a person (or a screenshot) could watch the states go by.
  cluster = await signedInCluster([node], { pollIntervalMs: 150, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) });
  served = await serveApp(cluster.app, { port: 0, hostname: '127.0.0.1', log: createLogger('coordinator-test', 'silent') });
  browser = await launchChromium();
  page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${served.port}/`);
});

afterAll(async () => {
  await browser?.close();
  await served?.close();
});

const row = (name: string) => page.locator('tr[data-task-id]', { hasText: name }).first();

describe('portal sign-in in Chromium', () => {
  it('shows only the sign-in form to a browser with no session', async () => {
    await page.locator('form#sign-in').waitFor({ state: 'visible', timeout: 10_000 });
    expect(await page.locator('#task-form').isVisible()).toBe(false);
    expect(await page.locator('button#sign-out').isVisible()).toBe(false);
  });

  it("shows the server's problem for a wrong password, by keyboard alone", async () => {
    await page.locator('form#sign-in input[name=name]').focus();
    await page.keyboard.type('alice');
    await page.keyboard.press('Tab');
    await page.keyboard.type('not-the-password');
    await page.keyboard.press('Enter');
    const problem = page.locator('#sign-in-problem');
    await problem.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await problem.textContent()).toBe('the name or password is wrong');
    expect(await page.locator('#task-form').isVisible()).toBe(false);
  });

  it("signs in, shows the user's name and only their tasks (with an HttpOnly cookie)", async () => {
    await cluster.request('bob', 'POST', '/api/tasks', { name: 'bobs-task' });
    await page.fill('form#sign-in input[name=name]', 'alice');
    await page.fill('form#sign-in input[name=password]', 'alice-password-1');
    await page.click('form#sign-in button[type=submit]');
    await page.locator('#task-form').waitFor({ state: 'visible', timeout: 10_000 });
    expect(await page.locator('#user-name').textContent()).toBe('alice');
    expect(await page.locator('button#sign-out').isVisible()).toBe(true);
    expect(await page.locator('form#sign-in').isVisible()).toBe(false);
    const [cookie] = (await page.context().cookies()).filter((c) => c.name === 'cps_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    expect(await page.evaluate(() => document.cookie)).toBe('');
    await expect.poll(() => page.getAttribute('#live', 'data-connected'), { timeout: 10_000 }).toBe('true');
    expect(await page.locator('tr[data-task-id]').count()).toBe(0);
  });
});

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
    // The console page is on the portal's own origin (its tickets and sockets: console.slow tests).
    const [popup] = await Promise.all([page.context().waitForEvent('page'), consoleButton.click()]);
    await popup.waitForLoadState();
    expect(popup.url()).toBe(`http://127.0.0.1:${served.port}/console/${id}`);
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

  it("lists the signed-in user's submits as theirs and never bob's", async () => {
    expect(await page.locator('tr[data-task-id]', { hasText: 'bobs-task' }).count()).toBe(0);
    const mine = cluster.tasks.list().filter((t) => t.owner?.name === 'alice');
    expect(mine.length).toBeGreaterThan(0);
    expect(await page.locator('tr[data-task-id]').count()).toBe(mine.length);
  });

  it('signs out: back to the form, the tasks gone from the page, the session ended', async () => {
    await page.click('button#sign-out');
    await page.locator('form#sign-in').waitFor({ state: 'visible', timeout: 10_000 });
    expect(await page.locator('tr[data-task-id]').count()).toBe(0);
    expect(await page.locator('#task-form').isVisible()).toBe(false);
    await page.reload();
    await page.locator('form#sign-in').waitFor({ state: 'visible', timeout: 10_000 });
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.screenshot({ path: '/tmp/cps-portal-sign-in.png' });
  });
});
