import { originOnList, ProblemError, publicHostsSetting } from '@cps/common';

/**
 * Whether a console WebSocket upgrade may proceed given its Origin. Without this check any web page
 * a user visits could open (and type into) the consoles of guests on the user's LAN. The Origin is
 * compared with the origins of the names this node is reached by (`doorLists(...).origins`), never
 * with the Host header: a DNS rebinding page picks its Host by picking its name, so Origin == Host
 * proves nothing. A browser always sends Origin on a WebSocket, so an upgrade without one is refused
 * (the peer hop between gateways has its own member-only path).
 */
export function originAllowed(origin: string | undefined, allowedOrigins: readonly string[]): boolean {
  return originOnList(origin, allowedOrigins);
}

/** Throws the `cross-site-request` problem (403) for an upgrade `originAllowed` refuses. */
export function assertConsoleOrigin(origin: string | undefined, allowedOrigins: readonly string[]): void {
  if (originAllowed(origin, allowedOrigins)) return;
  if (origin === undefined) {
    throw new ProblemError('cross-site-request', 'a console WebSocket must carry the Origin header every browser sends; this upgrade has none');
  }
  throw new ProblemError(
    'cross-site-request',
    `a page from ${JSON.stringify(origin.slice(0, 200))} may not open consoles of this gateway; only pages of this node's own names may (localhost, its address, ${publicHostsSetting})`,
  );
}
