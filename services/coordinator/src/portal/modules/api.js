// Requests to this origin only; the session is an HttpOnly cookie the browser sends itself.
// Every answer comes back as { ok, status, body, headers }: a refusal's body is its problem.

const listeners = new Set();

/** Called with the problem's detail when an answer says the session has ended (401). */
export function onSignedOut(fn) {
  listeners.add(fn);
}

function signedOut(body) {
  for (const fn of listeners) fn(body?.detail);
}

/** A JSON request; `json` is sent as the body with content-type application/json. */
export async function api(method, path, { json, body, headers = {} } = {}) {
  let res;
  try {
    res = await fetch(path, {
      method,
      headers: { accept: 'application/json', ...(json === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(json === undefined ? (body === undefined ? {} : { body }) : { body: JSON.stringify(json) }),
    });
  } catch (err) {
    return { ok: false, status: 0, body: { detail: `Could not reach the coordinator: ${err.message}` }, headers: new Headers() };
  }
  const text = await res.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  if (!res.ok && !parsed) parsed = { detail: `The coordinator answered HTTP ${res.status}.` };
  if (res.status === 401 && path !== '/api/session' && path !== '/api/me') signedOut(parsed);
  return { ok: res.ok, status: res.status, body: parsed, headers: res.headers };
}

/**
 * A request whose body may be large (an image, bootstrap files), sent with XMLHttpRequest because
 * only it reports upload progress: `progress(sentBytes, totalBytes)`.
 */
export function upload(method, path, body, { contentType, progress } = {}) {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, path);
    xhr.setRequestHeader('accept', 'application/json');
    if (contentType) xhr.setRequestHeader('content-type', contentType);
    // A form's files are multipart, which any web page could post: this header says it is the portal.
    xhr.setRequestHeader('x-cps-request', '1');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) progress?.(e.loaded, e.total);
    };
    xhr.onload = () => {
      let parsed = null;
      try {
        parsed = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        parsed = null;
      }
      const ok = xhr.status >= 200 && xhr.status < 300;
      if (!ok && !parsed) parsed = { detail: `The coordinator answered HTTP ${xhr.status}.` };
      if (xhr.status === 401) signedOut(parsed);
      resolve({ ok, status: xhr.status, body: parsed });
    };
    xhr.onerror = () => resolve({ ok: false, status: 0, body: { detail: 'The upload was cut off: the coordinator could not be reached.' } });
    xhr.send(body);
  });
}
