import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { createLogger, serveApp, type Served } from '@cps/common';
import { launchChromium } from '../../../tests/helpers/browser.ts';
import { peersHarness } from './peers-harness.ts';

// The portal's Peers and Admin pages, keyboard use and the phone-size layout, in a real Chromium,
// against a coordinator whose discovery is the real discovery app (this node and one peer).
let h: Awaited<ReturnType<typeof peersHarness>>;
let served: Served;
let browser: Browser;
let base: string;

beforeAll(async () => {
  h = await peersHarness({ load: 0.1 });
  served = await serveApp(h.app, { port: 0, hostname: '127.0.0.1', log: createLogger('portal-pages-test', 'silent') });
  base = `http://127.0.0.1:${served.port}`;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await served?.close();
  h?.close();
});

async function signIn(page: Page, name: string, password: string) {
  await page.goto(`${base}/`);
  await page.fill('form#sign-in input[name=name]', name);
  await page.fill('form#sign-in input[name=password]', password);
  await page.click('form#sign-in button[type=submit]');
  await page.locator('#task-form').waitFor({ state: 'visible', timeout: 10_000 });
}

/** Whether anything on the page is wider than the window (a horizontal scroll bar). */
const horizontalScroll = (page: Page) => page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);

/** Elements wider than the window or reaching past its right edge, for the failure message. */
const cutOff = (page: Page) =>
  page.evaluate(() =>
    Array.from(document.querySelectorAll('body *'))
      .filter((e) => {
        const r = e.getBoundingClientRect();
        return r.width > 0 && r.right > window.innerWidth + 1 && getComputedStyle(e).position !== 'absolute';
      })
      .slice(0, 5)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? `#${e.id}` : ''}.${e.className}`),
  );

describe('the Peers page', () => {
  it("lists this node and its peer with what each lends, load, owner, uptime and the user's own tasks", async () => {
    const mine = h.runningTask('alice', 'alice-box', 'node-b');
    h.runningTask('bob', 'bob-box', 'node-b');
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await signIn(page, 'alice', 'alice-password-1');
    await page.click('#menu a[data-page=peers]');
    await page.locator('#page-peers').waitFor({ state: 'visible' });
    // The menu moves the keyboard to the page's heading.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('peers-title');
    const cards = page.locator('#peer-list li.peer');
    await expect.poll(() => cards.count(), { timeout: 10_000 }).toBe(2);
    const a = page.locator('li.peer[data-node-id="node-a"]');
    const b = page.locator('li.peer[data-node-id="node-b"]');
    expect(await a.locator('h3').textContent()).toContain('this node');
    expect(await a.locator('.lends').textContent()).toBe('4 of 4 vCPUs free · 8.0 GiB of 8.0 GiB memory · 88 GiB of 98 GiB disk');
    expect(await a.locator('.owner').textContent()).toBe('idle');
    expect(await b.locator('h3').textContent()).toContain('head');
    expect(await b.locator('.address').textContent()).toBe('10.0.0.2');
    expect(await b.locator('.load').textContent()).toBe('2.5');
    expect(await b.locator('.owner').textContent()).toBe('busy (using the machine)');
    expect(await b.locator('.uptime').textContent()).toBe('1 h 0 min');
    expect(await b.locator('.tasks').textContent()).toContain('2 running');
    // Her own task by name; bob's only in the count.
    expect(await b.locator('.tasks li').allTextContents()).toEqual(['alice-box (running, alice)']);
    expect(await b.locator(`.tasks li[data-task-id="${mine.id}"]`).count()).toBe(1);
    // No Admin page for a user.
    expect(await page.locator('#menu-admin').isVisible()).toBe(false);
    await page.goto(`${base}/#admin`);
    await page.locator('#page-tasks').waitFor({ state: 'visible' });
    expect(await page.locator('#page-admin').isVisible()).toBe(false);
    await page.close();
  });
});

