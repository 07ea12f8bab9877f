import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { createLogger, serveApp, type Served } from '@cps/common';
import { launchChromium } from '../../../tests/helpers/browser.ts';
import { fakeCluster } from './fakes.ts';

// The API reference in a real Chromium: it renders the contract under its CSP, from this origin only.
let served: Served;
let browser: Browser;

beforeAll(async () => {
  served = await serveApp(fakeCluster([]).app, { port: 0, hostname: '127.0.0.1', log: createLogger('docs-test', 'silent') });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await served?.close();
});

describe('/docs in Chromium', () => {
  it.each([
    ['coordinator', '/docs', 'listOrphans', '/api/orphans'],
    ['provisioner', '/docs?spec=provisioner', 'createVm', '/vms/{taskId}'],
  ])('shows the %s contract, every request to this origin, no CSP violation', async (name, path, operationId, route) => {
    const page = await browser.newPage();
    const origin = `http://127.0.0.1:${served.port}`;
    const requests: string[] = [];
    const problems: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
    page.on('pageerror', (e) => problems.push(e.message));
    page.on('response', (r) => r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`));
    await page.goto(`${origin}${path}`);
    // Swagger UI renders one .opblock per operation, with its path.
    await page.locator('.opblock-summary-path', { hasText: route }).first().waitFor({ timeout: 30_000 });
    expect(await page.locator('.opblock').count()).toBeGreaterThan(3);
    expect(await page.locator('.info .title').first().textContent()).toContain(`CPS ${name}`);
    expect(requests.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('data:'))).toEqual([]);
    expect(problems).toEqual([]);
    await page.screenshot({ path: `/tmp/cps-docs-${operationId}.png` });
    await page.close();
  });
});
