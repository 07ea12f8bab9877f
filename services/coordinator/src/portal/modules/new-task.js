// New task: the form (sizes, image, network, checkpoints, a kept copy, cloud-init user-data,
// bootstrap files, a start time), and uploading an image or ISO with a progress bar.

import { api, upload } from './api.js';
import { $, bytes, el, showProblem } from './dom.js';
import { upsert } from './tasks.js';

const form = () => $('#task-form');
const numeric = ['vcpus', 'memoryMiB', 'diskMiB', 'checkpointEveryMin'];

function requestFromForm() {
  const f = form().elements;
  const body = { name: f.namedItem('name').value };
  for (const k of numeric) {
    const v = f.namedItem(k).value.trim();
    // An empty field takes the server's default; anything else goes as typed, for the server to judge.
    if (v !== '') body[k] = Number(v);
  }
  const image = f.namedItem('image').value;
  if (image) body.image = image;
  const network = f.namedItem('network').value;
  if (network) body.network = network;
  if (f.namedItem('keepCopy').checked) body.keepCopy = true;
  const userData = f.namedItem('userData').value;
  if (userData.trim() !== '') body.userData = userData;
  const notBefore = f.namedItem('notBefore').value;
  // datetime-local is the user's local time without an offset: send it as an instant.
  if (notBefore) body.notBefore = new Date(notBefore).toISOString();
  return body;
}

/** A progress bar and its words, for one upload. */
function progressTo(bar, label) {
  return (sent, total) => {
    bar.max = total;
    bar.value = sent;
    bar.hidden = false;
    const pct = total ? Math.floor((sent / total) * 100) : 0;
    label.textContent = `${pct}% (${bytes(sent)} of ${bytes(total)})`;
  };
}

/** Uploads the chosen bootstrap files (several files as multipart); answers the id or a problem. */
async function uploadBootstrap(files) {
  const data = new FormData();
  // The part's name carries the path for files picked from a folder (webkitRelativePath).
  for (const file of files) data.append('file', file, file.webkitRelativePath || file.name);
  const bar = $('#bootstrap-progress');
  const label = $('#bootstrap-progress-text');
  const r = await upload('POST', '/api/bootstraps', data, { progress: progressTo(bar, label) });
  if (r.ok) label.textContent = `Uploaded ${r.body.files.length} file(s), ${bytes(r.body.sizeBytes)}.`;
  return r;
}

async function submit(event) {
  event.preventDefault();
  const box = $('#form-problem');
  const button = $('button[type=submit]', form());
  button.disabled = true;
  try {
    const body = requestFromForm();
    const files = form().elements.namedItem('bootstrapFiles').files;
    if (files && files.length > 0) {
      const up = await uploadBootstrap(files);
      if (!up.ok) {
        if (up.status !== 401) showProblem(box, { ...up.body, detail: `The bootstrap files were refused: ${up.body?.detail ?? `HTTP ${up.status}`}` }, form());
        return;
      }
      body.bootstrap = up.body.id;
    }
    const r = await api('POST', '/api/tasks', { json: body });
    if (r.status === 401) return;
    if (r.status === 202 || r.status === 200) {
      showProblem(box, null, form());
      upsert(r.body);
      // Ready for the next machine: same options, a new name.
      form().elements.namedItem('name').value = '';
      $('#task-status').textContent = `Submitted ${r.body.name} (${r.body.id}).`;
    } else {
      showProblem(box, r.body, form());
    }
  } finally {
    button.disabled = false;
  }
}

export async function loadImages(select = form().elements.namedItem('image')) {
  const note = $('#images-note');
  const r = await api('GET', '/api/images');
  const items = r.ok && Array.isArray(r.body?.items) ? r.body.items : [];
  if (items.length === 0) {
    if (r.status !== 401) {
      note.textContent = `Image list unavailable (${r.ok ? 'no images' : r.body?.detail}); using the built-in image.`;
      note.hidden = false;
    }
    return;
  }
  const current = select.value;
  // An uploaded image names the nodes that hold it; a task placed elsewhere fetches it from one first.
  const held = (i) => (Array.isArray(i.holders) ? ` — on ${i.holders.join(', ')}` : '');
  const label = (i) => `${i.name === i.id ? i.id : `${i.name} (${i.id})`}${i.kind === 'iso' ? ' — ISO' : ''}${held(i)}`;
  select.replaceChildren(...items.map((i) => el('option', { value: i.id, title: i.description ?? '' }, label(i))));
  if (items.some((i) => i.id === current)) select.value = current;
  note.hidden = true;
}

/** The format a file's name suggests, for the format menu's "from the name" choice. */
function formatOf(name) {
  const ext = /\.([a-z0-9]+)$/i.exec(name)?.[1]?.toLowerCase();
  return ext === 'iso' ? 'iso' : ext === 'qcow2' ? 'qcow2' : ext === 'img' || ext === 'raw' ? 'raw' : '';
}

async function uploadImage(event) {
  event.preventDefault();
  const f = event.target.elements;
  const file = f.namedItem('imageFile').files?.[0];
  const box = $('#upload-problem');
  const status = $('#upload-progress-text');
  if (!file) {
    showProblem(box, { detail: 'Choose an image or ISO file first.' });
    f.namedItem('imageFile').focus();
    return;
  }
  const name = f.namedItem('imageName').value.trim() || file.name.replace(/\.[^.]*$/, '');
  const format = f.namedItem('imageFormat').value || formatOf(file.name);
  const q = new URLSearchParams({ name });
  if (format) q.set('format', format);
  const button = $('button[type=submit]', event.target);
  button.disabled = true;
  showProblem(box, null);
  try {
    const r = await upload('POST', `/api/images?${q}`, file, { contentType: 'application/octet-stream', progress: progressTo($('#upload-progress'), status) });
    if (r.ok) {
      status.textContent = `Uploaded ${r.body.name} (${r.body.id}, ${bytes(r.body.sizeBytes)}).`;
      const select = form().elements.namedItem('image');
      await loadImages(select);
      select.value = r.body.id;
      event.target.reset();
    } else if (r.status !== 401) {
      status.textContent = '';
      showProblem(box, r.body);
    }
  } finally {
    button.disabled = false;
  }
}

export function initNewTask() {
  form().addEventListener('submit', submit);
  $('#upload-form').addEventListener('submit', uploadImage);
  const files = form().elements.namedItem('bootstrapFiles');
  files.addEventListener('change', () => {
    const list = [...files.files];
    $('#bootstrap-progress-text').textContent = list.length ? `${list.length} file(s): ${list.map((x) => x.name).join(', ')}` : '';
    $('#bootstrap-progress').hidden = true;
  });
}
