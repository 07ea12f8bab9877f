import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Hono } from 'hono';
import { ProblemError } from '@cps/common';
import { specFiles } from '@cps/openapi';

const own = (name: string) => readFileSync(new URL(`./docs/${name}`, import.meta.url), 'utf8');
const swaggerDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'));
// The source maps are not shipped here: a reference to a file we do not serve would only 404.
const swagger = (name: string) => readFileSync(join(swaggerDir, name), 'utf8').replace(/\/[/*]# sourceMappingURL=\S+?(\*\/)?$/gm, '');

// Nothing but this origin: no CDN, no outside validator. Swagger UI sets style attributes itself.
const csp = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const contracts: Record<string, string> = {
  'coordinator.yaml': specFiles.coordinator,
  'discovery.yaml': specFiles.discovery,
  'provisioner.yaml': specFiles.provisioner,
  'storage.yaml': specFiles.storage,
  'vnc-gateway.yaml': specFiles.vncGateway,
};

/** The API reference: Swagger UI (from node_modules) over the contracts, which are served as written. */
export function docsRoutes() {
  const assets: Record<string, { body: string; type: string }> = {
    'swagger-ui.css': { body: swagger('swagger-ui.css'), type: 'text/css; charset=utf-8' },
    'swagger-ui-bundle.js': { body: swagger('swagger-ui-bundle.js'), type: 'text/javascript; charset=utf-8' },
    'docs.js': { body: own('docs.js'), type: 'text/javascript; charset=utf-8' },
    'docs.css': { body: own('docs.css'), type: 'text/css; charset=utf-8' },
  };
  const html = own('index.html');
  const yaml = Object.fromEntries(Object.entries(contracts).map(([name, path]) => [name, readFileSync(path, 'utf8')]));
  const headers = (type: string) => ({ 'content-type': type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
  const app = new Hono();
  app.get('/docs', (c) => c.body(html, 200, { ...headers('text/html; charset=utf-8'), 'content-security-policy': csp }));
  app.get('/docs/:asset', (c) => {
    const a = assets[c.req.param('asset')];
    if (!a) throw new ProblemError('not-found', `no asset ${c.req.param('asset').slice(0, 100)} (the reference has ${Object.keys(assets).join(', ')})`);
    return c.body(a.body, 200, headers(a.type));
  });
  app.get('/openapi/:file', (c) => {
    const body = yaml[c.req.param('file')];
    if (body === undefined) throw new ProblemError('not-found', `no contract ${c.req.param('file').slice(0, 100)} (there are ${Object.keys(yaml).join(', ')})`);
    return c.body(body, 200, headers('application/yaml; charset=utf-8'));
  });
  return app;
}
