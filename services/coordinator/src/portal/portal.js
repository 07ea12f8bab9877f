// The portal's only script: sign-in, the form, and the task list kept live by server-sent events.
// Every piece of data reaches the page through textContent or an attribute, never as markup.
// Requests go to this origin only; the session is an HttpOnly cookie the browser sends itself.

const $ = (selector, root = document) => root.querySelector(selector);
const form = $('#task-form');
const rows = $('#task-rows');
/** id → the newest task seen, so an older copy (a late POST answer) never overwrites a newer one. */
const known = new Map();

/** Builds an element; children are nodes or strings (as text). */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== undefined && c !== null) e.append(c);
  return e;
}

const time = (iso) => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString();
};

/** Only http(s) URLs may become a console link. */
function safeUrl(u) {
  try {
    const url = new URL(u, location.href);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

// ---- the task list -------------------------------------------------------

function upsert(task) {
  if (!task || typeof task.id !== 'string') return;
  const old = known.get(task.id);
  if (old && (old.history?.length ?? 0) > (task.history?.length ?? 0)) return;
  known.set(task.id, task);

  let tr = rows.querySelector(`tr[data-task-id="${CSS.escape(task.id)}"]`);
  if (!tr) {
    tr = el('tr', { 'data-task-id': task.id });
    // Newest first: before the first row created earlier than this task.
    const older = [...rows.children].find((r) => (known.get(r.dataset.taskId)?.createdAt ?? '') < task.createdAt);
    rows.insertBefore(tr, older ?? null);
  }
  tr.dataset.state = task.state;
  tr.replaceChildren(...cells(task));
  $('#no-tasks').hidden = known.size > 0;
}

function cells(task) {
  const running = task.state === 'running';
  const vncUrl = running && task.console ? safeUrl(task.console.vncUrl) : null;
  const consoleButton = el('button', { type: 'button', class: 'console', 'data-url': vncUrl, disabled: !vncUrl, title: vncUrl ? 'Open the screen in a new tab' : 'Available while the task runs' }, 'Console');
  consoleButton.addEventListener('click', () => vncUrl && window.open(vncUrl, '_blank', 'noopener'));
  const stopButton = el('button', { type: 'button', class: 'stop', disabled: task.state === 'stopping' || task.state === 'stopped' }, 'Stop');
  stopButton.addEventListener('click', () => stop(task.id, stopButton));

  const node = task.node ? `${task.node.nodeId} (${task.node.address})` : '—';
  return [
    el('td', { class: 'name' }, task.name),
    el('td', { class: 'id' }, el('code', {}, task.id)),
    el('td', { class: 'state', 'data-state': task.state }, el('span', { class: 'badge', 'data-state': task.state }, task.state)),
    el('td', { class: 'node' }, node),
    el('td', { class: 'progress' }, progress(task)),
    el('td', { class: 'buttons' }, consoleButton, stopButton),
  ];
}

function progress(task) {
  const history = Array.isArray(task.history) ? task.history : [];
  const steps = el('ol', { class: 'history' },
    ...history.map((h) => el('li', { 'data-state': h.state, title: h.message ?? '' }, el('span', { class: 'step' }, h.state), ' ', el('time', { datetime: h.at }, time(h.at)))));
  const last = history.at(-1);
  const wrap = el('div', {}, steps);
  if (task.state === 'failed' && task.error) wrap.append(el('p', { class: 'error' }, task.error.detail ?? task.error.title ?? 'failed'));
  else if (last?.message) wrap.append(el('p', { class: 'message muted' }, last.message));
  return wrap;
}

async function stop(id, button) {
  button.disabled = true;
  try {
    const res = await fetch(`/api/tasks/${encodeURIComponent(id)}`, { method: 'DELETE', headers: { accept: 'application/json' } });
    const body = await res.json().catch(() => null);
    if (res.ok) upsert(body);
    else if (res.status === 401) signedOut(body?.detail);
    else notice(`Could not stop ${id}: ${body?.detail ?? `HTTP ${res.status}`}`);
  } catch (err) {
    notice(`Could not reach the coordinator: ${err.message}`);
    button.disabled = false;
  }
}

function notice(text) {
  const n = $('#notice');
  n.textContent = text;
  n.hidden = !text;
}

// ---- the form ------------------------------------------------------------

const numeric = ['vcpus', 'memoryMiB', 'diskMiB'];

function requestFromForm() {
  const f = form.elements;
  const body = { name: f.namedItem('name').value };
  for (const k of numeric) {
    const v = f.namedItem(k).value.trim();
    // An empty field takes the server's default; anything else goes as typed, for the server to judge.
    if (v !== '') body[k] = Number(v);
  }
  const image = f.namedItem('image').value;
  if (image) body.image = image;
  return body;
}

function showProblem(problem) {
  const box = $('#form-problem');
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
  if (!problem) {
    box.hidden = true;
    return;
  }
  $('.detail', box).textContent = problem.detail ?? problem.title ?? 'The request was refused.';
  const errors = Array.isArray(problem.errors) ? problem.errors : [];
  $('.errors', box).replaceChildren(...errors.map((e) => el('li', { 'data-location': e.location }, `${e.location}: ${e.message}`)));
  for (const e of errors) {
    const field = /^body\/([A-Za-z]+)/.exec(String(e.location))?.[1];
    const input = field && form.elements.namedItem(field);
    if (input instanceof HTMLElement) input.setAttribute('aria-invalid', 'true');
  }
  box.hidden = false;
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const submit = $('button[type=submit]', form);
  submit.disabled = true;
  try {
    const res = await fetch('/api/tasks', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(requestFromForm()),
    });
    const body = await res.json().catch(() => null);
    if (res.status === 401) {
      signedOut(body?.detail);
    } else if (res.status === 202) {
      showProblem(null);
      upsert(body);
      // Ready for the next machine: same sizes, a new name.
      form.elements.namedItem('name').value = '';
    } else {
      showProblem(body ?? { detail: `The coordinator answered HTTP ${res.status}.` });
    }
  } catch (err) {
    showProblem({ detail: `Could not reach the coordinator: ${err.message}` });
  } finally {
    submit.disabled = false;
  }
});

