// Which coordinator leads the LAN, in the header ("head: ws-2, epoch 4"): every node's portal is
// the whole LAN's, its API answered by the head; this says which one, and when none leads.
import { $ } from '/portal/modules/dom.js';

async function refresh() {
  const el = $('#head');
  try {
    const res = await fetch('/api/head', { headers: { accept: 'application/json' } });
    const h = res.ok ? await res.json() : null;
    if (!h) throw new Error(`HTTP ${res.status}`);
    if (h.head) {
      el.textContent = `head: ${h.head.nodeId}, epoch ${h.epoch}`;
      el.title = `${h.role === 'head' ? 'This node leads the LAN' : `This node forwards to ${h.head.nodeId} (${h.head.address})`}; lease in ${h.mode === 'dns' ? 'DNS' : "discovery's HELLOs"}, since ${new Date(h.since).toLocaleString()}`;
      el.dataset.head = h.role;
    } else {
      el.textContent = 'head: none yet';
      el.title = 'No coordinator leads the LAN right now; one is being chosen';
      el.dataset.head = 'none';
    }
  } catch (err) {
    el.textContent = 'head: unknown';
    el.title = `Could not ask this node: ${err.message}`;
    el.dataset.head = 'none';
  }
  el.hidden = false;
}

/** Shows the head now and every 10 s (a new head shows within one HELLO lease plus this). */
export function initHead() {
  void refresh();
  setInterval(refresh, 10_000);
}
