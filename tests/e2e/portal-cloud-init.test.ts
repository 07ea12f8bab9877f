import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildImage, debian12Server } from '@cps/storage/image-build.ts';
import { StorageLayout } from '@cps/storage/paths.ts';
import { runTool } from '@cps/storage/tool.ts';
import { launchChromium } from '../helpers/browser.ts';
import { makeUser, startNode, type RunningNode } from '../helpers/cps-node.ts';
import { destroyLeftoverGuest } from '../helpers/guests.ts';

// A user submits a real Debian (debian-12-server, built on this machine from Debian's packages, or
// found built with the same inputs) from the portal with cloud-init user-data typed into the form;
// the serial panel shows what the user-data's runcmd printed: cloud-init applied it in the guest.
const base = 18580;
const dataDir = path.resolve(process.env.CPS_DATA_DIR ?? '/var/lib/cps');
let node: RunningNode;
let browser: Browser;
let page: Page;
const started: string[] = [];

beforeAll(async () => {
  const lines: string[] = [];
  const built = await buildImage(debian12Server, { run: runTool, layout: new StorageLayout(dataDir), now: () => new Date(), progress: (l) => lines.push(l) });
  console.info(`debian-12-server ${built.cached ? 'found built' : 'built'} (${built.inputHash})`);
  node = await startNode(base);
  const user = await makeUser(dataDir);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on('dialog', (d) => void d.accept());
  await page.goto(node.portal);
  await page.fill('form#sign-in input[name=name]', user.name);
  await page.fill('form#sign-in input[name=password]', user.password);
  await page.click('form#sign-in button[type=submit]');
  await page.locator('#task-form').waitFor({ state: 'visible', timeout: 30_000 });
}, 20 * 60_000);

afterAll(async () => {
  await browser?.close();
  for (const id of started) destroyLeftoverGuest(id);
  const code = await node?.stop();
  if (code !== 0 && node) console.log(node.output().slice(-4000));
});

const row = (name: string) => page.locator('tr[data-task-id]', { hasText: name }).first();
const stateOf = (name: string) => row(name).locator('td.state').textContent();

describe('cloud-init from the portal', () => {
  it("applies the user-data typed into the form in a real Debian guest: its runcmd's line shows in the serial panel", async () => {
    const marker = `cps-cloud-init-${Math.random().toString(16).slice(2, 10)}`;
    // The image list offers the built image (the select is filled from GET /api/images).
    await expect.poll(() => page.locator('#task-form select[name=image] option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value)), { timeout: 30_000 }).toContain(debian12Server.id);
    await page.selectOption('#task-form select[name=image]', debian12Server.id);
    await page.fill('#task-form input[name=name]', 'with-user-data');
    await page.fill('#task-form input[name=memoryMiB]', '512');
    await page.fill('#task-form input[name=diskMiB]', '2048');
    await page.fill('#task-form textarea[name=userData]', `#cloud-config\nruncmd:\n  - [sh, -c, "echo ${marker} from $(hostname) > /dev/ttyS0"]\n`);
    await page.click('#task-form button[type=submit]');
    await Promise.race([row('with-user-data').waitFor({ timeout: 60_000 }), page.locator('#form-problem').waitFor({ state: 'visible', timeout: 60_000 })]);
    expect(await page.locator('#form-problem').isHidden(), (await page.locator('#form-problem').textContent()) ?? '').toBe(true);
    started.push((await row('with-user-data').getAttribute('data-task-id'))!);
    await expect.poll(() => stateOf('with-user-data'), { timeout: 180_000, interval: 1000 }).toMatch(/^(running|failed)$/);
    expect(await stateOf('with-user-data'), (await row('with-user-data').textContent()) ?? '').toBe('running');

    await row('with-user-data').locator('button.serial').click();
    const serial = page.locator('#task-panel pre.serial');
    await serial.waitFor({ timeout: 10_000 });
    // runcmd runs in cloud-final, late in a TCG boot (about a minute here).
    await expect
      .poll(() => serial.textContent(), { timeout: 300_000, interval: 2000 })
      .toContain(marker)
      .catch(async (err) => {
        // What the guest printed says where it stopped (the kernel, cloud-init's stages).
        console.log(`serial panel:\n${((await serial.textContent()) ?? '').slice(-6000)}`);
        throw err;
      });

    await row('with-user-data').locator('button.stop').click();
    await expect.poll(() => stateOf('with-user-data'), { timeout: 120_000, interval: 500 }).toBe('stopped');
  }, 900_000);
});
