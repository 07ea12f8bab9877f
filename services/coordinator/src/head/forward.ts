import type { MiddlewareHandler } from 'hono';
import { ProblemError, problemContentType, serviceUrl, type Fetch, type Logger } from '@cps/common';
import type { LoopTimers } from '@cps/head';
import { sourceAddress } from '../accounts/source-address.ts';
import type { HeadView } from './head-view.ts';
import { forwardedBy, forwardedHeaders } from './forwarded.ts';

export interface ForwardOptions {
  head: HeadView & { ready(): Promise<void> };
  /** This node's id: the forwarding header names it (the head checks it against our certificate). */
  self: string;
  /** memberFetch: the head's coordinator sees our member certificate. */
  fetch: Fetch;
  log: Logger;
  timers: LoopTimers;
  /** At start, how long a request waits for the role's first step before it is answered anyway. */
  readyWaitMs?: number;
  /** Retry-After of a 503 no-head, in seconds. */
  retryAfterSec?: number;
  /** Paths this node answers itself (GET /api/head: this node's own view). */
  local?: (path: string) => boolean;
}

// Hop-by-hop headers (RFC 9110 §7.6.1) and the ones the hop sets itself; Host is the head's.
const notPassed = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host', 'accept-encoding', 'proxy-authorization']);
const notReturned = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade']);

/**
 * A follower's API is the head's: every /api/* request (SSE streams and streamed uploads too) goes
 * to the head's coordinator over the cluster's mutual TLS and its answer comes back as it is
 * (status, headers, Set-Cookie, the body streamed, never buffered). It runs after this node's door
 * (Host and Origin are checked here, by the names the user reached) and before authentication
 * (the head authenticates). The head believes the forwarding headers only from a member.
 *
 * - The head itself, or this node when it leads: the request goes on to the routes.
 * - A request a member already forwarded is never forwarded again (two nodes that each think the
 *   other leads): 503 no-head, as when no head is known or the head does not answer.
 * - At start, a request waits (bounded) for the role's first step, so a node alone is not
 *   refused in its first second.
 */
export function forwardToHead(o: ForwardOptions): MiddlewareHandler {
  const waitMs = o.readyWaitMs ?? 3000;
  const retryAfter = String(o.retryAfterSec ?? 2);
  let ready = false;
  void o.head.ready().then(() => (ready = true));
  const firstStep = (): Promise<void> =>
    ready
      ? Promise.resolve()
      : Promise.race([o.head.ready(), new Promise<void>((r) => o.timers.setTimeout(r, waitMs))]);

  const noHead = (path: string, detail: string): Response =>
    new Response(JSON.stringify(new ProblemError('no-head', detail).toBody(path)), { status: 503, headers: { 'content-type': problemContentType, 'retry-after': retryAfter } });

  return async function forwardToHead(c, next) {
    if (o.local?.(c.req.path)) return next();
    await firstStep();
    if (o.head.isHead()) return next();
    const by = forwardedBy(c);
    if (by) {
      o.log.warn({ event: 'head.forward-loop', from: by, path: c.req.path }, 'head: a forwarded request reached a node that does not lead; not forwarded again');
      return noHead(c.req.path, `${by} forwarded this request here as to the head, but ${o.self} does not lead either (the two views disagree for a moment); try again in a few seconds`);
    }
    const head = o.head.head();
    if (!head) return noHead(c.req.path, 'no coordinator leads the LAN right now (one is being chosen); try again in a few seconds');

    const incoming = new URL(c.req.url);
    const target = `${serviceUrl(head.address, head.ports.coordinator)}${incoming.pathname}${incoming.search}`;
    const headers = new Headers();
    c.req.raw.headers.forEach((v, k) => {
      if (!notPassed.has(k) && !k.startsWith('x-cps-forwarded-')) headers.append(k, v);
    });
    headers.set(forwardedHeaders.by, o.self);
    headers.set(forwardedHeaders.for, sourceAddress(c));
    headers.set(forwardedHeaders.proto, incoming.protocol === 'https:' ? 'https' : 'http');
    // The body is passed through as it comes: no decompression, no re-encoding, no buffering.
    headers.set('accept-encoding', 'identity');
    const method = c.req.method;
    const hasBody = method !== 'GET' && method !== 'HEAD' && c.req.raw.body !== null;
    const init: RequestInit & { duplex?: 'half' } = { method, headers, redirect: 'manual', signal: c.req.raw.signal };
    if (hasBody) {
      init.body = c.req.raw.body;
      init.duplex = 'half';
    }
    let answer: Response;
    try {
      answer = await o.fetch(new Request(target, init));
    } catch (e) {
      if (c.req.raw.signal.aborted) throw e;
      o.log.warn({ event: 'head.forward-failed', head: head.nodeId, target, err: (e as Error).message }, 'head: the head did not answer a forwarded request');
      return noHead(c.req.path, `the head ${head.nodeId} (${head.address}) did not answer; try again in a few seconds`);
    }
    const out = new Headers();
    answer.headers.forEach((v, k) => {
      if (!notReturned.has(k) && k !== 'set-cookie') out.append(k, v);
    });
    for (const cookie of answer.headers.getSetCookie()) out.append('set-cookie', cookie);
    return new Response(answer.body, { status: answer.status, statusText: answer.statusText, headers: out });
  };
}
