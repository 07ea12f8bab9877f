import { readFileSync } from 'node:fs';
import { Hono } from 'hono';

const file = (name: string) => readFileSync(new URL(`./${name}`, import.meta.url), 'utf8');

// The page loads only its own script and stylesheet and talks only to this origin.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/** The portal: a static page, its module and its stylesheet; no build step. */
export function portalRoutes() {
  const assets = {
    html: file('index.html'),
    js: file('portal.js'),
    css: file('portal.css'),
  };
  const headers = (type: string) => ({
    'content-type': type,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
  });
  const app = new Hono();
  app.get('/', (c) => c.body(assets.html, 200, { ...headers('text/html; charset=utf-8'), 'content-security-policy': csp }));
  app.get('/portal/portal.js', (c) => c.body(assets.js, 200, headers('text/javascript; charset=utf-8')));
  app.get('/portal/portal.css', (c) => c.body(assets.css, 200, headers('text/css; charset=utf-8')));
  return app;
}
