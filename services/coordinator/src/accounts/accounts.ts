import { ProblemError } from '@cps/common';
import { hashPassword, verifyPassword } from './password.ts';
import { defaultQuota } from './quota.ts';
import { formatToken, newPassword, newSecret, newTokenId, newUserId, parseToken, sameDigest, sha256Hex } from './secrets.ts';
import type { AccountStore, ApiToken, Quota, Role, Session, User } from './types.ts';

export interface SessionTimes {
  /** A session unused this long ends; each use within it renews it (sliding). */
  idleMs: number;
  /** No session lasts longer than this from its sign-in, however often it is used. */
  maxMs: number;
}

export const defaultSessionTimes: SessionTimes = { idleMs: 8 * 3600_000, maxMs: 7 * 24 * 3600_000 };

export interface AccountsDeps {
  store: AccountStore;
  now: () => Date;
  session?: SessionTimes;
}

export interface NewUser {
  name: string;
  password: string;
  role?: Role;
  quota?: Partial<Quota>;
}

export interface UserChange {
  role?: Role;
  quota?: Partial<Quota>;
  disabled?: boolean;
  password?: string;
}

/** Why a presented credential signs no one in; shown to its holder, never which part was wrong. */
export type AuthFailure = 'invalid-token' | 'token-revoked' | 'token-expired' | 'account-disabled';

export type TokenCheck = { user: User; token: ApiToken } | { failure: AuthFailure };

export interface SessionCheck {
  user: User;
  session: Session;
  /** Set when this use renewed the session: the cookie must be sent again with the new lifetime. */
  renewed: boolean;
}

// Writing lastUsedAt on every request would be a write per call; to the minute is enough.
const tokenTouchMs = 60_000;

/**
 * Users, their passwords, API tokens and portal sessions. Only hashes are stored: argon2id for
 * passwords, SHA-256 for token secrets and session ids (long random strings need no slow hash).
 */
export class Accounts {
  private readonly store: AccountStore;
  private readonly now: () => Date;
  private readonly times: SessionTimes;
  // Verified against when the name is unknown, so an unknown name costs what a wrong password does.
  private readonly dummyHash: Promise<string>;

  constructor(deps: AccountsDeps) {
    this.store = deps.store;
    this.now = deps.now;
    this.times = deps.session ?? defaultSessionTimes;
    this.dummyHash = hashPassword(newSecret());
  }

  /** The clock sessions and tokens are timed by (for cookie lifetimes). */
  clock(): Date {
    return this.now();
  }

  get(id: string): User | undefined {
    return this.store.users.get(id);
  }

  byName(name: string): User | undefined {
    return this.store.users.byName(name);
  }

  list(): User[] {
    return this.store.users.list();
  }

  async createUser(u: NewUser): Promise<User> {
    if (this.store.users.byName(u.name)) throw new ProblemError('conflict', `a user named ${u.name} exists`);
    const user: User = {
      id: newUserId(),
      name: u.name,
      role: u.role ?? 'user',
      passwordHash: await hashPassword(u.password),
      quota: { ...defaultQuota, ...u.quota },
      createdAt: this.now().toISOString(),
    };
    // Checked again after the slow hash: another request may have taken the name meanwhile.
    if (this.store.users.byName(u.name)) throw new ProblemError('conflict', `a user named ${u.name} exists`);
    this.store.users.put(user);
    return user;
  }

  async setPassword(userId: string, password: string): Promise<User> {
    const user = this.require(userId);
    const changed = { ...user, passwordHash: await hashPassword(password) };
    this.store.users.put(changed);
    // A new password ends the sessions the old one opened (someone else may hold one).
    this.store.sessions.deleteForUser(userId);
    return changed;
  }

  async update(userId: string, change: UserChange): Promise<User> {
    const user = this.require(userId);
    const next: User = { ...user, role: change.role ?? user.role, quota: { ...user.quota, ...change.quota } };
    if (change.disabled === true && !user.disabledAt) next.disabledAt = this.now().toISOString();
    if (change.disabled === false) delete next.disabledAt;
    if (isActiveAdmin(user) && !isActiveAdmin(next) && this.list().filter(isActiveAdmin).length === 1) {
      throw new ProblemError('conflict', `${user.name} is the last enabled admin; make another admin first`);
    }
    if (change.password !== undefined) next.passwordHash = await hashPassword(change.password);
    this.store.users.put(next);
    // Disabling a user or setting a new password signs them out everywhere at once, rather than
    // leaving each open session to be refused (or, for a password, to live on) until it ends.
    if (change.password !== undefined || (change.disabled === true && !user.disabledAt)) this.store.sessions.deleteForUser(userId);
    return next;
  }

  /**
   * The user whose name and password these are, or undefined: for an unknown name a dummy hash is
   * verified, so the answer takes as long; a disabled user is refused after the same work.
   */
  async checkPassword(name: string, password: string): Promise<User | undefined> {
    const user = this.store.users.byName(name);
    const ok = await verifyPassword(user?.passwordHash ?? (await this.dummyHash), password);
    return ok && user && !user.disabledAt ? user : undefined;
  }

