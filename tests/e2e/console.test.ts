import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { coordinatorClient } from '@cps/openapi';
import { launchChromium } from '../helpers/browser.ts';
import { makeUser, startNode, type RunningNode } from '../helpers/cps-node.ts';
import { destroyLeftoverGuest } from '../helpers/guests.ts';

// Consoles as a user meets them (issue 10), on a whole node made by `cps up`: signed in on the
// portal, the task's desktop and serial console open on the portal's own origin with tickets the
// pages get themselves; the guest's screen shows, typed keys reach it, `echo hello-cps` comes back
// in the terminal; at the per-task cap the page says so; a socket without a ticket is refused.
const base = 18700;
let node: RunningNode;
let browser: Browser;
let context: BrowserContext;
let taskId: string | undefined;
let user: { name: string; password: string; token: string };

beforeAll(async () => {
  // One desktop console per task, so the cap is reached by a second tab.
  node = await startNode(base, { CPS_CONSOLE_MAX_PER_TASK: '1' });
  user = await makeUser(process.env.CPS_DATA_DIR ?? '/var/lib/cps');
  browser = await launchChromium();
  context = await browser.newContext({ viewport: { width: 1024, height: 760 } });
});

afterAll(async () => {
  await browser?.close();
  if (taskId) destroyLeftoverGuest(taskId);
  const code = await node?.stop();
  if (code !== 0 && node) console.log(node.output().slice(-4000));
});

/** Console errors and page errors of a page, to find noVNC's "requires a secure context" among them. */
function watch(page: Page): string[] {
  const problems: string[] = [];
  page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
  page.on('pageerror', (e) => problems.push(e.message));
  return problems;
}

describe('consoles on the portal origin', () => {
  it('signs in, opens the desktop and the serial console of a running task, and meets the cap with a message', async () => {
    const api = coordinatorClient({ baseUrl: node.portal, headers: { authorization: `Bearer ${user.token}` } });
    const portalPage = await context.newPage();
    await portalPage.goto(node.portal);
    await portalPage.fill('form#sign-in input[name=name]', user.name);
    await portalPage.fill('form#sign-in input[name=password]', user.password);
    await portalPage.click('form#sign-in button[type=submit]');
    await portalPage.locator('#task-form').waitFor({ state: 'visible', timeout: 30_000 });

    const made = await api.POST('/api/tasks', { body: { name: 'console e2e', vcpus: 1, memoryMiB: 128, diskMiB: 64, image: 'tiny' } });
    expect(made.response.status).toBe(202);
    const id = made.data!.id;
    taskId = id;
    await expect.poll(async () => (await api.GET('/api/tasks/{taskId}', { params: { path: { taskId: id } } })).data?.state, { timeout: 120_000, interval: 500 }).toBe('running');
    const task = (await api.GET('/api/tasks/{taskId}', { params: { path: { taskId: id } } })).data!;
    // The console is the portal's own, never a host's address.
    expect(task.console?.vncUrl).toBe(`/console/${id}`);

    // The desktop, from the portal's row (the link opens a new tab on the portal's origin).
    const row = portalPage.locator(`tr[data-task-id="${id}"]`);
    await row.waitFor({ timeout: 30_000 });
    await expect.poll(() => row.locator('.state').textContent(), { timeout: 30_000 }).toContain('running');
    const [desk] = await Promise.all([context.waitForEvent('page'), row.locator('.console').click()]);
    const deskProblems = watch(desk);
    await desk.waitForLoadState();
    expect(new URL(desk.url()).origin).toBe(new URL(node.portal).origin);
    await expect.poll(() => desk.locator('#status').getAttribute('data-state'), { timeout: 30_000, interval: 500 }).toBe('connected');
    const lit = () =>
      desk.evaluate(() => {
        const canvas = document.querySelector('canvas');
        const ctx = canvas?.getContext('2d');
        if (!canvas || !ctx || canvas.width === 0) return 0;
        const { data } = ctx.getImageData(0, 0, canvas.width, canvas.height);
        let n = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i]! + data[i + 1]! + data[i + 2]! > 150) n++;
        return n;
      });
    await expect.poll(lit, { timeout: 60_000, interval: 1000 }).toBeGreaterThan(200);
    expect(await desk.evaluate(() => window.isSecureContext)).toBe(true);

    // Typed keys reach the guest: a command typed on the screen lands in the guest's serial log.
    const serialLog = async () => (await api.GET('/api/tasks/{taskId}/serial', { params: { path: { taskId: id } }, parseAs: 'text' })).data ?? '';
    await expect.poll(serialLog, { timeout: 60_000, interval: 1000 }).toContain('cps-guest: up');
    const marker = `typed-${Math.random().toString(16).slice(2, 10)}`;
    await expect
      .poll(
        async () => {
          await desk.locator('#screen canvas').click();
          await desk.keyboard.type(`echo ${marker} `, { delay: 20 });
          await desk.keyboard.press('Shift+Period');
          await desk.keyboard.type(' /dev/console', { delay: 20 });
          await desk.keyboard.press('Enter');
          await new Promise((r) => setTimeout(r, 1500));
          return serialLog();
        },
        { timeout: 60_000, interval: 500 },
      )
      .toContain(marker);
    await desk.screenshot({ path: '/tmp/cps-e2e-console-portal.png' });

    // A second desktop of the same task is one past CPS_CONSOLE_MAX_PER_TASK=1: the page says so.
    const second = await context.newPage();
    await second.goto(`${node.portal}/console/${id}`);
    await expect.poll(() => second.locator('#status').textContent(), { timeout: 30_000, interval: 500 }).toMatch(/^disconnected: .*already has 1 consoles/);
    await second.close();

    // The serial console beside it (counted apart from the desktop): read and write.
    const term = await context.newPage();
    const termProblems = watch(term);
    await term.goto(`${node.portal}/serial/${id}`);
    await expect.poll(() => term.locator('#status').getAttribute('data-state'), { timeout: 30_000, interval: 500 }).toBe('connected');
    const text = () => term.evaluate(() => (window as unknown as { cpsSerial: { text(): string } }).cpsSerial.text());
    await expect
      .poll(
        async () => {
          await term.locator('#terminal').click();
          await term.keyboard.press('Enter');
          await term.keyboard.type('echo hello-cps', { delay: 20 });
          await term.keyboard.press('Enter');
          await new Promise((r) => setTimeout(r, 1000));
          return (await text()).split('\n').some((l) => l.trim() === 'hello-cps');
        },
        { timeout: 60_000, interval: 500 },
      )
      .toBe(true);
    await term.screenshot({ path: '/tmp/cps-e2e-serial-portal.png' });

    // No page warned of an insecure context (noVNC logs it as an error), nor failed otherwise.
    for (const problems of [deskProblems, termProblems]) expect(problems.filter((p) => /secure context/i.test(p))).toEqual([]);
    expect(await desk.content()).not.toMatch(/secure context/i);
    expect(deskProblems).toEqual([]);

    // From outside the page: a socket without a ticket is refused at once, with the reason.
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`ws://localhost:${base}/console/${id}/websockify`, { origin: node.portal });
      ws.once('open', () => reject(new Error('opened without a ticket')));
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('error', () => {});
    });
    expect(status).toBe(403);
    await desk.close();
    await term.close();

    await api.DELETE('/api/tasks/{taskId}', { params: { path: { taskId: id } } });
    await expect.poll(async () => (await api.GET('/api/tasks/{taskId}', { params: { path: { taskId: id } } })).data?.state, { timeout: 60_000, interval: 500 }).toBe('stopped');
  });
});
