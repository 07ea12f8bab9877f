import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser.ts';
import { makeUser, startNode, type RunningNode } from '../helpers/cps-node.ts';
import { destroyLeftoverGuest, systemDomains } from '../helpers/guests.ts';

// What a user does in the portal of a real node (cps up, libvirt, QEMU): upload an ISO with the
// progress bar and boot it; submit the tiny guest with bootstrap files and see run.sh's output in
// the page's serial panel; suspend and resume it from the page; stop it, download the kept copy
// and check it with qemu-img; delete the record.
const base = 18540;
let node: RunningNode;
let browser: Browser;
let page: Page;
let user: { name: string; password: string; token: string };
const work = mkdtempSync(join(tmpdir(), 'cps-portal-upload-'));
const started: string[] = [];

beforeAll(async () => {
  node = await startNode(base);
  user = await makeUser(process.env.CPS_DATA_DIR ?? '/var/lib/cps');
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  page.on('dialog', (d) => void d.accept());
  await page.goto(node.portal);
  await page.fill('form#sign-in input[name=name]', user.name);
  await page.fill('form#sign-in input[name=password]', user.password);
  await page.click('form#sign-in button[type=submit]');
  await page.locator('#task-form').waitFor({ state: 'visible', timeout: 30_000 });
});

afterAll(async () => {
  await browser?.close();
  for (const id of started) destroyLeftoverGuest(id);
  const code = await node?.stop();
  if (code !== 0 && node) console.log(node.output().slice(-4000));
  rmSync(work, { recursive: true, force: true });
});

const row = (name: string) => page.locator('tr[data-task-id]', { hasText: name }).first();
const stateOf = (name: string) => row(name).locator('td.state').textContent();

async function submitted(name: string): Promise<string> {
  // Either the row appears or the form shows why the coordinator refused.
  await Promise.race([row(name).waitFor({ timeout: 60_000 }), page.locator('#form-problem').waitFor({ state: 'visible', timeout: 60_000 })]);
  expect(await page.locator('#form-problem').isHidden(), (await page.locator('#form-problem').textContent()) ?? '').toBe(true);
  const id = (await row(name).getAttribute('data-task-id'))!;
  started.push(id);
  return id;
}

