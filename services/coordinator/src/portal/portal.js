// The portal's entry: who is signed in, and which page is shown (#tasks, #peers, #admin). The
// pages live in ./modules, one concern each; nothing here turns data into markup.

import { adminShown, initAdmin } from '/portal/modules/admin.js';
import { onSignedOut } from '/portal/modules/api.js';
import { initHead } from '/portal/modules/head.js';
import { $, $$ } from '/portal/modules/dom.js';
import { initNewTask, loadImages } from '/portal/modules/new-task.js';
import { initPeers, peersShown } from '/portal/modules/peers.js';
import { clearTasks, connect, connected, disconnect, initTasks, notice } from '/portal/modules/tasks.js';

let user = null;

// ---- pages ---------------------------------------------------------------

const pages = { tasks: 'page-tasks', peers: 'page-peers', admin: 'page-admin' };

function pageFromHash() {
  const name = location.hash.replace(/^#/, '');
  if (name === 'admin' && user?.role !== 'admin') return 'tasks';
  return name in pages ? name : 'tasks';
}

/** Shows one page; `focus` moves the keyboard to its heading (after a click in the menu). */
function show(name, focus) {
  for (const [key, id] of Object.entries(pages)) $(`#${id}`).hidden = key !== name;
  for (const a of $$('#menu a[data-page]')) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  peersShown(name === 'peers');
  adminShown(name === 'admin');
  if (focus) $(`#${pages[name]} h2`)?.focus();
}

window.addEventListener('hashchange', () => {
  if (user !== null || !$('#app').hidden) show(pageFromHash(), true);
});

// ---- who is signed in ----------------------------------------------------

const signInForm = $('#sign-in');

function signedIn(u) {
  user = u;
  $('#sign-in-card').hidden = true;
  $('#app').hidden = false;
  $('#menu').hidden = false;
  const account = $('#account');
  if (u) {
    $('#user-name').textContent = u.name;
    $('#user-name').title = u.role === 'admin' ? 'admin: sees every task' : '';
    account.hidden = false;
  } else account.hidden = true;
  $('#menu-admin').hidden = u?.role !== 'admin';
  if (!connected()) {
    loadImages();
    connect(checkSession);
  }
  show(pageFromHash(), false);
}

/** Back to the sign-in form, forgetting what the last user saw. */
function signedOut(why) {
  user = null;
  disconnect();
  clearTasks();
  peersShown(false);
  $('#user-list').replaceChildren();
  $('#token-rows').replaceChildren();
  $('#join-command').value = '';
  $('#join-command-box').hidden = true;
  $('#account').hidden = true;
  $('#app').hidden = true;
  $('#menu').hidden = true;
  $('#live').dataset.connected = 'false';
  $('#live').textContent = 'signed out';
  $('#sign-in-card').hidden = false;
  const problem = $('#sign-in-problem');
  problem.textContent = why ?? '';
  problem.hidden = !why;
  signInForm.elements.namedItem(signInForm.elements.namedItem('name').value ? 'password' : 'name').focus();
}

onSignedOut((why) => {
  if (!$('#app').hidden) signedOut(why);
});

async function checkSession() {
  try {
    const res = await fetch('/api/me', { headers: { accept: 'application/json' } });
    const body = await res.json().catch(() => null);
    if (res.ok) signedIn(body.user);
    else if (res.status === 401) signedOut(connected() ? body?.detail : undefined);
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

initTasks();
initNewTask();
initPeers();
initAdmin();
initHead();
checkSession();
