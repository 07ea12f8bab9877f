// The CPS serial console page: xterm.js over the gateway's WebSocket to the guest's serial port.
// The status element says `connecting`, `connected` or `disconnected: <reason>`.
import { Terminal } from '/xterm/lib/xterm.mjs';
import { getTicket, socketUrl, whyRefused } from '/console-assets/ticket.js';

const taskId = document.body.dataset.taskId;
const statusEl = document.getElementById('status');
const reconnectEl = document.getElementById('reconnect');
const encoder = new TextEncoder();

// Closes the gateway means for good: idle (4000), too slow (1008), a refusal; others are retried.
const final = new Set([1000, 1003, 1008, 4000]);
const maxRetries = 5;

const term = new Terminal({ cols: 100, rows: 32, cursorBlink: true, scrollback: 5000, fontFamily: 'ui-monospace, monospace' });
term.open(document.getElementById('terminal'));

function show(state, text) {
  statusEl.dataset.state = state;
  statusEl.textContent = text;
  document.title = `${taskId} · serial · ${state} · CPS`;
  reconnectEl.hidden = state !== 'disconnected';
}

let ws;
let retries = 0;
let retryTimer;

async function connect() {
  clearTimeout(retryTimer);
  show('connecting', retries > 0 ? `connecting (attempt ${retries + 1})` : 'connecting');
  let opened = false;
  // Every connection its own ticket (single use, 40 s), from the portal this page is on.
  let ticket;
  try {
    ticket = await getTicket(taskId, 'serial');
  } catch (e) {
    if (e.final || retries >= maxRetries) return show('disconnected', `disconnected: ${e.message}`);
    retries++;
    show('connecting', `reconnecting: ${e.message}`);
    retryTimer = setTimeout(connect, Math.min(8000, 500 * 2 ** retries));
    return;
  }
  ws = new WebSocket(socketUrl(ticket));
  ws.binaryType = 'arraybuffer';
  ws.addEventListener('open', () => {
    opened = true;
    retries = 0;
    show('connected', 'connected');
    term.focus();
  });
  ws.addEventListener('message', (e) => {
    term.write(typeof e.data === 'string' ? e.data : new Uint8Array(e.data));
  });
  ws.addEventListener('close', async (e) => {
    if (!opened) {
      const why = await whyRefused(taskId, 'serial');
      if (why.refused || retries >= maxRetries) return show('disconnected', `disconnected: ${why.detail}`);
    } else if (final.has(e.code)) {
      return show('disconnected', `disconnected: ${e.reason || 'closed'}`);
    }
    if (retries >= maxRetries) return show('disconnected', `disconnected: ${e.reason || 'the connection was lost'}`);
    retries++;
    show('connecting', `reconnecting: ${e.reason || 'the connection was lost'}`);
    retryTimer = setTimeout(connect, Math.min(8000, 500 * 2 ** retries));
  });
}

term.onData((data) => {
  if (ws && ws.readyState === WebSocket.OPEN) ws.send(encoder.encode(data));
});
reconnectEl.addEventListener('click', () => {
  retries = 0;
  connect();
});
document.getElementById('terminal').addEventListener('click', () => term.focus());

connect();

/** The terminal's text, line by line (for tests and for poking around). */
function text() {
  const b = term.buffer.active;
  const lines = [];
  for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? '');
  return lines.join('\n');
}
window.cpsSerial = { term, taskId, text, get socket() { return ws; } };