describe('the Admin page', () => {
  let page: Page;
  beforeAll(async () => {
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('dialog', (d) => void d.accept());
    await signIn(page, h.users.admin.name, h.adminPassword);
  });
  afterAll(() => page?.close());

  it('makes a join token, shows the cps up --join command, lists it and revokes it', async () => {
    await page.click('#menu a[data-page=admin]');
    await page.locator('#join-token-form').waitFor({ state: 'visible' });
    await page.selectOption('#join-token-form select[name=hours]', '24');
    await page.click('#join-token-form button[type=submit]');
    const command = page.locator('#join-command');
    await command.waitFor({ state: 'visible', timeout: 10_000 });
    const text = await command.inputValue();
    expect(text).toMatch(/^cps up --join 10\.0\.0\.1:18181 --token \S+$/);
    // The same token discovery issued, valid for a day.
    const [issued] = h.tokens.list();
    expect(issued).toMatchObject({ state: 'valid' });
    expect(Date.parse(issued!.expiresAt) - Date.parse(issued!.createdAt)).toBe(86_400_000);
    const row = page.locator(`#token-rows tr[data-token-id="${issued!.id}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator('td.state').textContent()).toBe('valid');
    await row.locator('button.revoke').click();
    await expect.poll(() => page.locator(`#token-rows tr[data-token-id="${issued!.id}"] td.state`).textContent(), { timeout: 10_000 }).toBe('revoked');
    expect(h.tokens.list()[0]!.state).toBe('revoked');
  });

  it('adds a user with a quota, shows the refusal of a short password, changes a role and disables', async () => {
    const form = page.locator('#add-user');
    await form.locator('input[name=name]').fill('carol');
    await form.locator('input[name=password]').fill('short');
    await form.locator('button[type=submit]').click();
    const problem = page.locator('#add-user-problem');
    await problem.waitFor({ state: 'visible', timeout: 10_000 });
    expect(await problem.locator('.errors li').allTextContents()).toEqual(expect.arrayContaining([expect.stringMatching(/^body\/password: /)]));
    expect(await form.locator('input[name=password]').getAttribute('aria-invalid')).toBe('true');

    await form.locator('input[name=password]').fill('carol-long-password');
    await form.locator('input[name=vcpus]').fill('3');
    await form.locator('button[type=submit]').click();
    const carol = page.locator('form.user-row[data-user-name=carol]');
    await carol.waitFor({ timeout: 10_000 });
    expect(await problem.isHidden()).toBe(true);
    expect(await carol.locator('input[name=vcpus]').inputValue()).toBe('3');
    const made = (await (await h.request('admin', 'GET', '/api/users')).json()).items.find((u: { name: string }) => u.name === 'carol');
    expect(made).toMatchObject({ role: 'user', quota: { vcpus: 3 }, disabled: false });

    await carol.locator('select[name=role]').selectOption('admin');
    await carol.locator('input[name=runningTasks]').fill('7');
    await carol.locator('button[type=submit]').click();
    await expect.poll(async () => (await (await h.request('admin', 'GET', '/api/users')).json()).items.find((u: { name: string }) => u.name === 'carol'), { timeout: 10_000 })
      .toMatchObject({ role: 'admin', quota: { vcpus: 3, runningTasks: 7 } });

    await page.locator('form.user-row[data-user-name=carol] button.toggle').click();
    await expect.poll(() => page.locator('form.user-row[data-user-name=carol] button.toggle').textContent(), { timeout: 10_000 }).toBe('Enable');
    expect(await page.locator('form.user-row[data-user-name=carol] h3').textContent()).toContain('disabled');
    // Disabled: carol's password signs no one in.
    const res = await h.app.request('http://localhost/api/session', { method: 'POST', headers: { host: 'localhost', 'content-type': 'application/json' }, body: JSON.stringify({ name: 'carol', password: 'carol-long-password' }) });
    expect(res.status).toBe(401);
  });
});

describe('by keyboard alone', () => {
  it('signs in, fills the form and submits it with Tab, typing and Enter; the task shows its queue place', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(`${base}/`);
    await page.locator('form#sign-in').waitFor({ state: 'visible', timeout: 10_000 });
    // The page puts the keyboard in the name field itself.
    expect(await page.evaluate(() => document.activeElement?.getAttribute('name'))).toBe('name');
    await page.keyboard.type('bob');
    await page.keyboard.press('Tab');
    await page.keyboard.type('bob-password-12');
    await page.keyboard.press('Enter');
    await page.locator('#task-form').waitFor({ state: 'visible', timeout: 10_000 });

    // Tab from the top of the page (a reload: the session cookie signs in again): the skip link,
    // the menu, sign out, then the form's first field.
    await page.reload();
    await page.locator('#task-form').waitFor({ state: 'visible', timeout: 10_000 });
    const order: string[] = [];
    for (let i = 0; i < 12; i++) {
      await page.keyboard.press('Tab');
      order.push(await page.evaluate(() => {
        const e = document.activeElement as HTMLElement;
        return e.getAttribute('name') ?? e.id ?? e.textContent?.trim() ?? '';
      }).then((x) => x || 'unnamed'));
      if (order.at(-1) === 'name') break;
    }
    expect(order.slice(-1)).toEqual(['name']);
    expect(order).toEqual(expect.arrayContaining(['sign-out']));
    await page.keyboard.type('keyboard-only');
    await page.keyboard.press('Tab'); // image
    await page.keyboard.press('Tab'); // vcpus
    await page.keyboard.press('Control+A');
    await page.keyboard.type('5');
    await page.keyboard.press('Enter');
    const row = page.locator('tr[data-task-id]', { hasText: 'keyboard-only' });
    await row.waitFor({ timeout: 10_000 });
    // No peer lends 5 vCPUs (within bob's quota of 8, with bob-box's 1 held): it waits, and the page says where and why.
    await expect.poll(() => row.locator('td.state').textContent(), { timeout: 20_000 }).toBe('queued');
    await expect.poll(() => row.locator('.queue').textContent(), { timeout: 10_000 }).toMatch(/^Queued: number 1 — /);
    // Cancelling it by keyboard: focus its Cancel button and press Enter.
    expect(await row.locator('button.stop').textContent()).toBe('Cancel');
    await row.locator('button.stop').focus();
    await page.keyboard.press('Enter');
    await expect.poll(() => row.locator('td.state').textContent(), { timeout: 10_000 }).toBe('stopped');
    await page.close();
  });
});

