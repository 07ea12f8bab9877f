// Console tickets for the CPS console pages: each connection asks the portal this page is on
// (same origin, the session cookie) for a fresh single-use ticket, valid 40 s.
const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';

/** A ticket `{ ticket, expiresAt, url }`; throws an Error with `final` (retrying will not help) and a message for the user. */
export async function getTicket(taskId, kind) {
  let r;
  try {
    r = await fetch(`/api/tasks/${encodeURIComponent(taskId)}/console-ticket`, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ kind }),
    });
  } catch {
    throw Object.assign(new Error('the portal could not be reached'), { final: false });
  }
  if (r.ok) return r.json();
  let detail = `the portal answered ${r.status}`;
  try {
    const p = await r.json();
    if (p && typeof p.detail === 'string') detail = p.detail;
  } catch { /* not problem+json */ }
  if (r.status === 401) detail = `not signed in: sign in on the portal (${location.origin}/), then open the console again`;
  throw Object.assign(new Error(detail), { final: r.status < 500 });
}

/** The WebSocket URL of a ticket (its `url` is relative to the portal). */
export const socketUrl = (t) => `${scheme}//${location.host}${t.url}`;

/**
 * Why an upgrade was refused: a browser sees a refused upgrade only as a bare close (1006), so the
 * page asks the same URL with a plain GET (and a fresh ticket), which runs the same checks and says
 * why in problem+json (429 at the console cap, 403 for a ticket, 404, 409, 502).
 */
export async function whyRefused(taskId, kind) {
  try {
    const t = await getTicket(taskId, kind);
    const r = await fetch(t.url, { headers: { accept: 'application/problem+json' } });
    const p = await r.json();
    if (r.status !== 400 && p && typeof p.detail === 'string') return { detail: p.detail, refused: r.status < 500, status: r.status };
  } catch (e) {
    if (e && e.final !== undefined) return { detail: e.message, refused: e.final };
  }
  return { detail: 'the gateway could not be reached', refused: false };
}
