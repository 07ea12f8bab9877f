import { STATUS_CODES, type IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * An `upgrade` request of node:http as a fetch Request, so it can go through a Hono app (and the
 * node's door) like any other request. The route never needs the Host header's value in the URL,
 * so a fixed origin keeps hostile hosts out of it; prefixing (not resolving against a base) keeps
 * a `//host/...` request path a path. Undefined when the request cannot be one.
 */
export function requestOfUpgrade(req: IncomingMessage): Request | undefined {
  try {
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) {
      if (v === undefined) continue;
      for (const one of Array.isArray(v) ? v : [v]) headers.append(k, one);
    }
    const path = req.url?.startsWith('/') ? req.url : '/';
    return new Request(new URL(`http://localhost${path}`), { method: req.method, headers });
  } catch {
    return undefined;
  }
}

/** Writes a fetch Response on a raw socket (an upgrade the app refused) and ends it. */
export async function writeResponseTo(socket: Duplex, res: Response): Promise<void> {
  const body = Buffer.from(await res.arrayBuffer());
  const lines = [`HTTP/1.1 ${res.status} ${STATUS_CODES[res.status] ?? ''}`];
  res.headers.forEach((v, k) => {
    if (k !== 'content-length' && k !== 'connection' && k !== 'transfer-encoding') lines.push(`${k}: ${v}`);
  });
  lines.push(`content-length: ${body.length}`, 'connection: close', '', '');
  if (!socket.destroyed) socket.end(Buffer.concat([Buffer.from(lines.join('\r\n')), body]));
}
