import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, serveApp, type Served } from '@cps/common';
import { fakeCluster, fakeNode } from './fakes.ts';

let served: Served;
let base: string;
beforeAll(async () => {
  served = await serveApp(fakeCluster([fakeNode('node-a', '127.0.0.1')]).app, { port: 0, hostname: '127.0.0.1', log: createLogger('coordinator-test', 'silent') });
  base = `http://127.0.0.1:${served.port}`;
});
afterAll(() => served.close());

describe('portal', () => {
  it('serves the page with the form, the task table and its module', async () => {
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    expect(html).toContain('<form id="task-form"');
    for (const field of ['name', 'vcpus', 'memoryMiB', 'diskMiB']) expect(html).toMatch(new RegExp(`<input name="${field}"`));
    expect(html).toContain('<select name="image">');
    expect(html).toContain('<button type="submit">');
    expect(html).toContain('<tbody id="task-rows">');
    expect(html).toContain('<script type="module" src="/portal/portal.js">');
  });

  it('serves the module as JavaScript and the stylesheet as CSS', async () => {
    const js = await fetch(`${base}/portal/portal.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(js.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await js.text()).toContain("from '/portal/modules/tasks.js'");
    const css = await fetch(`${base}/portal/portal.css`);
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
  });

  it('serves every module the entry imports, as JavaScript', async () => {
    const entry = await (await fetch(`${base}/portal/portal.js`)).text();
    const imported = [...entry.matchAll(/from '(\/portal\/modules\/[a-z-]+\.js)'/g)].map((m) => m[1]!);
    expect(imported.length).toBeGreaterThanOrEqual(5);
    for (const path of imported) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/javascript/);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
    expect(await (await fetch(`${base}/portal/modules/tasks.js`)).text()).toContain("new EventSource('/api/events')");
  });

  it('answers not-found for any other module name, never a file from disk', async () => {
    for (const path of ['/portal/modules/nope.js', '/portal/modules/..%2Froutes.ts', '/portal/modules/%2e%2e%2f%2e%2e%2fapp.ts', '/portal/modules/dom.js%00', '/portal/modules/DOM.js', '/portal/modules/../routes.ts']) {
      const res = await fetch(`${base}${path}`);
      expect(res.status, path).toBe(404);
      expect(res.headers.get('content-type'), path).toMatch(/^application\/problem\+json/);
      expect(await res.text(), path).not.toContain('import ');
    }
  });

  it('never turns data into markup', () => {
    const dir = new URL('../src/portal/modules/', import.meta.url);
    const sources = ['../src/portal/portal.js', ...readdirSync(dir).map((n) => `../src/portal/modules/${n}`)];
    for (const f of sources) {
      const src = readFileSync(new URL(f, import.meta.url), 'utf8');
      expect(src, f).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/);
    }
  });
});
