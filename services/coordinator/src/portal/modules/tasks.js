// My tasks: the list kept live by server-sent events (/api/events), each task's state, queue
// place and reason, and its actions. The serial log and the kept copy open in a panel below.

import { addressLine, askAddresses, keepAddresses } from './addresses.js';
import { api } from './api.js';
import { $, bytes, dateTime, el, safeUrl, time } from './dom.js';

const rows = () => $('#task-rows');
/** id → the newest task seen, so an older copy (a late POST answer) never overwrites a newer one. */
const known = new Map();

const live = new Set(['pending', 'queued', 'placing', 'starting', 'running', 'suspended']);
const ended = new Set(['stopped', 'failed']);

export function upsert(incoming) {
  if (!incoming || typeof incoming.id !== 'string') return;
  const old = known.get(incoming.id);
  if (old && (old.history?.length ?? 0) > (incoming.history?.length ?? 0)) return;
  const task = keepAddresses(incoming, old);
  known.set(task.id, task);

  let tr = rows().querySelector(`tr[data-task-id="${CSS.escape(task.id)}"]`);
  if (!tr) {
    tr = el('tr', { 'data-task-id': task.id });
    // Newest first: before the first row created earlier than this task.
    const older = [...rows().children].find((r) => (known.get(r.dataset.taskId)?.createdAt ?? '') < task.createdAt);
    rows().insertBefore(tr, older ?? null);
  }
  tr.dataset.state = task.state;
  // Keep keyboard focus on the same action across a redraw.
  const focused = tr.contains(document.activeElement) ? document.activeElement?.dataset.action : undefined;
  tr.replaceChildren(...cells(task));
  if (focused) tr.querySelector(`[data-action="${focused}"]`)?.focus();
  $('#no-tasks').hidden = known.size > 0;
  askAddresses(task, upsert, (id) => known.get(id));
}

export function forget(id) {
  known.delete(id);
  rows().querySelector(`tr[data-task-id="${CSS.escape(id)}"]`)?.remove();
  $('#no-tasks').hidden = known.size > 0;
  if (panel.taskId === id) panel.close();
}

export function clearTasks() {
  known.clear();
  rows().replaceChildren();
  $('#no-tasks').hidden = false;
  panel.close();
}

function cells(task) {
  const node = task.node ? `${task.node.nodeId} (${task.node.address})` : '—';
  return [
    el('td', { class: 'name', 'data-label': 'Name' }, task.name),
    el('td', { class: 'id', 'data-label': 'ID' }, el('code', {}, task.id)),
    el('td', { class: 'state', 'data-label': 'State', 'data-state': task.state }, el('span', { class: 'badge', 'data-state': task.state }, task.state)),
    el('td', { class: 'node', 'data-label': 'Node' }, node, addressLine(task) && el('div', { class: 'addresses muted', 'data-testid': 'addresses', title: 'The guest\'s IP addresses, as its agent says' }, addressLine(task))),
    el('td', { class: 'progress', 'data-label': 'Progress' }, progress(task)),
    el('td', { class: 'buttons', 'data-label': 'Actions' }, el('div', { class: 'button-row', role: 'group', 'aria-label': `Actions for ${task.name}` }, actions(task))),
  ];
}

function progress(task) {
  const history = Array.isArray(task.history) ? task.history : [];
  const steps = el('ol', { class: 'history' },
    history.map((h) => el('li', { 'data-state': h.state, title: h.message ?? '' }, el('span', { class: 'step' }, h.state), ' ', el('time', { datetime: h.at }, time(h.at)))));
  const last = history.at(-1);
  const wrap = el('div', {}, steps);
  if (task.queue) {
    wrap.append(el('p', { class: 'queue' }, el('strong', {}, `Queued: number ${task.queue.position}`), ` — ${task.queue.reason}`));
  }
  if (task.request?.notBefore && (task.state === 'queued' || task.state === 'pending')) {
    wrap.append(el('p', { class: 'muted' }, `Not before ${dateTime(task.request.notBefore)}`));
  }
  if (task.state === 'failed' && task.error) wrap.append(el('p', { class: 'error' }, task.error.detail ?? task.error.title ?? 'failed'));
  else if (last?.message && !task.queue) wrap.append(el('p', { class: 'message muted' }, last.message));
  return wrap;
}

