/**
 * Whether a WebSocket upgrade may proceed given its Origin and Host headers. Browsers always send
 * Origin on a WebSocket; without this check any web page a user visits could open (and type into)
 * the consoles of guests on the user's LAN. Non-browser clients (the peer hop, tools) send none.
 */
export function originAllowed(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return true;
  // A Host header is a name or address and a port, nothing else.
  if (!host || !/^[A-Za-z0-9.:[\]-]+$/.test(host)) return false;
  try {
    const u = new URL(origin);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
    return u.host.toLowerCase() === new URL(`http://${host}`).host.toLowerCase();
  } catch {
    return false;
  }
}