describe('the new-task options', () => {
  it('sends network, checkpoints, a kept copy, cloud-init user-data and a start time; the task waits for it', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await signIn(page, 'alice', 'alice-password-1');
    expect(await page.locator('header a[href="/docs"]').textContent()).toBe('API reference');
    const f = page.locator('#task-form');
    await f.locator('input[name=name]').fill('with-options');
    await f.locator('select[name=network]').selectOption('none');
    await f.locator('input[name=checkpointEveryMin]').fill('15');
    await f.locator('input[name=keepCopy]').check();
    const userData = '#cloud-config\nruncmd:\n  - echo hello > /tmp/hello\n';
    await f.locator('textarea[name=userData]').fill(userData);
    // Tomorrow at 09:30, local time, as the user picks it.
    const local = await page.evaluate(() => {
      const d = new Date(Date.now() + 86_400_000);
      d.setHours(9, 30, 0, 0);
      const p = (n: number) => String(n).padStart(2, '0');
      return { value: `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T09:30`, iso: d.toISOString() };
    });
    await f.locator('input[name=notBefore]').fill(local.value);
    await f.locator('button[type=submit]').click();
    const row = page.locator('tr[data-task-id]', { hasText: 'with-options' });
    await row.waitFor({ timeout: 10_000 });
    const id = (await row.getAttribute('data-task-id'))!;
    expect(h.tasks.get(id)!.request).toMatchObject({ network: 'none', checkpointEveryMin: 15, keepCopy: true, userData, notBefore: local.iso });
    await expect.poll(() => row.locator('td.state').textContent(), { timeout: 10_000 }).toBe('queued');
    expect(await row.locator('.progress').textContent()).toContain('Not before');
    // A kept copy is offered for download once the task has stopped, not before.
    expect(await row.locator('button.download').isDisabled()).toBe(true);
    await page.close();
  });
});

describe('accessible names', () => {
  it('every control on every page has a label or text a screen reader can announce', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await signIn(page, h.users.admin.name, h.adminPassword);
    for (const name of ['tasks', 'peers', 'admin'] as const) {
      await page.goto(`${base}/#${name}`);
      await page.locator(`#page-${name}`).waitFor({ state: 'visible', timeout: 10_000 });
      if (name === 'admin') await page.locator('form.user-row').first().waitFor({ timeout: 10_000 });
      const unnamed = await page.evaluate(() =>
        Array.from(document.querySelectorAll('input, select, textarea, button, a[href], progress'))
          .filter((e) => (e as HTMLElement).offsetParent !== null)
          .filter((e) => {
            const labelled = 'labels' in e && (e as HTMLInputElement).labels && (e as HTMLInputElement).labels!.length > 0;
            const aria = e.getAttribute('aria-label') || e.getAttribute('aria-labelledby');
            const text = (e.tagName === 'BUTTON' || e.tagName === 'A') && (e.textContent ?? '').trim() !== '';
            return !(labelled || aria || text);
          })
          .map((e) => e.outerHTML.slice(0, 120)),
      );
      expect(unnamed, name).toEqual([]);
    }
    await page.close();
  });
});

describe('layouts', () => {
  for (const viewport of [{ width: 1280, height: 800 }, { width: 390, height: 844 }]) {
    it(`nothing is cut off and nothing scrolls sideways at ${viewport.width}x${viewport.height}, on every page`, async () => {
      const page = await browser.newPage({ viewport });
      page.on('dialog', (d) => void d.accept());
      await page.goto(`${base}/`);
      await page.locator('form#sign-in').waitFor({ state: 'visible', timeout: 10_000 });
      expect(await horizontalScroll(page), `sign-in: ${(await cutOff(page)).join(', ')}`).toBe(false);
      await signIn(page, h.users.admin.name, h.adminPassword);
      const t = h.runningTask('admin', 'a-task-with-a-rather-long-name-that-must-wrap-somewhere-nicely', 'node-a');
      await page.locator(`tr[data-task-id="${t.id}"]`).waitFor({ timeout: 10_000 });
      for (const name of ['tasks', 'peers', 'admin'] as const) {
        await page.goto(`${base}/#${name}`);
        await page.locator(`#page-${name}`).waitFor({ state: 'visible', timeout: 10_000 });
        if (name === 'peers') await page.locator('#peer-list li.peer').first().waitFor({ timeout: 10_000 });
        if (name === 'admin') {
          await page.click('#join-token-form button[type=submit]');
          await page.locator('#join-command').waitFor({ state: 'visible', timeout: 10_000 });
        }
        await page.screenshot({ path: `/tmp/cps-portal-${name}-${viewport.width}.png`, fullPage: true });
        expect(await horizontalScroll(page), `${name}: ${(await cutOff(page)).join(', ')}`).toBe(false);
        expect(await cutOff(page), name).toEqual([]);
      }
      await page.close();
    });
  }
});