/** A button that calls `run` and shows the answer's problem in the notice; disabled while it runs. */
function action(name, label, enabled, run, title) {
  const b = el('button', { type: 'button', class: name, 'data-action': name, disabled: !enabled, title });
  b.textContent = label;
  b.addEventListener('click', async () => {
    b.disabled = true;
    try {
      await run();
    } finally {
      // The row is usually redrawn by the answer or an event; if not, the button comes back.
      if (b.isConnected) b.disabled = false;
    }
  });
  return b;
}

function actions(task) {
  const s = task.state;
  const id = encodeURIComponent(task.id);
  const vncUrl = s === 'running' && task.console ? safeUrl(task.console.vncUrl) : null;
  const post = (what, label) => async () => {
    const r = await api('POST', `/api/tasks/${id}/${what}`, { json: {} });
    if (r.ok) upsert(r.body);
    else if (r.status !== 401) notice(`Could not ${label} ${task.name}: ${r.body?.detail ?? `HTTP ${r.status}`}`);
  };
  return [
    action('console', 'Console', Boolean(vncUrl), () => vncUrl && window.open(vncUrl, '_blank', 'noopener'), vncUrl ? 'Open the screen in a new tab' : 'Available while the task runs'),
    action('serial', 'Serial', Boolean(task.node?.ports) && !ended.has(s), () => panel.openSerial(task), 'The guest\'s serial console output'),
    s === 'suspended'
      ? action('resume', 'Resume', true, post('resume', 'resume'))
      : action('suspend', 'Suspend', s === 'running', post('suspend', 'suspend'), 'Pause the guest; it keeps its memory'),
    action('checkpoint', 'Checkpoint', s === 'running', post('checkpoint', 'checkpoint'), 'Save the guest\'s state and let it run on'),
    action('restart', 'Restart', s === 'running' || s === 'suspended', post('restart', 'restart'), 'Reset the guest; its disks are kept'),
    // A task that waits is cancelled by the same stop: it leaves the queue.
    action('stop', s === 'queued' || s === 'pending' ? 'Cancel' : 'Stop', live.has(s) || s === 'failed', async () => {
      const r = await api('DELETE', `/api/tasks/${id}`);
      if (r.ok) upsert(r.body);
      else if (r.status !== 401) notice(`Could not stop ${task.name}: ${r.body?.detail ?? `HTTP ${r.status}`}`);
    }),
    task.request?.keepCopy ? action('download', 'Download', s === 'stopped', () => panel.openDownload(task), 'The compressed copy of its disks') : null,
    action('delete', 'Delete record', ended.has(s), async () => {
      if (!window.confirm(`Delete the record of ${task.name}? Its history and kept copy go too.`)) return;
      const r = await api('DELETE', `/api/tasks/${id}?purge=true`);
      if (r.ok) {
        forget(task.id);
        // The row and its buttons are gone: the keyboard goes back to the list's heading.
        $('#tasks-title').focus();
      } else if (r.status !== 401) notice(`Could not delete ${task.name}: ${r.body?.detail ?? `HTTP ${r.status}`}`);
    }, 'Remove the ended task from the list'),
  ];
}

export function notice(text) {
  const n = $('#notice');
  n.textContent = text;
  n.hidden = !text;
}

// ---- the panel under the list: serial output or the kept copy's files -----

