import type { TicketKind } from '@cps/trust';

/**
 * Where a task's consoles are on the portal's origin: the same paths as on the vnc-gateway, which
 * the portal proxies them to, so the gateway's pages work unchanged behind it.
 */
export const consolePagePath = (taskId: string, kind: TicketKind = 'vnc'): string => `/${kind === 'vnc' ? 'console' : 'serial'}/${encodeURIComponent(taskId)}`;

/** The WebSocket of a task's console (desktop or serial), relative to the portal. */
export const consoleSocketPath = (taskId: string, kind: TicketKind): string => `${consolePagePath(taskId, kind)}/${kind === 'vnc' ? 'websockify' : 'socket'}`;
