import { createPrivateKey, hkdfSync, randomBytes } from 'node:crypto';
import { errors, jwtVerify, SignJWT } from 'jose';

/**
 * Console tickets (issue 10): the coordinator hands a signed-in user a short-lived ticket for one
 * console of one task; whichever member's gateway the browser's WebSocket reaches checks it on its
 * own, without asking anyone. A ticket is a JWS (HS256, `jose`) whose key every member derives
 * from the cluster CA's key, which every member holds (docs/trust.md).
 */

/** The kinds of console: the guest's screen (noVNC) and its serial port (xterm.js). */
export type TicketKind = 'vnc' | 'serial';

/** Proxmox lets its VNC tickets live 40 s; ours live no longer. */
export const maxTicketTtlSec = 40;

// Its own label: the CA key signs certificates, and this derived key only ever signs console
// tickets (HKDF makes the two unrelated; the PEP key is not used at all).
const ticketKeyInfo = 'cps console ticket v1';
const ticketKeySalt = 'cps-console-ticket';

/** The HS256 key of console tickets, from the cluster CA's private key (PEM, `tls/ca.key`). */
export function consoleTicketKey(caKeyPem: string): Uint8Array {
  const der = createPrivateKey(caKeyPem).export({ format: 'der', type: 'pkcs8' });
  return new Uint8Array(hkdfSync('sha256', der, ticketKeySalt, ticketKeyInfo, 32));
}

/** What a valid ticket says. */
export interface TicketClaims {
  /** The ticket's own id: a gateway accepts it once. */
  id: string;
  taskId: string;
  kind: TicketKind;
  userId: string;
  userName: string;
  expiresAt: Date;
}

export interface IssueTicket {
  taskId: string;
  kind: TicketKind;
  userId: string;
  userName: string;
  now: Date;
  /** Seconds until it expires; at most `maxTicketTtlSec`. */
  ttlSec?: number;
}

/** Signs a ticket for one console of one task and one user. */
export async function issueConsoleTicket(key: Uint8Array, t: IssueTicket): Promise<{ ticket: string; claims: TicketClaims }> {
  const ttl = Math.min(t.ttlSec ?? maxTicketTtlSec, maxTicketTtlSec);
  const iat = Math.floor(t.now.getTime() / 1000);
  const id = randomBytes(12).toString('base64url');
  const ticket = await new SignJWT({ task: t.taskId, kind: t.kind, name: t.userName })
    .setProtectedHeader({ alg: 'HS256', typ: 'cps-console+jwt' })
    .setSubject(t.userId)
    .setJti(id)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttl)
    .sign(key);
  return { ticket, claims: { id, taskId: t.taskId, kind: t.kind, userId: t.userId, userName: t.userName, expiresAt: new Date((iat + ttl) * 1000) } };
}

/** Why a ticket is refused; stable words, shown to the user and put in the problem's `reason`. */
export type TicketRefusalReason = 'missing' | 'malformed' | 'forged' | 'expired' | 'wrong-task' | 'wrong-kind' | 'replayed';

export class TicketRefused extends Error {
  constructor(
    readonly reason: TicketRefusalReason,
    message: string,
  ) {
    super(message);
    this.name = 'TicketRefused';
  }
}

const maxTicketChars = 2048;

/**
 * The ticket's claims if it is signed with `key`, unexpired at `now`, for `taskId` and `kind`;
 * otherwise throws TicketRefused saying which. Replay is the caller's to check (`UsedTickets`).
 */
export async function verifyConsoleTicket(key: Uint8Array, ticket: string | undefined, want: { taskId: string; kind: TicketKind; now: Date }): Promise<TicketClaims> {
  if (!ticket) throw new TicketRefused('missing', `a console needs a ticket: POST /api/tasks/${want.taskId}/console-ticket on the portal, then open the socket with ?ticket=<it>`);
  if (ticket.length > maxTicketChars || !/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(ticket)) throw new TicketRefused('malformed', 'the console ticket is not a ticket');
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(ticket, key, { algorithms: ['HS256'], typ: 'cps-console+jwt', currentDate: want.now, maxTokenAge: maxTicketTtlSec, requiredClaims: ['exp', 'iat', 'jti', 'sub'] }));
  } catch (err) {
    if (err instanceof errors.JWTExpired) throw new TicketRefused('expired', 'the console ticket has expired (tickets live 40 s); get a new one');
    if (err instanceof errors.JWSSignatureVerificationFailed || err instanceof errors.JOSEAlgNotAllowed) throw new TicketRefused('forged', "the console ticket's signature is not this cluster's");
    throw new TicketRefused('malformed', `the console ticket is not valid: ${(err as Error).message}`);
  }
  const { task, kind, name, sub, jti, exp } = payload;
  if (typeof task !== 'string' || (kind !== 'vnc' && kind !== 'serial') || typeof name !== 'string' || typeof sub !== 'string' || typeof jti !== 'string' || typeof exp !== 'number') {
    throw new TicketRefused('malformed', 'the console ticket lacks its task, kind or user');
  }
  if (task !== want.taskId) throw new TicketRefused('wrong-task', `the console ticket is for another task, not ${want.taskId}`);
  if (kind !== want.kind) throw new TicketRefused('wrong-kind', `the console ticket is for the ${kind === 'vnc' ? 'desktop' : 'serial'} console, not the ${want.kind === 'vnc' ? 'desktop' : 'serial'} one`);
  return { id: jti, taskId: task, kind, userId: sub, userName: name, expiresAt: new Date(exp * 1000) };
}
