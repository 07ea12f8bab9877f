import { readdirSync, readFileSync } from 'node:fs';
import { Hono } from 'hono';
import { ProblemError } from '@cps/common';

const here = new URL('./', import.meta.url);
const file = (name: string) => readFileSync(new URL(name, here), 'utf8');

// The page loads only its own scripts and stylesheet and talks only to this origin.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** The contract's pattern for a module's name (getPortalModule): no path, only `name.js`. */
const moduleName = /^[a-z-]{1,32}\.js$/;

/** The portal: a static page, its entry module, its modules (one concern each) and its stylesheet; no build step. */
export function portalRoutes() {
  const assets = {
    html: file('index.html'),
    js: file('portal.js'),
    css: file('portal.css'),
  };
  // Read once at start: the folder is part of the code, and no request names a file on disk.
  const modules = new Map(
    readdirSync(new URL('modules/', here))
      .filter((n) => moduleName.test(n))
      .map((n) => [n, file(`modules/${n}`)] as const),
  );
  const headers = (type: string) => ({
    'content-type': type,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  const app = new Hono();
  app.get('/', (c) => c.body(assets.html, 200, { ...headers('text/html; charset=utf-8'), 'content-security-policy': csp }));
  app.get('/portal/portal.js', (c) => c.body(assets.js, 200, headers('text/javascript; charset=utf-8')));
  app.get('/portal/portal.css', (c) => c.body(assets.css, 200, headers('text/css; charset=utf-8')));
  app.get('/portal/modules/:module', (c) => {
    const name = c.req.param('module');
    const js = modules.get(name);
    if (js === undefined) throw new ProblemError('not-found', `the portal has no module ${JSON.stringify(name.slice(0, 64))}`);
    return c.body(js, 200, headers('text/javascript; charset=utf-8'));
  });
  return app;
}
