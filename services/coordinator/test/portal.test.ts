import { readFileSync } from 'node:fs';
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
    expect(await js.text()).toContain("new EventSource('/api/events')");
    const css = await fetch(`${base}/portal/portal.css`);
    expect(css.headers.get('content-type')).toMatch(/^text\/css/);
  });

  it('never turns data into markup', () => {
    const src = readFileSync(new URL('../src/portal/portal.js', import.meta.url), 'utf8');
    expect(src).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
  });
});
