import { readFileSync } from 'node:fs';
import { publicRoutesOfFile } from '@cps/common';
import { specFiles } from '@cps/openapi';
import { describe, expect, it } from 'vitest';
import { fakeCluster } from './fakes.ts';

const { app } = fakeCluster([]);
const get = (path: string) => app.request(`http://localhost${path}`, { headers: { host: 'localhost' } });

/** Every URL an HTML page or a style sheet refers to (src, href, url()). */
const referencesOf = (text: string) => [...text.matchAll(/(?:src|href)="([^"]+)"|url\(["']?([^"')]+)["']?\)/g)].map((m) => (m[1] ?? m[2])!);

describe('/docs, the API reference', () => {
  it('is an HTML page that loads only files of this origin, each of which is served', async () => {
    const res = await get('/docs');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const csp = res.headers.get('content-security-policy')!;
    // The browser itself refuses anything from another host.
    for (const d of ["default-src 'none'", "script-src 'self'", "connect-src 'self'", "img-src 'self' data:"]) expect(csp).toContain(d);
    const html = await res.text();
    const refs = referencesOf(html);
    expect(refs).toEqual(expect.arrayContaining(['/docs/swagger-ui.css', '/docs/swagger-ui-bundle.js', '/docs/docs.js', '/docs?spec=coordinator']));
    for (const ref of refs) {
      if (ref.startsWith('data:')) continue; // the empty icon: no request at all
      expect(ref, ref).toMatch(/^\/(?!\/)/); // a path on this origin, never //host or https://host
      const asset = await get(ref);
      expect(asset.status, ref).toBe(200);
      if (ref.endsWith('.css')) {
        expect(asset.headers.get('content-type')).toMatch(/^text\/css/);
        for (const inner of referencesOf(await asset.text())) expect(inner, `${ref} refers to ${inner}`).toMatch(/^data:/);
      }
      if (ref.endsWith('.js')) {
        expect(asset.headers.get('content-type')).toMatch(/^text\/javascript/);
        expect(await asset.text()).not.toMatch(/sourceMappingURL/);
      }
    }
    const start = await (await get('/docs/docs.js')).text();
    expect(start).toContain('validatorUrl: null'); // Swagger UI would send the contract to an outside validator
    expect(start).not.toMatch(/https?:\/\//);
  });

  it('serves each contract as written, and the reference is public in the contract itself', async () => {
    for (const [file, path] of [['coordinator.yaml', specFiles.coordinator], ['provisioner.yaml', specFiles.provisioner], ['vnc-gateway.yaml', specFiles.vncGateway]] as const) {
      const res = await get(`/openapi/${file}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/yaml/);
      expect(await res.text()).toBe(readFileSync(path, 'utf8'));
    }
    const routes = publicRoutesOfFile(specFiles.coordinator);
    for (const path of ['/docs', '/docs/docs.js', '/openapi/coordinator.yaml']) expect(routes.match('GET', path)?.reason, path).toMatch(/API reference/);
    expect(routes.match('GET', '/api/orphans')?.reason).toMatch(/admins only/);
  });

  it.each(['/docs/package.json', '/docs/..%2f..%2fpackage.json', '/docs/swagger-ui-bundle.js.map', '/openapi/..%2fpackage.json', '/openapi/index.ts', '/openapi/gen'])('refuses %s with a problem', async (path) => {
    const res = await get(path);
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
  });
});
