import { readFileSync } from 'node:fs';

/** HTML-escapes text for element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`);
}

/**
 * The console page. The task id reaches the script only through an escaped data attribute, never
 * through script text, so the page's script is a fixed file and the policy can forbid inline code.
 */
export function renderConsolePage(taskId: string): string {
  const id = escapeHtml(taskId);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${id} · CPS console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console-assets/console.css">
<script type="module" src="/console-assets/console.js"></script>
</head>
<body data-task-id="${id}">
<header>
  <span class="task">${id}</span>
  <a href="/serial/${id}">serial</a>
  <label><input type="checkbox" id="scale" checked> scale</label>
  <button id="ctrl-alt-del" type="button" title="send Ctrl-Alt-Del to the guest">Ctrl-Alt-Del</button>
  <button id="fullscreen" type="button">full screen</button>
  <details id="clipboard-box"><summary>clipboard</summary><div class="clip">
    <textarea id="clipboard" rows="3" cols="40" aria-label="clipboard: the guest's copies appear here; send puts this text on the guest's clipboard"></textarea>
    <button id="clipboard-send" type="button">send to guest</button>
  </div></details>
  <button id="reconnect" type="button" hidden>reconnect</button>
  <span id="status" data-state="connecting" role="status" aria-live="polite">connecting</span>
</header>
<main id="screen"></main>
</body>
</html>
`;
}

/**
 * The serial terminal page: xterm.js from /xterm/, its script and style fixed files like the
 * console page's, the task id only in an escaped attribute.
 */
export function renderSerialPage(taskId: string): string {
  const id = escapeHtml(taskId);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${id} · CPS serial console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/xterm/css/xterm.css">
<link rel="stylesheet" href="/console-assets/console.css">
<script type="module" src="/console-assets/serial.js"></script>
</head>
<body data-task-id="${id}">
<header>
  <span class="task">${id} · serial</span>
  <a href="/console/${id}">desktop</a>
  <button id="reconnect" type="button" hidden>reconnect</button>
  <span id="status" data-state="connecting" role="status" aria-live="polite">connecting</span>
</header>
<main id="terminal"></main>
</body>
</html>
`;
}

/** Headers for the page: it may load only this gateway's own scripts and talk only to it. */
export const pageHeaders = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
};

/** The serial page's: xterm.js writes its own <style> elements (theme, cell sizes), so inline styles are allowed there; scripts are not. */
export const serialPageHeaders = {
  ...pageHeaders,
  'content-security-policy': pageHeaders['content-security-policy'].replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
};

const clientDir = new URL('./client/', import.meta.url);

/** The page's own script and style: a fixed list, read once, so no request path reaches the disk. */
export const pageAssets: ReadonlyMap<string, { body: string; type: string }> = new Map([
  ['console.js', { body: readFileSync(new URL('console.js', clientDir), 'utf8'), type: 'text/javascript; charset=utf-8' }],
  ['console.css', { body: readFileSync(new URL('console.css', clientDir), 'utf8'), type: 'text/css; charset=utf-8' }],
  ['serial.js', { body: readFileSync(new URL('serial.js', clientDir), 'utf8'), type: 'text/javascript; charset=utf-8' }],
  ['ticket.js', { body: readFileSync(new URL('ticket.js', clientDir), 'utf8'), type: 'text/javascript; charset=utf-8' }],
]);
