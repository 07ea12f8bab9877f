import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serveApp } from '@cps/common';
import { provisionerClient, viaApp } from '@cps/openapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.ts';
import { assetPath, novncRoot, staticFiles } from '../src/static-files.ts';
import { fakeProvisioner, memoryLogger, testTicketKey } from './fakes.ts';
import { rawGet } from './http.ts';

const { log } = memoryLogger();
const app = createApp({ ticketKey: testTicketKey, provisioner: provisionerClient(viaApp(fakeProvisioner(new Map()))), log });

describe('the noVNC library under /novnc/', () => {
  it('serves core/rfb.js and its vendor imports as JavaScript', async () => {
    for (const path of ['/novnc/core/rfb.js', '/novnc/core/util/browser.js', '/novnc/vendor/pako/lib/zlib/inflate.js']) {
      const res = await app.request(path);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    }
    expect(await (await app.request('/novnc/core/rfb.js')).text()).toContain('export default class RFB');
  });

  it('says 404 for a missing file in an allowed folder', async () => {
    const res = await app.request('/novnc/core/nope.js');
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
  });
});

describe('assetPath', () => {
  const root = '/srv/novnc';
  const tops = new Set(['core', 'vendor']);
  it.each([
    ['core/rfb.js', '/srv/novnc/core/rfb.js'],
    ['vendor/pako/lib/zlib/inflate.js', '/srv/novnc/vendor/pako/lib/zlib/inflate.js'],
    ['core/util/%62rowser.js', '/srv/novnc/core/util/browser.js'],
  ])('allows %s', (raw, want) => expect(assetPath(root, raw, tops)).toBe(want));

  it.each([
    '../package.json',
    '../../package.json',
    'core/../../package.json',
    'core/../package.json',
    '%2e%2e/package.json',
    'core/%2e%2e/%2e%2e/etc/passwd',
    'core/%2E%2E/x.js',
    'core%2F..%2F..%2Fpackage.json',
    'core/..%2f..%2fpackage.json',
    'core/..%5c..%5cpackage.json',
    'core\\..\\..\\package.json',
    'core/rfb.js%00',
    'core/rfb.js%00.js',
    'core/rfb%00.js',
    'core/.hidden.js',
    'core//rfb.js',
    'core/./rfb.js',
    'core/',
    'core',
    '',
    '/etc/passwd',
    '%2Fetc%2Fpasswd',
    'docs/API.md',
    'package.json',
    'core/rfb.ts',
    'core/%E0%A4%A',
    'core/' + 'a/'.repeat(10) + 'x.js',
  ])('refuses %j', (raw) => expect(assetPath(root, raw, tops)).toBeUndefined());
});

describe('traversal over the wire', () => {
  let served: Awaited<ReturnType<typeof serveApp>>;
  beforeAll(async () => {
    served = await serveApp(app, { port: 0, hostname: '127.0.0.1', log });
  });
  afterAll(() => served.close());

  it.each([
    '/novnc/../../package.json',
    '/novnc/../package.json',
    '/novnc/core/../../package.json',
    '/novnc/%2e%2e/%2e%2e/package.json',
    '/novnc/core/%2e%2e/%2e%2e/package.json',
    '/novnc/core/%2e%2e%2f%2e%2e%2fpackage.json',
    '/novnc/core/..%2f..%2f..%2f..%2fpackage.json',
    '/novnc/core/rfb.js%00',
    '/novnc/core/rfb.js%00.png',
    '/novnc/core/%00/../../package.json',
    '/novnc/package.json',
    '/novnc/docs/API.md',
    '/novnc//etc/passwd',
    '/novnc/%2fetc%2fpasswd',
  ])('refuses %s', async (path) => {
    const res = await rawGet(served.port, path);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.body).not.toContain('"version"');
    expect(res.body).not.toContain('root:');
  });

  it('still serves the real file on the same server', async () => {
    const res = await rawGet(served.port, '/novnc/core/rfb.js');
    expect(res.status).toBe(200);
    expect(res.type).toMatch(/^text\/javascript/);
  });
});

describe('staticFiles', () => {
  it('refuses a symlink that leads out of the served folder', async () => {
    const root = mkdtempSync(join(tmpdir(), 'cps-vnc-static-'));
    mkdirSync(join(root, 'core'));
    writeFileSync(join(root, 'core', 'ok.js'), 'export {}');
    const outside = mkdtempSync(join(tmpdir(), 'cps-vnc-outside-'));
    writeFileSync(join(outside, 'secret.js'), 'secret');
    symlinkSync(join(outside, 'secret.js'), join(root, 'core', 'leak.js'));
    const serve = staticFiles(root, ['core']);
    expect(new TextDecoder().decode((await serve('core/ok.js')).body)).toBe('export {}');
    await expect(serve('core/leak.js')).rejects.toMatchObject({ problemType: 'path-not-allowed' });
    await expect(serve('core')).rejects.toMatchObject({ problemType: 'path-not-allowed' });
  });

  it('finds the installed noVNC package', () => {
    expect(novncRoot()).toMatch(/@novnc\/novnc$/);
  });
});
