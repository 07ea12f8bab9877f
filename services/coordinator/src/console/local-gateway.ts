import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ProblemError, problemTypeUri, problemTypes, writeResponseTo, type Fetch, type Logger, type memberClientTls } from '@cps/common';

/**
 * One way in (issue 10): the browser reaches consoles on the portal's own origin, and the portal
 * carries them to this node's vnc-gateway over the cluster's mutual TLS (the gateway then hops to
 * the guest's host). What is carried is exactly what the gateway answers: its pages and assets
 * (GET), and the WebSocket bytes, piped both ways without looking at them.
 */
export interface LocalGateway {
  /** `https://127.0.0.1:<vnc-gateway port>` (plain `http://` only in tests without a cluster). */
  base: string;
  /** memberFetch with this node's certificate. */
  fetch: Fetch;
  /** This node's client TLS (memberClientTls), for the upgrade. */
  tls?: ReturnType<typeof memberClientTls>;
  /** How long the gateway may take to answer (page or handshake). */
  timeoutMs?: number;
}

// The gateway's answer headers a browser needs; hop-by-hop and anything else stays behind.
const passedHeaders = ['content-type', 'content-security-policy', 'cache-control', 'x-content-type-options', 'referrer-policy', 'www-authenticate'];

const unreachable = (err: unknown) => new ProblemError('upstream-failed', `this node's console gateway is unreachable: ${(err as Error).message}`);

/** The local gateway's answer to a GET of `pathAndQuery` (a page, an asset, a socket's diagnosis). */
export async function forwardGet(gw: LocalGateway, pathAndQuery: string, from: string | undefined): Promise<Response> {
  // Concatenated, not resolved: the path stays a path on the gateway, whatever it looks like.
  const url = new URL(`${gw.base}${pathAndQuery.startsWith('/') ? pathAndQuery : '/'}`);
  let res: Response;
  try {
    res = await gw.fetch(new Request(url, { headers: from ? { 'x-forwarded-for': from } : {}, signal: AbortSignal.timeout(gw.timeoutMs ?? 10_000) }));
  } catch (err) {
    throw unreachable(err);
  }
  const headers = new Headers();
  for (const h of passedHeaders) {
    const v = res.headers.get(h);
    if (v !== null) headers.set(h, v);
  }
  return new Response(res.body, { status: res.status, headers });
}

const maxRefusalBytes = 64 << 10;
// The client's handshake headers the gateway needs; the Host and Origin are the portal's business
// (its door checked them), the cookie and authorization never leave it.
const handshakeHeaders = ['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol', 'user-agent'];

/**
 * Carries a browser's WebSocket upgrade on to the local gateway: the gateway's 101 goes back as it
 * said it (its Sec-WebSocket-Accept answers the browser's key), then bytes flow both ways with
 * pipe's backpressure; its refusal (403 ticket, 429 cap, 404 …) reaches the browser unchanged.
 */
export function pipeUpgrade(gw: LocalGateway, req: IncomingMessage, socket: Duplex, head: Buffer, log: Logger): void {
  const url = new URL(`${gw.base}${req.url?.startsWith('/') ? req.url : '/'}`);
  const headers: Record<string, string> = { connection: 'Upgrade', upgrade: 'websocket' };
  for (const h of handshakeHeaders) {
    const v = req.headers[h];
    if (typeof v === 'string') headers[h] = v;
  }
  if (req.socket.remoteAddress) headers['x-forwarded-for'] = req.socket.remoteAddress;
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const up = send({ host: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, method: 'GET', headers, ...(url.protocol === 'https:' ? (gw.tls ?? {}) : {}), timeout: gw.timeoutMs ?? 10_000 });
  let done = false;
  const refuse = (res: Response) => {
    if (done) return;
    done = true;
    void writeResponseTo(socket, res);
  };
  up.on('timeout', () => up.destroy(new Error('no answer in time')));
  // A browser that leaves during the handshake takes its half-open console at the gateway with it.
  socket.once('close', () => {
    if (!done) {
      done = true;
      up.destroy();
    }
  });
  up.on('error', (err) => {
    log.warn({ err: err.message, path: url.pathname }, 'console gateway unreachable');
    const p = unreachable(err);
    refuse(new Response(JSON.stringify({ type: problemTypeUri('upstream-failed'), title: problemTypes['upstream-failed'].title, status: 502, detail: p.message }), { status: 502, headers: { 'content-type': 'application/problem+json' } }));
  });
  up.on('response', (res) => {
    const parts: Buffer[] = [];
    let size = 0;
    res.on('data', (d: Buffer) => {
      size += d.length;
      if (size <= maxRefusalBytes) parts.push(d);
      else res.destroy();
    });
    res.on('close', () => {
      const h = new Headers();
      for (const name of passedHeaders) {
        const v = res.headers[name];
        if (typeof v === 'string') h.set(name, v);
      }
      refuse(new Response(Buffer.concat(parts), { status: res.statusCode ?? 502, headers: h }));
    });
  });
  up.on('upgrade', (res: IncomingMessage, gwSocket: Duplex, gwHead: Buffer) => {
    done = true;
    // The handshake's timeout must not end an idle console: the gateway has its own idle rule.
    (gwSocket as Socket).setTimeout(0);
    const end = () => {
      socket.destroy();
      gwSocket.destroy();
    };
    gwSocket.on('error', end);
    socket.on('error', end);
    gwSocket.on('close', end);
    socket.on('close', end);
    if (socket.destroyed) return end();
    const lines = ['HTTP/1.1 101 Switching Protocols'];
    for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) lines.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`);
    socket.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (gwHead.length) socket.write(gwHead);
    if (head.length) gwSocket.write(head);
    gwSocket.pipe(socket);
    socket.pipe(gwSocket);
  });
  up.end();
}
