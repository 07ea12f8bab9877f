import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { coordinatorClient } from '@cps/openapi';
import { launchChromium } from '../helpers/browser.ts';
import { firstAdminPassword, makeUser, startNode, type RunningNode } from '../helpers/cps-node.ts';
import { destroyLeftoverGuest, systemDomains } from '../helpers/guests.ts';

// The path a user takes: sign in → the portal form → a running VM → its screen in the browser → stop.
const base = 18500;
let node: RunningNode;
let browser: Browser;
let taskId: string | undefined;
let user: { name: string; password: string; token: string };


beforeAll(async () => {
  node = await startNode(base);
  // The first admin's password is printed by the first `cps up` of this data dir only; a user
  // made in the registry signs in on any run.
  user = await makeUser(process.env.CPS_DATA_DIR ?? '/var/lib/cps');
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  if (taskId) destroyLeftoverGuest(taskId);
  const code = await node?.stop();
  if (code !== 0 && node) console.log(node.output().slice(-4000));
});

describe('portal to a VM screen', () => {
  it('submits the form, reaches running without reloading, shows the guest screen, and stops', async () => {
    const page = await browser.newPage();
    await page.goto(node.portal);
    if (firstAdminPassword(node.output())) console.log('this run made the first admin (its password was printed by cps up)');
    await page.fill('form#sign-in input[name=name]', user.name);
    await page.fill('form#sign-in input[name=password]', user.password);
    await page.click('form#sign-in button[type=submit]');
    await page.locator('#task-form').waitFor({ state: 'visible', timeout: 30_000 });
    expect(await page.locator('#user-name').textContent()).toBe(user.name);
    const name = `e2e </b> "quoted" & <i>`;
    await page.fill('#task-form input[name=name]', name);
    await page.fill('#task-form input[name=memoryMiB]', '128');
    await page.click('#task-form button[type=submit]');

    const row = page.locator('tr[data-task-id]', { hasText: 'e2e </b>' }).first();
    await row.waitFor({ timeout: 30_000 });
    const id = (await row.getAttribute('data-task-id'))!;
    taskId = id;
    expect(id).toMatch(/^t-/);
    // The user's name is shown as text, never interpreted as markup.
    expect(await row.textContent()).toContain(name);
    await expect.poll(() => row.locator('.state').textContent(), { timeout: 120_000, interval: 500 }).toContain('running');
    expect(systemDomains()).toContain(`cps-${id}`);

    const [consolePage] = await Promise.all([page.context().waitForEvent('page'), row.locator('.console').click()]);
    await consolePage.waitForLoadState();
    await expect
      .poll(() => consolePage.locator('#status').getAttribute('data-state'), { timeout: 30_000, interval: 500 })
      .toBe('connected');
    // The guest's text console must be on the canvas: count pixels that are not background.
    const lit = async () =>
      consolePage.evaluate(() => {
        const canvas = document.querySelector('canvas');
        if (!canvas || canvas.width === 0) return 0;
        const ctx = canvas.getContext('2d');
        if (!ctx) return 0;
        const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
        let n = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i]! + data[i + 1]! + data[i + 2]! > 150) n++;
        return n;
      });
    await expect.poll(lit, { timeout: 60_000, interval: 1000 }).toBeGreaterThan(200);

    // Lit pixels could still be the BIOS: prove the screen is the guest's live shell by typing a
    // command into the console page and finding its effect on the guest's serial log.
    const api = coordinatorClient({ baseUrl: node.portal, headers: { authorization: `Bearer ${user.token}` } });
    const serial = async () => (await api.GET('/api/tasks/{taskId}/serial', { params: { path: { taskId: id } }, parseAs: 'text' })).data ?? '';
    await expect.poll(serial, { timeout: 60_000, interval: 1000 }).toContain('cps-guest: up');
    const marker = `typed-${Math.random().toString(16).slice(2, 10)}`;
    await expect
      .poll(
        async () => {
          await consolePage.locator('#screen canvas').click();
          // As a person types: '>' is Shift+Period (QEMU maps key codes, not characters).
          // /dev/console is the guest's last console=, ttyS0, so the echo lands in the serial log.
          await consolePage.keyboard.type(`echo ${marker} `, { delay: 20 });
          await consolePage.keyboard.press('Shift+Period');
          await consolePage.keyboard.type(' /dev/console', { delay: 20 });
          await consolePage.keyboard.press('Enter');
          await new Promise((r) => setTimeout(r, 1500));
          return serial();
        },
        { timeout: 60_000, interval: 500 },
      )
      .toContain(marker);
    await consolePage.screenshot({ path: '/tmp/cps-e2e-console.png' });
    await consolePage.close();

    await row.locator('.stop').click();
    await expect.poll(() => row.locator('.state').textContent(), { timeout: 60_000, interval: 500 }).toContain('stopped');
    expect(systemDomains()).not.toContain(`cps-${id}`);
  });
});
