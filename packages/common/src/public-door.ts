import type { MiddlewareHandler } from 'hono';
import { z } from 'zod';
import { hostPort } from './net.ts';
import { ProblemError } from './problem.ts';

/**
 * The public door of a service a browser reaches (the coordinator's API and portal, the
 * vnc-gateway's console page and WebSocket). Two rules, both against other web sites:
 *
 * - `hostAllowList`: the Host header must be one of the names this node is reached by. A page on
 *   evil.example whose name an attacker re-points at this node (DNS rebinding) is same-origin to the
 *   browser, so Origin checks pass it; its Host header (`evil.example:8080`) is what gives it away.
 *   This stops rebinding for reads as well as writes.
 * - `crossSiteGuard`: no state change from a request a page of another site can send without a CORS
 *   preflight (a form, `fetch(..., { mode: 'no-cors' })`, a beacon), and no WebSocket for a page
 *   that is not one of this node's own. Origin is compared with an allow-list, never with Host (the
 *   attacker picks the Host by picking the name).
 */

/** What a service answers to. Entries are lowercase; `name:*` (`http://name:*`) stands for any port. */
export interface DoorLists {
  /** Host header values: `name:port`, an IPv6 address in brackets. */
  hosts: readonly string[];
  /** Origins whose pages may change state and open WebSockets: `http://name:port`. */
  origins: readonly string[];
}

/** The names this node is reached by; `doorLists` makes the allow-lists from them. */
export interface DoorNames {
  /** The service's own port, or `*` for any port (tests on ephemeral ports). */
  port: number | '*';
  /** The address peers and users reach this node at (CPS_ADVERTISE_ADDRESS). */
  advertiseAddress?: string;
  /** The node id, where it is also a name the node is reached by. */
  nodeId?: string;
  /** The machine's host name (`os.hostname()`). */
  hostName?: string;
  /** More names (CPS_PUBLIC_HOSTS, parsed by `parsePublicHosts`), e.g. the head's DNS name. */
  publicHosts?: readonly string[];
}

/** The loopback names, always allowed: a user on the node itself. */
export const loopbackNames = ['localhost', '127.0.0.1', '::1'] as const;

/** The header that marks a request as sent by CPS's own code; no cross-site form can send it. */
export const cpsRequestHeader = 'x-cps-request';

/** The name of the setting a refused Host is told about. */
export const publicHostsSetting = 'CPS_PUBLIC_HOSTS';

/** Lowercase, canonical (IPv6 compressed) form of a host name or address, or undefined if it is none. */
function canonicalName(name: string): string | undefined {
  const bare = name.trim().replace(/^\[(.*)\]$/, '$1');
  if (!bare || !/^[A-Za-z0-9._:-]+$/.test(bare)) return undefined;
  try {
    const h = new URL(`http://${hostPort(bare, 1)}`).hostname;
    return h.startsWith('[') ? h : h.toLowerCase();
  } catch {
    return undefined;
  }
}

/** The allow-lists of a service on `port` reached by the loopback names and the ones given. */
export function doorLists(names: DoorNames): DoorLists {
  const all = [...loopbackNames, names.advertiseAddress, names.nodeId, names.hostName, ...(names.publicHosts ?? [])];
  const hosts = new Set<string>();
  const origins = new Set<string>();
  for (const raw of all) {
    if (raw === undefined) continue;
    const name = canonicalName(raw);
    if (!name) continue;
    const h = name.includes(':') && !name.startsWith('[') ? `[${name}]` : name;
    if (names.port === '*') {
      hosts.add(`${h}:*`);
      for (const scheme of ['http', 'https']) origins.add(`${scheme}://${h}:*`);
      continue;
    }
    hosts.add(`${h}:${names.port}`);
    // A browser leaves a default port out of Host (and out of Origin, which URL.origin matches).
    if (names.port === 80 || names.port === 443) hosts.add(h);
    for (const scheme of ['http', 'https']) origins.add(new URL(`${scheme}://${h}:${names.port}`).origin);
  }
  return { hosts: [...hosts], origins: [...origins] };
}