describe('the portal on a real node', () => {
  it('uploads an ISO with a progress bar, offers it in the image list, and boots a task from it', async () => {
    const src = join(work, 'iso');
    mkdirSync(src);
    writeFileSync(join(src, 'README.TXT'), 'a tiny test ISO\n'.repeat(4000));
    // The same bytes every run (fixed dates): storage keeps an image by its digest and has no
    // delete, so each run finds the one before instead of adding another.
    const epoch = 1_764_547_200;
    utimesSync(join(src, 'README.TXT'), epoch, epoch);
    utimesSync(src, epoch, epoch);
    const iso = join(work, 'tiny-test.iso');
    execFileSync('xorriso', ['-as', 'mkisofs', '-quiet', '-V', 'CPSTEST', '-o', iso, src], { stdio: 'ignore', env: { ...process.env, SOURCE_DATE_EPOCH: String(epoch) } });
    const label = 'portal-test-iso';

    await page.setInputFiles('#upload-form input[name=imageFile]', iso);
    await page.fill('#upload-form input[name=imageName]', label);
    await page.click('#upload-form button[type=submit]');
    const status = page.locator('#upload-progress-text');
    await expect.poll(() => status.textContent(), { timeout: 60_000 }).toMatch(new RegExp(`^Uploaded ${label} \\(`));
    // The bar went all the way: XHR's upload progress reported every byte.
    const bar = await page.locator('#upload-progress').evaluate((p: HTMLProgressElement) => ({ value: p.value, max: p.max, hidden: p.hidden }));
    expect(bar.hidden).toBe(false);
    expect(bar.max).toBeGreaterThan(60_000);
    expect(bar.value).toBe(bar.max);
    // The new image is chosen in the form, marked as an ISO.
    const chosen = await page.locator('#task-form select[name=image]').evaluate((s: HTMLSelectElement) => s.selectedOptions[0]?.textContent ?? '');
    expect(chosen).toContain(label);
    // An ISO, held by this node (a task placed elsewhere would fetch it from here first).
    expect(chosen).toMatch(/ — ISO — on [A-Za-z0-9._-]+$/);

    await page.fill('#task-form input[name=name]', 'from-the-iso');
    await page.fill('#task-form input[name=memoryMiB]', '128');
    await page.click('#task-form button[type=submit]');
    const id = await submitted('from-the-iso');
    await expect.poll(() => stateOf('from-the-iso'), { timeout: 120_000, interval: 500 }).toMatch(/^(running|failed)$/);
    expect(await row('from-the-iso').locator('.error').count(), await row('from-the-iso').textContent() ?? '').toBe(0);
    expect(systemDomains()).toContain(`cps-${id}`);
    await row('from-the-iso').locator('button.stop').click();
    await expect.poll(() => stateOf('from-the-iso'), { timeout: 60_000, interval: 500 }).toBe('stopped');
  });

  it("submits the tiny guest with bootstrap files: run.sh's output shows in the serial panel; suspend, resume, stop, download, delete", async () => {
    const marker = `portal-run-sh-${Math.random().toString(16).slice(2, 10)}`;
    const runSh = join(work, 'run.sh');
    const data = join(work, 'greeting.txt');
    writeFileSync(runSh, '#!/bin/sh\necho "$(cat greeting.txt)"\n');
    writeFileSync(data, `${marker}\n`);

    await page.selectOption('#task-form select[name=image]', 'tiny');
    await page.fill('#task-form input[name=name]', 'with-bootstrap');
    await page.fill('#task-form input[name=memoryMiB]', '128');
    await page.setInputFiles('#task-form input[name=bootstrapFiles]', [runSh, data]);
    await page.check('#task-form input[name=keepCopy]');
    await page.click('#task-form button[type=submit]');
    const id = await submitted('with-bootstrap');
    expect(await page.locator('#bootstrap-progress-text').textContent()).toMatch(/^Uploaded 2 file\(s\)/);
    await expect.poll(() => stateOf('with-bootstrap'), { timeout: 120_000, interval: 500 }).toMatch(/^(running|failed)$/);
    expect(await stateOf('with-bootstrap'), (await row('with-bootstrap').textContent()) ?? '').toBe('running');

    await row('with-bootstrap').locator('button.serial').click();
    const serial = page.locator('#task-panel pre.serial');
    await serial.waitFor({ timeout: 10_000 });
    // The panel follows the log by itself (every 2 s): no reload, no clicking Refresh.
    await expect.poll(() => serial.textContent(), { timeout: 90_000, interval: 1000 }).toContain(marker);
    expect(await page.locator('#task-panel-title').textContent()).toBe('Serial output: with-bootstrap');
    // Beside the log, the interactive terminal on the portal's origin.
    expect(await page.locator('#task-panel a.terminal').getAttribute('href')).toBe(`/serial/${id}`);

    await row('with-bootstrap').locator('button.suspend').click();
    await expect.poll(() => stateOf('with-bootstrap'), { timeout: 30_000, interval: 300 }).toBe('suspended');
    expect(await row('with-bootstrap').locator('button.resume').isEnabled()).toBe(true);
    expect(await row('with-bootstrap').locator('button.checkpoint').isDisabled()).toBe(true);
    await row('with-bootstrap').locator('button.resume').click();
    await expect.poll(() => stateOf('with-bootstrap'), { timeout: 30_000, interval: 300 }).toBe('running');
    expect(await row('with-bootstrap').locator('.history li').evaluateAll((lis) => lis.map((li) => li.getAttribute('data-state')).slice(-3))).toEqual(['running', 'suspended', 'running']);

    await row('with-bootstrap').locator('button.stop').click();
    await expect.poll(() => stateOf('with-bootstrap'), { timeout: 90_000, interval: 500 }).toBe('stopped');
    expect(systemDomains()).not.toContain(`cps-${id}`);

    // The kept copy: the panel lists its files; the link downloads one, and qemu-img finds it sound.
    const download = row('with-bootstrap').locator('button.download');
    await expect.poll(() => download.isEnabled(), { timeout: 60_000 }).toBe(true);
    await download.click();
    const link = page.locator('#task-panel a[download]').first();
    await link.waitFor({ timeout: 60_000 });
    const [file] = await Promise.all([page.waitForEvent('download'), link.click()]);
    const saved = join(work, file.suggestedFilename());
    await file.saveAs(saved);
    expect(await file.failure()).toBeNull();
    execFileSync('qemu-img', ['check', saved], { stdio: 'pipe' });

    await row('with-bootstrap').locator('button.delete').click();
    await expect.poll(() => page.locator(`tr[data-task-id="${id}"]`).count(), { timeout: 10_000 }).toBe(0);
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('tasks-title');
  });
});
