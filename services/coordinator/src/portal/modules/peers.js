// Peers: every workstation this node's discovery knows, what it lends, its load, whether its
// owner is at it, its uptime and its tasks (GET /api/peers).

import { api } from './api.js';
import { $, duration, el, mib, showProblem } from './dom.js';

let timer = null;

const lends = (p) =>
  p.lends
    ? `${p.free?.vcpus ?? '?'} of ${p.lends.vcpus} vCPUs free · ${mib(p.free?.memoryMiB ?? 0)} of ${mib(p.lends.memoryMiB)} memory · ${mib(p.free?.diskMiB ?? 0)} of ${mib(p.lends.diskMiB)} disk`
    : 'not reported';

function card(p) {
  const tasks = p.tasks.items;
  return el('li', { class: 'peer card', 'data-node-id': p.nodeId, 'data-state': p.state },
    el('h3', {}, p.nodeId, p.self ? el('span', { class: 'badge' }, 'this node') : null, p.head ? el('span', { class: 'badge' }, 'head') : null),
    el('dl', {},
      el('dt', {}, 'State'), el('dd', { class: 'state' }, el('span', { class: 'badge', 'data-state': p.state }, p.state)),
      el('dt', {}, 'Address'), el('dd', { class: 'address' }, p.address),
      el('dt', {}, 'Lends'), el('dd', { class: 'lends' }, lends(p)),
      el('dt', {}, 'Load'), el('dd', { class: 'load' }, p.load === undefined ? 'not reported' : String(p.load)),
      el('dt', {}, 'Owner'), el('dd', { class: 'owner', 'data-owner': p.owner }, p.owner === 'busy' ? 'busy (using the machine)' : p.owner === 'idle' ? 'idle' : 'unknown'),
      el('dt', {}, 'Uptime'), el('dd', { class: 'uptime' }, duration(p.uptimeSec)),
      el('dt', {}, 'Tasks'), el('dd', { class: 'tasks' },
        `${p.tasks.count} running`,
        tasks.length ? el('ul', {}, tasks.map((t) => el('li', { 'data-task-id': t.id }, `${t.name} (${t.state}${t.owner ? `, ${t.owner}` : ''})`))) : null),
    ));
}

export async function loadPeers() {
  const list = $('#peer-list');
  const box = $('#peers-problem');
  const r = await api('GET', '/api/peers');
  if (!r.ok) {
    if (r.status !== 401) showProblem(box, r.body);
    return;
  }
  showProblem(box, null);
  list.replaceChildren(...r.body.items.map(card));
  $('#peers-updated').textContent = `${r.body.items.length} peer(s), updated ${new Date().toLocaleTimeString()}`;
}

/** While the Peers page is shown it refreshes itself; hidden, it asks nothing. */
export function peersShown(shown) {
  clearInterval(timer);
  timer = null;
  if (!shown) return;
  loadPeers();
  timer = setInterval(loadPeers, 5000);
}

export function initPeers() {
  $('#peers-refresh').addEventListener('click', loadPeers);
}
