// The CPS console page: noVNC's RFB over the gateway's WebSocket to the guest's VNC server.
// The status element says `connecting`, `connected` or `disconnected: <reason>`.
import RFB from '/novnc/core/rfb.js';

const taskId = document.body.dataset.taskId;
const statusEl = document.getElementById('status');
const screenEl = document.getElementById('screen');

function show(state, text) {
  statusEl.dataset.state = state;
  statusEl.textContent = text;
  document.title = `${taskId} · ${state} · CPS console`;
}

const socketPath = `/console/${encodeURIComponent(taskId)}/websockify`;
const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';

// noVNC takes a ready WebSocket as well as a URL; opening it here lets the page read the close
// code and reason, which noVNC's own disconnect event leaves out.
const ws = new WebSocket(`${scheme}//${location.host}${socketPath}`);
let opened = false;
let closed;
let failure; // set by noVNC's security events, which come before its disconnect event
ws.addEventListener('open', () => { opened = true; });
ws.addEventListener('close', (e) => { closed = e; });

// A refused upgrade reaches a browser as a bare close (1006); a plain GET of the same URL runs
// the same checks and says in problem+json why.
async function whyRefused() {
  try {
    const r = await fetch(socketPath, { headers: { accept: 'application/problem+json' } });
    const p = await r.json();
    if (r.status !== 400 && p && typeof p.detail === 'string') return p.detail;
  } catch { /* fall through */ }
  return 'the gateway refused the connection';
}

async function reasonFor(detail) {
  if (failure) return failure;
  if (!opened) return whyRefused();
  if (closed && closed.reason) return closed.reason;
  return detail.clean ? 'closed' : 'the connection was lost';
}

show('connecting', 'connecting');
const rfb = new RFB(screenEl, ws, { shared: true });
rfb.scaleViewport = true;
rfb.resizeSession = false;
rfb.background = '#111';

rfb.addEventListener('connect', () => {
  show('connected', 'connected');
  const canvas = screenEl.querySelector('canvas');
  if (canvas) canvas.id = 'console-canvas';
  rfb.focus();
});
rfb.addEventListener('disconnect', async (e) => {
  show('disconnected', `disconnected: ${await reasonFor(e.detail)}`);
});
rfb.addEventListener('securityfailure', (e) => {
  failure = `security negotiation failed${e.detail.reason ? `: ${e.detail.reason}` : ''}`;
});
rfb.addEventListener('credentialsrequired', () => {
  failure = "the guest's VNC server asks for a password";
  rfb.disconnect();
});
rfb.addEventListener('desktopname', (e) => {
  document.querySelector('header .task').textContent = `${taskId} · ${e.detail.name}`;
});

// For tests and for poking around in the browser's console.
window.cpsConsole = { rfb, taskId, get canvas() { return screenEl.querySelector('canvas'); } };
