// The CPS console page: noVNC's RFB over the gateway's WebSocket to the guest's VNC server, on
// the portal's origin. Each connection gets a fresh console ticket; a lost connection is retried.
// The status element says `connecting`, `connected` or `disconnected: <reason>`.
import RFB from '/novnc/core/rfb.js';
import { getTicket, socketUrl, whyRefused } from '/console-assets/ticket.js';

const taskId = document.body.dataset.taskId;
const $ = (id) => document.getElementById(id);
const statusEl = $('status');
const screenEl = $('screen');
const reconnectEl = $('reconnect');
const scaleEl = $('scale');
const clipboardEl = $('clipboard');

// Closes meaning "for good": a text frame (1003), idle (4000); others are retried a few times.
const final = new Set([1003, 1008, 4000]);
const maxRetries = 5;
let rfb;
let retries = 0;
let retryTimer;

function show(state, text) {
  statusEl.dataset.state = state;
  statusEl.textContent = text;
  document.title = `${taskId} · ${state} · CPS console`;
  reconnectEl.hidden = state !== 'disconnected';
}

function retryOrStop(reason, retryable) {
  if (!retryable || retries >= maxRetries) return show('disconnected', `disconnected: ${reason}`);
  retries++;
  show('connecting', `reconnecting: ${reason}`);
  retryTimer = setTimeout(connect, Math.min(8000, 500 * 2 ** retries));
}

async function connect() {
  clearTimeout(retryTimer);
  show('connecting', retries > 0 ? `connecting (attempt ${retries + 1})` : 'connecting');
  let ticket;
  try {
    ticket = await getTicket(taskId, 'vnc');
  } catch (e) {
    return retryOrStop(e.message, !e.final);
  }
  // noVNC takes a ready WebSocket as well as a URL; opening it here lets the page read the close
  // code and reason, which noVNC's own disconnect event leaves out.
  const ws = new WebSocket(socketUrl(ticket));
  let opened = false;
  let closed;
  let failure; // set by noVNC's security events, which come before its disconnect event
  ws.addEventListener('open', () => { opened = true; });
  ws.addEventListener('close', (e) => { closed = e; });

  const r = new RFB(screenEl, ws, { shared: true });
  rfb = r;
  r.scaleViewport = scaleEl.checked;
  r.resizeSession = false;
  r.background = '#111';
  r.addEventListener('connect', () => {
    retries = 0;
    show('connected', 'connected');
    const canvas = screenEl.querySelector('canvas');
    if (canvas) canvas.id = 'console-canvas';
    r.focus();
  });
  r.addEventListener('disconnect', async (e) => {
    if (rfb !== r) return;
    if (failure) return retryOrStop(failure, false);
    if (!opened) {
      const why = await whyRefused(taskId, 'vnc');
      return retryOrStop(why.detail, !why.refused);
    }
    const reason = closed && closed.reason ? closed.reason : e.detail.clean ? 'closed' : 'the connection was lost';
    retryOrStop(reason, !(closed && final.has(closed.code)));
  });
  r.addEventListener('securityfailure', (e) => {
    failure = `security negotiation failed${e.detail.reason ? `: ${e.detail.reason}` : ''}`;
  });
  r.addEventListener('credentialsrequired', () => {
    failure = "the guest's VNC server asks for a password";
    r.disconnect();
  });
  r.addEventListener('desktopname', (e) => {
    document.querySelector('header .task').textContent = `${taskId} · ${e.detail.name}`;
  });
  // What the guest copies shows up here; what is typed here is sent to the guest's clipboard.
  r.addEventListener('clipboard', (e) => { clipboardEl.value = e.detail.text; });
}

scaleEl.addEventListener('change', () => { if (rfb) rfb.scaleViewport = scaleEl.checked; });
$('ctrl-alt-del').addEventListener('click', () => { if (rfb) { rfb.sendCtrlAltDel(); rfb.focus(); } });
$('fullscreen').addEventListener('click', () => {
  if (document.fullscreenElement) document.exitFullscreen();
  else document.documentElement.requestFullscreen().catch(() => {});
});
$('clipboard-send').addEventListener('click', () => { if (rfb) { rfb.clipboardPasteFrom(clipboardEl.value); rfb.focus(); } });
reconnectEl.addEventListener('click', () => {
  retries = 0;
  connect();
});

connect();

// For tests and for poking around in the browser's console.
window.cpsConsole = { get rfb() { return rfb; }, taskId, get canvas() { return screenEl.querySelector('canvas'); } };