/** Loopback names on any port: the default of a service not told its names (tests, a single machine). */
export const loopbackDoor: DoorLists = doorLists({ port: '*' });

const dnsName = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * Parses CPS_PUBLIC_HOSTS: comma-separated host names or addresses (no scheme, no port: each
 * service adds its own port). Throws an Error naming the setting and the bad entry.
 */
export function parsePublicHosts(raw: string | undefined): string[] {
  const out: string[] = [];
  for (const part of (raw ?? '').split(',')) {
    const entry = part.trim().toLowerCase();
    if (!entry) continue;
    const ipv6 = entry.replace(/^\[(.*)\]$/, '$1');
    const name = dnsName.test(entry) ? entry : ipv6.includes(':') && /^[0-9a-f:.]+$/.test(ipv6) ? canonicalName(ipv6) : undefined;
    if (!name) {
      throw new Error(`${publicHostsSetting}: ${JSON.stringify(part.trim().slice(0, 100))} is not a host name or address (give names like cps.lab.example or 10.0.0.5, comma-separated, without scheme or port)`);
    }
    if (!out.includes(name)) out.push(name);
  }
  return out;
}

/** CPS_PUBLIC_HOSTS for a service's zod config: `CPS_PUBLIC_HOSTS: publicHostsVar`. */
export const publicHostsVar = z
  .string()
  .default('')
  .transform((raw, ctx) => {
    try {
      return parsePublicHosts(raw);
    } catch (err) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: (err as Error).message });
      return z.NEVER;
    }
  });

/** Whether `value` (lowercased) is on a list of exact entries and `prefix:*` entries. */
function matcher(entries: readonly string[]): (value: string) => boolean {
  const exact = new Set<string>();
  const anyPort: string[] = [];
  for (const e of entries) {
    const v = e.toLowerCase();
    if (v.endsWith(':*')) anyPort.push(v.slice(0, -2));
    else exact.add(v);
  }
  return (value) => {
    const v = value.toLowerCase();
    if (exact.has(v)) return true;
    return anyPort.some((p) => v === p || (v.startsWith(`${p}:`) && /^\d{1,5}$/.test(v.slice(p.length + 1))));
  };
}

/** True when `origin` (an Origin header's value) is one of `allowed`; a missing or `null` Origin is not. */
export function originOnList(origin: string | undefined, allowed: readonly string[]): boolean {
  if (!origin || origin.length > 300) return false;
  return matcher(allowed)(origin);
}

const quoted = (s: string) => JSON.stringify(s.slice(0, 200));

export interface HostAllowListOptions {
  hosts: readonly string[];
}

/** Refuses (403 host-not-allowed; not 421, which a browser answers by sending the request again) a request whose Host header is not one of this node's names. */
export function hostAllowList(options: HostAllowListOptions): MiddlewareHandler {
  const allowed = matcher(options.hosts);
  return async function hostAllowList(c, next) {
    const host = c.req.header('host');
    if (!host) throw new ProblemError('host-not-allowed', 'the request has no Host header; this node answers only to its own names');
    if (!/^[A-Za-z0-9._:[\]-]{1,261}$/.test(host)) throw new ProblemError('host-not-allowed', `the Host header ${quoted(host)} is not a host name and port`);
    if (!allowed(host)) {
      const name = host.replace(/:\d+$/, '');
      // The list itself is not told: a rebinding page can read this answer, and the node's own names are none of its business.
      throw new ProblemError(
        'host-not-allowed',
        `this node is not reached by the name ${quoted(host)}; a page on another name pointed at this node (DNS rebinding) is refused. If ${name} is a name of this node, add it to ${publicHostsSetting}`,
      );
    }
    await next();
  };
}

export interface CrossSiteGuardOptions {
  /** Origins whose pages may change state and open WebSockets (`doorLists(...).origins`). */
  origins: readonly string[];
  /** Routes that take a raw body (any content type): they must carry `x-cps-request: 1`. Default: none. */
  rawBody?: (method: string, path: string) => boolean;
}