  /**
   * Makes the first admin when there are no users at all: `admin` with a random password, returned
   * so `cps up` can print it once. Undefined when any user exists (it never resets a password).
   */
  async ensureFirstAdmin(): Promise<{ user: User; password: string } | undefined> {
    if (this.store.users.count() > 0) return undefined;
    const password = newPassword();
    const user = await this.createUser({ name: 'admin', password, role: 'admin' });
    return { user, password };
  }

  async createToken(userId: string, name: string, expiresInDays?: number): Promise<{ token: ApiToken; value: string }> {
    this.require(userId);
    const id = newTokenId();
    const secret = newSecret();
    const now = this.now();
    const token: ApiToken = {
      id,
      userId,
      name,
      secretHash: sha256Hex(secret),
      createdAt: now.toISOString(),
      ...(expiresInDays ? { expiresAt: new Date(now.getTime() + expiresInDays * 86_400_000).toISOString() } : {}),
    };
    this.store.tokens.put(token);
    return { token, value: formatToken(id, secret) };
  }

  listTokens(userId: string): ApiToken[] {
    return this.store.tokens.listFor(userId).sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id.localeCompare(a.id));
  }

  /** Revokes a token of `by` (or anyone's, for an admin); someone else's token is not found. */
  revokeToken(by: User, tokenId: string): ApiToken {
    const token = this.store.tokens.get(tokenId);
    if (!token || (token.userId !== by.id && by.role !== 'admin')) throw new ProblemError('not-found', `no API token ${tokenId}`);
    if (token.revokedAt) return token;
    const revoked = { ...token, revokedAt: this.now().toISOString() };
    this.store.tokens.put(revoked);
    return revoked;
  }

  /** Who a bearer value signs in. Past the secret check, it says why a real token no longer works. */
  checkToken(value: string): TokenCheck {
    const parsed = parseToken(value);
    const token = parsed && this.store.tokens.get(parsed.id);
    if (!parsed || !token || !sameDigest(token.secretHash, sha256Hex(parsed.secret))) return { failure: 'invalid-token' };
    const now = this.now();
    if (token.revokedAt) return { failure: 'token-revoked' };
    if (token.expiresAt && Date.parse(token.expiresAt) <= now.getTime()) return { failure: 'token-expired' };
    const user = this.store.users.get(token.userId);
    if (!user) return { failure: 'invalid-token' };
    if (user.disabledAt) return { failure: 'account-disabled' };
    if (!token.lastUsedAt || now.getTime() - Date.parse(token.lastUsedAt) >= tokenTouchMs) {
      token.lastUsedAt = now.toISOString();
      this.store.tokens.put(token);
    }
    return { user, token };
  }

  /** A new session for a signed-in user: the cookie's value (never stored) and the session. */
  startSession(userId: string): { value: string; session: Session } {
    this.require(userId);
    const value = newSecret();
    const now = this.now();
    const session: Session = {
      idHash: sha256Hex(value),
      userId,
      createdAt: now.toISOString(),
      expiresAt: this.expiry(now, now).toISOString(),
    };
    this.store.sessions.put(session);
    this.store.sessions.deleteExpired(now);
    return { value, session };
  }

  /**
   * The session a cookie value names, renewed when less than half its idle time is left (so
   * the cookie is re-sent at most about twice per idle period); undefined when ended or unknown.
   */
  checkSession(value: string): SessionCheck | { failure: 'account-disabled' } | undefined {
    const idHash = sha256Hex(value);
    const session = this.store.sessions.get(idHash);
    const now = this.now();
    if (!session) return undefined;
    if (Date.parse(session.expiresAt) <= now.getTime()) {
      this.store.sessions.delete(idHash);
      return undefined;
    }
    const user = this.store.users.get(session.userId);
    if (!user) return undefined;
    if (user.disabledAt) return { failure: 'account-disabled' };
    const left = Date.parse(session.expiresAt) - now.getTime();
    const next = this.expiry(new Date(session.createdAt), now);
    if (left < this.times.idleMs / 2 && next.getTime() > Date.parse(session.expiresAt)) {
      const renewed = { ...session, expiresAt: next.toISOString() };
      this.store.sessions.put(renewed);
      return { user, session: renewed, renewed: true };
    }
    return { user, session, renewed: false };
  }

  endSession(value: string): void {
    this.store.sessions.delete(sha256Hex(value));
  }

  private expiry(createdAt: Date, now: Date): Date {
    return new Date(Math.min(now.getTime() + this.times.idleMs, createdAt.getTime() + this.times.maxMs));
  }

  private require(userId: string): User {
    const user = this.store.users.get(userId);
    if (!user) throw new ProblemError('not-found', `no user ${userId}`);
    return user;
  }
}

const isActiveAdmin = (u: User) => u.role === 'admin' && !u.disabledAt;
