// Building the page from data: every value reaches it through textContent or an attribute, never
// as markup, so a task named `<img onerror=...>` stays text.

export const $ = (selector, root = document) => root.querySelector(selector);
export const $$ = (selector, root = document) => [...root.querySelectorAll(selector)];

/** Builds an element; children are nodes or strings (as text). `on*` functions become listeners. */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) if (c !== undefined && c !== null && c !== false) e.append(c);
  return e;
}

export const time = (iso) => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString();
};

export const dateTime = (iso) => {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleString();
};

/** 1536 → "1.5 KiB". */
export function bytes(n) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return '';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n : n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

/** MiB as people read them: 2048 → "2 GiB". */
export const mib = (n) => bytes(n * 1024 * 1024);

/** 93784 s → "1 d 2 h", 125 s → "2 min". */
export function duration(sec) {
  if (typeof sec !== 'number' || !Number.isFinite(sec)) return '';
  const d = Math.floor(sec / 86400);
  const h = Math.floor((sec % 86400) / 3600);
  const m = Math.floor((sec % 3600) / 60);
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  if (m) return `${m} min`;
  return `${Math.floor(sec)} s`;
}

/** Only http(s) URLs may become a link or a new tab. */
export function safeUrl(u) {
  try {
    const url = new URL(u, location.href);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * Shows a problem (RFC 9457) in `box`: its detail, and each error's location and message; marks the
 * form fields the errors name (`body/vcpus` → the input named vcpus). `null` hides the box.
 */
export function showProblem(box, problem, form) {
  if (form) for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
  if (!problem) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const errors = Array.isArray(problem.errors) ? problem.errors : [];
  const detail = el('p', { class: 'detail' }, problem.detail ?? problem.title ?? 'The request was refused.');
  if (errors.length) box.replaceChildren(detail, el('ul', { class: 'errors' }, errors.map((e) => el('li', { 'data-location': e.location }, `${e.location}: ${e.message}`))));
  else box.replaceChildren(detail);
  if (form) {
    for (const e of errors) {
      const field = /^body\/([A-Za-z]+)/.exec(String(e.location))?.[1];
      const input = field && form.elements.namedItem(field);
      if (input instanceof HTMLElement) input.setAttribute('aria-invalid', 'true');
    }
  }
  box.hidden = false;
}
