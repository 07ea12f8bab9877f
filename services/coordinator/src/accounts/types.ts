/**
 * The coordinator's accounts as its stores keep them: the one shape the in-memory store (tests)
 * and the SQLite registry share. Secrets are kept only as hashes (argon2id for passwords, SHA-256
 * for bearer tokens and session ids: those are long random strings, a slow hash buys nothing).
 */
export type Role = 'user' | 'admin';

/** What one user may hold at once; a submit beyond it is refused with the limit and by how much. */
export interface Quota {
  vcpus: number;
  memoryMiB: number;
  diskMiB: number;
  runningTasks: number;
}

export interface User {
  id: string;
  name: string;
  role: Role;
  /** argon2id PHC string. */
  passwordHash: string;
  quota: Quota;
  createdAt: string;
  disabledAt?: string;
}

export interface ApiToken {
  id: string;
  userId: string;
  name: string;
  /** SHA-256 (hex) of the token's secret part. */
  secretHash: string;
  createdAt: string;
  expiresAt?: string;
  lastUsedAt?: string;
  revokedAt?: string;
}

export interface Session {
  /** SHA-256 (hex) of the cookie's value: a copy of the store signs no one in. */
  idHash: string;
  userId: string;
  createdAt: string;
  expiresAt: string;
}

/** Where accounts live: MemoryAccountStore in tests, the SQLite registry in a node. */
export interface AccountStore {
  users: {
    get(id: string): User | undefined;
    byName(name: string): User | undefined;
    list(): User[];
    put(user: User): void;
    count(): number;
  };
  tokens: {
    get(id: string): ApiToken | undefined;
    listFor(userId: string): ApiToken[];
    put(token: ApiToken): void;
  };
  sessions: {
    get(idHash: string): Session | undefined;
    put(session: Session): void;
    delete(idHash: string): void;
    /** Ends every session of one user (disabled, or a new password); returns how many. */
    deleteForUser(userId: string): number;
    /** Removes sessions that expired before `now`; returns how many. */
    deleteExpired(now: Date): number;
  };
}