const panel = {
  taskId: null,
  timer: null,
  close() {
    clearInterval(this.timer);
    this.timer = null;
    this.taskId = null;
    const p = $('#task-panel');
    if (p) p.hidden = true;
  },
  show(task, title) {
    clearInterval(this.timer);
    this.timer = null;
    this.taskId = task.id;
    const p = $('#task-panel');
    p.hidden = false;
    $('#task-panel-title').textContent = `${title}: ${task.name}`;
    p.dataset.kind = title;
    $('#task-panel-title').focus();
    return $('#task-panel-body');
  },
  openSerial(task) {
    const body = this.show(task, 'Serial output');
    const pre = el('pre', { class: 'serial', 'data-testid': 'serial', tabindex: '0', 'aria-label': `Serial output of ${task.name}` });
    const status = el('p', { class: 'muted', role: 'status' });
    const refresh = async () => {
      const r = await fetch(`/api/tasks/${encodeURIComponent(task.id)}/serial`, { headers: { accept: 'text/plain' } }).catch((err) => ({ ok: false, status: 0, text: async () => err.message }));
      if (this.taskId !== task.id) return;
      if (r.ok) {
        const text = await r.text();
        const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
        pre.textContent = text || '(nothing yet)';
        if (atEnd) pre.scrollTop = pre.scrollHeight;
        status.textContent = `Updated ${new Date().toLocaleTimeString()}`;
      } else {
        const t = await r.text();
        let detail = t;
        try {
          detail = JSON.parse(t).detail ?? t;
        } catch {
          /* plain text */
        }
        status.textContent = `No serial output: ${detail || `HTTP ${r.status}`}`;
      }
    };
    // The log is what the guest wrote; the terminal (the gateway's serial page) also lets one type.
    const terminal = task.state === 'running' ? el('a', { href: `/serial/${encodeURIComponent(task.id)}`, target: '_blank', rel: 'noopener', class: 'terminal' }, 'Open the serial terminal') : null;
    body.replaceChildren(el('div', { class: 'button-row start' }, el('button', { type: 'button', onclick: refresh }, 'Refresh'), terminal), status, pre);
    refresh();
    // The guest keeps writing: follow it while the panel is open.
    this.timer = setInterval(refresh, 2000);
  },
  async openDownload(task) {
    const body = this.show(task, 'Kept copy');
    body.replaceChildren(el('p', { class: 'muted', role: 'status' }, 'Asking for the files…'));
    const r = await api('GET', `/api/tasks/${encodeURIComponent(task.id)}/download`);
    if (this.taskId !== task.id) return;
    if (!r.ok) {
      body.replaceChildren(el('p', { class: 'problem', role: 'alert' }, r.body?.detail ?? `HTTP ${r.status}`));
      return;
    }
    const files = Array.isArray(r.body.files) ? r.body.files : [];
    body.replaceChildren(
      el('ul', { class: 'files' },
        files.map((f) => {
          const url = safeUrl(f.url);
          return el('li', {},
            url ? el('a', { href: url, download: f.name }, `Download ${f.name}`) : f.name,
            ` (${bytes(f.sizeBytes)})`,
            el('br'),
            el('code', { class: 'sha' }, `sha256 ${f.sha256}`));
        })),
      el('p', { class: 'muted' }, `Kept until ${dateTime(r.body.expiresAt)}.`),
    );
  },
};

export function initTasks() {
  $('#task-panel-close').addEventListener('click', () => {
    const id = panel.taskId;
    panel.close();
    rows().querySelector(`tr[data-task-id="${CSS.escape(id ?? '')}"] button`)?.focus();
  });
}

// ---- live updates --------------------------------------------------------

let events = null;

export function connect(onRefused) {
  const liveBadge = $('#live');
  events = new EventSource('/api/events');
  events.addEventListener('task', (e) => {
    try {
      upsert(JSON.parse(e.data));
    } catch {
      /* a malformed event is skipped, the stream goes on */
    }
  });
  let dropped = false;
  events.addEventListener('open', () => {
    liveBadge.dataset.connected = 'true';
    liveBadge.textContent = 'live';
    if (dropped) resync();
  });
  events.addEventListener('error', () => {
    // EventSource reconnects by itself; on reconnect the server sends every task again.
    dropped = true;
    liveBadge.dataset.connected = 'false';
    liveBadge.textContent = 'reconnecting…';
    // A stream refused (the session ended) is closed by the browser: ask who is signed in.
    if (events?.readyState === EventSource.CLOSED) onRefused();
  });
}

export const connected = () => events !== null;

export function disconnect() {
  events?.close();
  events = null;
}

/** After a reconnect (perhaps to a restarted coordinator), forget tasks the server no longer has. */
async function resync() {
  const r = await api('GET', '/api/tasks');
  if (!r.ok) return;
  const ids = new Set(r.body.items.map((t) => t.id));
  for (const id of [...known.keys()]) if (!ids.has(id)) forget(id);
  for (const t of r.body.items) upsert(t);
}
