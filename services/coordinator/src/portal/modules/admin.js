// Admin: users (add, role, quota, disable) and join tokens for new workstations (make, list,
// revoke, with the `cps up --join ...` command to give the new machine).

import { api } from './api.js';
import { $, dateTime, el, showProblem } from './dom.js';

const quotaFields = [
  ['vcpus', 'vCPUs'],
  ['memoryMiB', 'Memory (MiB)'],
  ['diskMiB', 'Disk (MiB)'],
  ['runningTasks', 'Tasks'],
];

function quotaFrom(form, prefix = '') {
  const q = {};
  for (const [k] of quotaFields) {
    const v = form.elements.namedItem(prefix + k)?.value.trim();
    if (v) q[k] = Number(v);
  }
  return q;
}

// ---- users ---------------------------------------------------------------

function userRow(u) {
  const id = `user-${u.id}`;
  const problem = el('div', { class: 'problem wide', role: 'alert', hidden: true });
  const f = el('form', { class: 'user-row', 'data-user-id': u.id, 'data-user-name': u.name, 'aria-labelledby': `${id}-name` },
    el('h3', { id: `${id}-name`, class: 'wide' }, u.name, u.disabled ? el('span', { class: 'badge', 'data-state': 'failed' }, 'disabled') : null),
    el('label', {}, 'Role', el('select', { name: 'role' }, ['user', 'admin'].map((r) => el('option', { value: r, selected: u.role === r }, r)))),
    quotaFields.map(([k, label]) => el('label', {}, label, el('input', { name: k, type: 'number', inputmode: 'numeric', min: '0', value: u.quota[k] }))),
    el('div', { class: 'actions wide' },
      el('button', { type: 'submit' }, 'Save'),
      el('button', { type: 'button', class: 'toggle', 'data-action': u.disabled ? 'enable' : 'disable' }, u.disabled ? 'Enable' : 'Disable')),
    problem,
  );
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    const r = await api('PATCH', `/api/users/${encodeURIComponent(u.id)}`, { json: { role: f.elements.namedItem('role').value, quota: quotaFrom(f) } });
    if (r.ok) {
      showProblem(problem, null, f);
      status(`Saved ${u.name}.`);
      f.replaceWith(userRow(r.body));
    } else if (r.status !== 401) showProblem(problem, r.body, f);
  });
  $('.toggle', f).addEventListener('click', async () => {
    const r = await api('PATCH', `/api/users/${encodeURIComponent(u.id)}`, { json: { disabled: !u.disabled } });
    if (r.ok) {
      status(`${r.body.name} is ${r.body.disabled ? 'disabled' : 'enabled'}.`);
      const next = userRow(r.body);
      f.replaceWith(next);
      $('.toggle', next).focus();
    } else if (r.status !== 401) showProblem(problem, r.body, f);
  });
  return el('li', {}, f);
}

const status = (text) => {
  $('#admin-status').textContent = text;
};

/** GETs a list and hands its items to `render`, or shows the refusal in `box`. */
async function loadList(path, box, render) {
  const r = await api('GET', path);
  if (!r.ok) {
    if (r.status !== 401) showProblem(box, r.body);
    return;
  }
  showProblem(box, null);
  render(r.body.items);
}

export const loadUsers = () => loadList('/api/users', $('#users-problem'), (items) => $('#user-list').replaceChildren(...items.map(userRow)));

async function addUser(e) {
  e.preventDefault();
  const f = e.target;
  const box = $('#add-user-problem');
  const body = { name: f.elements.namedItem('name').value.trim(), password: f.elements.namedItem('password').value, role: f.elements.namedItem('role').value };
  const quota = quotaFrom(f);
  if (Object.keys(quota).length) body.quota = quota;
  const r = await api('POST', '/api/users', { json: body });
  if (r.ok) {
    showProblem(box, null, f);
    f.reset();
    status(`Added ${r.body.name}.`);
    await loadUsers();
  } else if (r.status !== 401) showProblem(box, r.body, f);
}

// ---- join tokens ---------------------------------------------------------

function tokenRow(t) {
  const revoke = el('button', { type: 'button', class: 'revoke', disabled: t.state !== 'valid' }, 'Revoke');
  revoke.setAttribute('aria-label', `Revoke join token ${t.id}`);
  revoke.addEventListener('click', async () => {
    const r = await api('DELETE', `/api/join-tokens/${encodeURIComponent(t.id)}`);
    if (r.ok) {
      status(`Join token ${t.id} revoked.`);
      await loadTokens();
      $('#join-token-form button[type=submit]').focus();
    } else if (r.status !== 401) showProblem($('#tokens-problem'), r.body);
  });
  return el('tr', { 'data-token-id': t.id, 'data-state': t.state },
    el('td', { 'data-label': 'Token' }, el('code', {}, t.id)),
    el('td', { 'data-label': 'State', class: 'state' }, el('span', { class: 'badge', 'data-state': t.state }, t.state)),
    el('td', { 'data-label': 'Made' }, dateTime(t.createdAt)),
    el('td', { 'data-label': 'Expires' }, dateTime(t.expiresAt)),
    el('td', { 'data-label': 'Used by' }, t.usedBy ?? '—'),
    el('td', { 'data-label': 'Actions', class: 'buttons' }, revoke));
}

export const loadTokens = () =>
  loadList('/api/join-tokens', $('#tokens-problem'), (items) => {
    $('#token-rows').replaceChildren(...items.map(tokenRow));
    $('#no-tokens').hidden = items.length > 0;
  });

async function makeToken(e) {
  e.preventDefault();
  const f = e.target;
  const box = $('#tokens-problem');
  const hours = Number(f.elements.namedItem('hours').value);
  const r = await api('POST', '/api/join-tokens', { json: { ttlSec: Math.round(hours * 3600) } });
  if (!r.ok) {
    if (r.status !== 401) showProblem(box, r.body, f);
    return;
  }
  showProblem(box, null, f);
  const out = $('#join-command');
  out.value = r.body.command;
  $('#join-command-box').hidden = false;
  out.focus();
  out.select();
  await loadTokens();
}

export function adminShown(shown) {
  if (!shown) return;
  loadUsers();
  loadTokens();
}

export function initAdmin() {
  $('#add-user').addEventListener('submit', addUser);
  $('#join-token-form').addEventListener('submit', makeToken);
  $('#copy-join-command').addEventListener('click', async () => {
    const out = $('#join-command');
    out.select();
    try {
      await navigator.clipboard.writeText(out.value);
      status('The command is copied.');
    } catch {
      // Without clipboard access (plain HTTP on the LAN) the selection stays for Ctrl+C.
      status('Press Ctrl+C to copy the selected command.');
    }
  });
}
