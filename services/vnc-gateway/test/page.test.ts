import { provisionerClient, viaApp } from '@cps/openapi';
import { describe, expect, it } from 'vitest';
import { createApp } from '../src/app.ts';
import { escapeHtml, renderConsolePage } from '../src/page.ts';
import { fakeProvisioner, memoryLogger, vm, testTicketKey } from './fakes.ts';

const vms = new Map([
  ['t-0a1b2c3d', vm('t-0a1b2c3d', { host: '127.0.0.1', port: 5900 })],
  ['t-off', vm('t-off', { host: '127.0.0.1', port: 5901 }, 'shutoff')],
]);
const gateway = createApp({ ticketKey: testTicketKey, provisioner: provisionerClient(viaApp(fakeProvisioner(vms))), log: memoryLogger().log });
// The gateway answers only to its own names: a browser sends the Host it used.
const app = { request: (path: string) => gateway.request(path, { headers: { host: 'localhost:8084' } }) };

describe('GET /console/{taskId}', () => {
  it('serves the noVNC page of a guest on this peer', async () => {
    const res = await app.request('/console/t-0a1b2c3d');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    const html = await res.text();
    expect(html).toContain('data-task-id="t-0a1b2c3d"');
    expect(html).toContain('id="status"');
    expect(html).toContain('src="/console-assets/console.js"');
  });

  it('has the controls: scale, Ctrl-Alt-Del, full screen, clipboard, reconnect; the script asks the portal for a ticket', async () => {
    const html = await (await app.request('/console/t-0a1b2c3d')).text();
    for (const id of ['scale', 'ctrl-alt-del', 'fullscreen', 'clipboard', 'clipboard-send', 'reconnect']) expect(html).toContain(`id="${id}"`);
    const ticketJs = await app.request('/console-assets/ticket.js');
    expect(ticketJs.status).toBe(200);
    const code = await ticketJs.text();
    expect(code).toContain('/console-ticket');
    expect(code).toContain("credentials: 'same-origin'");
    const consoleJs = await (await app.request('/console-assets/console.js')).text();
    for (const call of ['sendCtrlAltDel()', 'clipboardPasteFrom(', 'requestFullscreen()', 'scaleViewport', "getTicket(taskId, 'vnc')"]) expect(consoleJs).toContain(call);
  });

  it('says 404 for a task with no guest here, and 409 for a guest that is off', async () => {
    const res = await app.request('/console/t-nope');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect(await res.json()).toMatchObject({ type: 'urn:cps:problem:not-found', detail: expect.stringContaining('t-nope') });
    const off = await app.request('/console/t-off');
    expect(off.status).toBe(409);
    expect((await off.json()).detail).toContain('shutoff');
  });

  const hostile = [
    '%3Cscript%3Ealert(1)%3C%2Fscript%3E',
    '%22%3E%3Cimg%20src%3Dx%3E',
    'T-UPPER',
    '-leading-dash',
    'a'.repeat(64),
    'dot.ted',
    'a%00b',
    'a%0Ab',
    '%E2%80%AEevil',
    '..',
    '%2e%2e',
    'a%2Fb',
  ];
  it.each(hostile)('refuses the task id %s with problem+json, never a page', async (id) => {
    const res = await app.request(`/console/${id}`);
    expect([400, 404]).toContain(res.status);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    const body = await res.json();
    expect(body.type).toMatch(/^urn:cps:problem:/);
    // The id may be echoed in `instance`, but only ever as JSON text, never as a page.
    expect(body.status).toBe(res.status);
  });
  it('checks the id against the contract pattern (400 validation-failed)', async () => {
    const res = await app.request('/console/T-UPPER');
    expect(res.status).toBe(400);
    expect((await res.json()).type).toBe('urn:cps:problem:validation-failed');
  });

  it('escapes everything it inserts', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&#60;a href=&#34;x&#34; title=&#39;y&#39;&#62;&#38;&#60;/a&#62;');
    const html = renderConsolePage(`"><script>alert(1)</script>`);
    expect(html).not.toContain('<script>alert');
    expect(html).toContain('data-task-id="&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;"');
  });

  it('serves the page script and style from a fixed list', async () => {
    const js = await app.request('/console-assets/console.js');
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(await js.text()).toContain("from '/novnc/core/rfb.js'");
    expect((await app.request('/console-assets/console.css')).headers.get('content-type')).toMatch(/^text\/css/);
    expect((await app.request('/console-assets/page.ts')).status).toBe(404);
    expect((await app.request('/console-assets/..%2Fpage.ts')).status).toBe(404);
  });

  it('answers health with the count of open sessions', async () => {
    const res = await app.request('/healthz');
    expect(await res.json()).toEqual({ status: 'ok', service: 'vnc-gateway', sessions: 0, serialSockets: 0 });
  });
});
