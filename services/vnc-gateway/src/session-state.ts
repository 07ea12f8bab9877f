/**
 * A console session's life, checked at every step the way noVNC's `_updateConnectionState` does:
 * connecting (TCP dialled, WebSocket handshake under way) → open (bytes flow) → closing (one side
 * has gone; the other is being shut) → closed (both sockets are gone; logged once).
 */
export type SessionState = 'connecting' | 'open' | 'closing' | 'closed';

const next: Record<SessionState, readonly SessionState[]> = {
  connecting: ['open', 'closing'],
  open: ['closing'],
  closing: ['closed'],
  closed: [],
};

/** Whether a session in `from` may move to `to`; repeating a state is never a transition. */
export function canTransition(from: SessionState, to: SessionState): boolean {
  return next[from].includes(to);
}