const safeMethods = new Set(['GET', 'HEAD', 'OPTIONS']);
// The content types a form or a no-cors fetch may send without a CORS preflight (Fetch standard).
const simpleTypes = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);
const trustedSites = new Set(['same-origin', 'none']);

/**
 * Refuses (403 cross-site-request):
 * - a WebSocket upgrade without an Origin (every browser sends one) or with one not on the list;
 * - an unsafe method (anything but GET, HEAD, OPTIONS) whose Origin is not on the list, or that
 *   the browser marks `Sec-Fetch-Site` other than same-origin/none and carries no allowed Origin;
 * - an unsafe method any page could send without a preflight: a CORS-simple content type
 *   (form, multipart, text/plain), or a POST with none, unless it carries `x-cps-request: 1`;
 *   a route declared `rawBody` needs that header whatever its content type.
 * PUT, PATCH and DELETE without a body pass the content rule: a browser preflights those methods
 * cross-origin, and this service answers no preflight.
 */
export function crossSiteGuard(options: CrossSiteGuardOptions): MiddlewareHandler {
  const allowed = matcher(options.origins);
  const rawBody = options.rawBody ?? (() => false);
  return async function crossSiteGuard(c, next) {
    const method = c.req.method.toUpperCase();
    const origin = c.req.header('origin');
    const originAllowed = origin !== undefined && origin.length <= 300 && allowed(origin);
    const what = `${method} ${c.req.path}`;

    if (/\bwebsocket\b/i.test(c.req.header('upgrade') ?? '')) {
      if (origin === undefined) throw new ProblemError('cross-site-request', `a WebSocket upgrade must carry an Origin header (every browser sends one); ${what} has none`);
      if (!originAllowed) throw new ProblemError('cross-site-request', `a page from ${quoted(origin)} may not open a WebSocket on this node; only this node's own pages may (its names: localhost and ${publicHostsSetting})`);
      return next();
    }
    if (safeMethods.has(method)) return next();

    if (origin !== undefined && !originAllowed) {
      throw new ProblemError('cross-site-request', `a page from ${quoted(origin)} may not send ${what}; only this node's own pages may change anything here`);
    }
    const site = c.req.header('sec-fetch-site');
    if (!originAllowed && site !== undefined && !trustedSites.has(site.toLowerCase())) {
      throw new ProblemError('cross-site-request', `the browser marks ${what} as sent by a ${quoted(site)} page (Sec-Fetch-Site); only this node's own pages may change anything here`);
    }
    const marked = c.req.header(cpsRequestHeader) === '1';
    if (rawBody(method, c.req.path)) {
      if (!marked) throw new ProblemError('cross-site-request', `${what} takes a raw body and needs the header ${cpsRequestHeader}: 1, which no cross-site form can send`);
      return next();
    }
    const type = c.req.header('content-type');
    const essence = type?.split(';')[0]!.trim().toLowerCase();
    const simple = essence === undefined ? method === 'POST' : essence === '' || simpleTypes.has(essence);
    if (simple && !marked) {
      throw new ProblemError(
        'cross-site-request',
        `${what} with content-type ${type === undefined ? 'none' : quoted(type)} is a request any web page can send; send JSON (content-type: application/json) or the header ${cpsRequestHeader}: 1`,
      );
    }
    await next();
  };
}

export type PublicDoorOptions = DoorLists & Pick<CrossSiteGuardOptions, 'rawBody'>;

/** `hostAllowList` then `crossSiteGuard`: the whole public door in one middleware. */
export function publicDoor(options: PublicDoorOptions): MiddlewareHandler {
  const host = hostAllowList({ hosts: options.hosts });
  const guard = crossSiteGuard({ origins: options.origins, rawBody: options.rawBody });
  return async function publicDoor(c, next) {
    await host(c, async () => {
      await guard(c, next);
    });
  };
}