async function loadImages() {
  const select = form.elements.namedItem('image');
  const note = $('#images-note');
  try {
    const res = await fetch('/api/images', { headers: { accept: 'application/json' } });
    const body = await res.json();
    if (!res.ok) throw new Error(body?.detail ?? `HTTP ${res.status}`);
    const items = Array.isArray(body.items) ? body.items : [];
    if (items.length === 0) throw new Error('no images');
    const current = select.value;
    select.replaceChildren(...items.map((i) => el('option', { value: i.id, title: i.description ?? '' }, i.name === i.id ? i.id : `${i.name} (${i.id})`)));
    if (items.some((i) => i.id === current)) select.value = current;
    note.hidden = true;
  } catch (err) {
    note.textContent = `Image list unavailable (${err.message}); using the built-in image.`;
    note.hidden = false;
  }
}

// ---- live updates --------------------------------------------------------

let events = null;

function connect() {
  const live = $('#live');
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
    live.dataset.connected = 'true';
    live.textContent = 'live';
    if (dropped) resync();
  });
  events.addEventListener('error', () => {
    // EventSource reconnects by itself; on reconnect the server sends every task again.
    dropped = true;
    live.dataset.connected = 'false';
    live.textContent = 'reconnecting…';
    // A stream refused (the session ended) is closed by the browser: ask who is signed in.
    if (events.readyState === EventSource.CLOSED) checkSession();
  });
}

/** After a reconnect (perhaps to a restarted coordinator), forget tasks the server no longer has. */
async function resync() {
  try {
    const res = await fetch('/api/tasks', { headers: { accept: 'application/json' } });
    if (res.status === 401) return signedOut();
    if (!res.ok) return;
    const { items } = await res.json();
    const ids = new Set(items.map((t) => t.id));
    for (const tr of [...rows.children]) {
      if (!ids.has(tr.dataset.taskId)) {
        known.delete(tr.dataset.taskId);
        tr.remove();
      }
    }
    for (const t of items) upsert(t);
    $('#no-tasks').hidden = known.size > 0;
  } catch {
    /* the next reconnect tries again */
  }
}

// ---- who is signed in ----------------------------------------------------

const signInForm = $('#sign-in');

function signedIn(user) {
  $('#sign-in-card').hidden = true;
  $('#app').hidden = false;
  const account = $('#account');
  if (user) {
    $('#user-name').textContent = user.name;
    $('#user-name').title = user.role === 'admin' ? 'admin: sees every task' : '';
    account.hidden = false;
  } else account.hidden = true;
  if (!events) {
    loadImages();
    connect();
  }
}

/** Back to the sign-in form, forgetting what the last user saw. */
function signedOut(why) {
  events?.close();
  events = null;
  known.clear();
  rows.replaceChildren();
  $('#no-tasks').hidden = false;
  $('#account').hidden = true;
  $('#app').hidden = true;
  $('#live').dataset.connected = 'false';
  $('#live').textContent = 'signed out';
  $('#sign-in-card').hidden = false;
  const problem = $('#sign-in-problem');
  problem.textContent = why ?? '';
  problem.hidden = !why;
  signInForm.elements.namedItem(signInForm.elements.namedItem('name').value ? 'password' : 'name').focus();
}

async function checkSession() {
  try {
    const res = await fetch('/api/me', { headers: { accept: 'application/json' } });
    const body = await res.json().catch(() => null);
    if (res.ok) signedIn(body.user);
    else if (res.status === 401) signedOut(events ? body?.detail : undefined);
    // A coordinator without accounts has no /api/me: everything is open.
    else if (res.status === 404) signedIn(null);
    else notice(`The coordinator answered HTTP ${res.status} for who is signed in.`);
  } catch (err) {
    notice(`Could not reach the coordinator: ${err.message}`);
    $('#app').hidden = false;
  }
}

signInForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const f = signInForm.elements;
  const problem = $('#sign-in-problem');
  const button = $('button[type=submit]', signInForm);
  button.disabled = true;
  try {
    const res = await fetch('/api/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ name: f.namedItem('name').value.trim(), password: f.namedItem('password').value }),
    });
    const body = await res.json().catch(() => null);
    if (res.ok) {
      f.namedItem('password').value = '';
      problem.hidden = true;
      signedIn(body.user);
    } else {
      const wait = res.headers.get('retry-after');
      problem.textContent = (body?.detail ?? `The coordinator answered HTTP ${res.status}.`) + (wait ? ` Try again in ${wait} s.` : '');
      problem.hidden = false;
      f.namedItem('password').select();
    }
  } catch (err) {
    problem.textContent = `Could not reach the coordinator: ${err.message}`;
    problem.hidden = false;
  } finally {
    button.disabled = false;
  }
});

$('#sign-out').addEventListener('click', async () => {
  try {
    await fetch('/api/session', { method: 'DELETE', headers: { accept: 'application/json' } });
  } catch {
    /* the cookie is dropped by the next answer that finds the session gone */
  }
  signedOut();
});

checkSession();
