import type { AccountStore, ApiToken, Session, User } from './types.ts';

/** Accounts in Maps: for tests, and for a coordinator started without a registry. */
export class MemoryAccountStore implements AccountStore {
  private readonly userMap = new Map<string, User>();
  private readonly tokenMap = new Map<string, ApiToken>();
  private readonly sessionMap = new Map<string, Session>();

  // Copies in and out, as a database would: a caller's later edit changes nothing stored.
  readonly users = {
    get: (id: string) => copy(this.userMap.get(id)),
    byName: (name: string) => copy([...this.userMap.values()].find((u) => u.name === name)),
    list: () => [...this.userMap.values()].map((u) => copy(u)!),
    put: (user: User) => void this.userMap.set(user.id, copy(user)!),
    count: () => this.userMap.size,
  };

  readonly tokens = {
    get: (id: string) => copy(this.tokenMap.get(id)),
    listFor: (userId: string) => [...this.tokenMap.values()].filter((t) => t.userId === userId).map((t) => copy(t)!),
    put: (token: ApiToken) => void this.tokenMap.set(token.id, copy(token)!),
  };

  readonly sessions = {
    get: (idHash: string) => copy(this.sessionMap.get(idHash)),
    put: (session: Session) => void this.sessionMap.set(session.idHash, copy(session)!),
    delete: (idHash: string) => void this.sessionMap.delete(idHash),
    deleteForUser: (userId: string) => {
      let n = 0;
      for (const [k, s] of this.sessionMap) {
        if (s.userId === userId) {
          this.sessionMap.delete(k);
          n++;
        }
      }
      return n;
    },
    deleteExpired: (now: Date) => {
      let n = 0;
      for (const [k, s] of this.sessionMap) {
        if (Date.parse(s.expiresAt) < now.getTime()) {
          this.sessionMap.delete(k);
          n++;
        }
      }
      return n;
    },
  };
}

const copy = <T>(x: T | undefined): T | undefined => (x === undefined ? undefined : structuredClone(x));
