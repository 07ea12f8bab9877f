import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { writeFilesAtomically } from './files.ts';
import { encodeJoinToken, newTokenParts, secretHash, secretMatches } from './join-token.ts';

const recordSchema = z.strictObject({
  id: z.string().regex(/^[0-9a-f]{8}$/),
  secretSha256: z.string().regex(/^[0-9a-f]{64}$/),
  createdAt: z.iso.datetime(),
  expiresAt: z.iso.datetime(),
  usedAt: z.iso.datetime().optional(),
  usedBy: z.string().max(64).optional(),
  revokedAt: z.iso.datetime().optional(),
});
type TokenRecord = z.infer<typeof recordSchema>;

export type TokenState = 'valid' | 'used' | 'revoked' | 'expired';
export interface TokenView {
  id: string;
  createdAt: string;
  expiresAt: string;
  state: TokenState;
  usedBy?: string;
  usedAt?: string;
}

/** Why a token was refused; `reason` is stable, for tests and the problem's `reason`. */
export class TokenRefused extends Error {
  override name = 'TokenRefused';
  constructor(
    readonly reason: 'unknown' | 'expired' | 'used' | 'revoked' | 'wrong-secret',
    message: string,
  ) {
    super(message);
  }
}

/**
 * The join tokens this node issued, one file (0600). A token is redeemed once: the file says so
 * before the new node gets its certificate, so a replayed or raced request finds it used.
 */
export class JoinTokens {
  constructor(
    private readonly path: string,
    private readonly caSha256: () => string,
    private readonly now: () => Date,
  ) {}

  private read(): TokenRecord[] {
    try {
      return z.array(recordSchema).parse(JSON.parse(readFileSync(this.path, 'utf8')));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  private write(records: TokenRecord[]): void {
    // Tokens long past their expiry say nothing useful: keep a day of history.
    const cutoff = this.now().getTime() - 86_400_000;
    const kept = records.filter((r) => Date.parse(r.expiresAt) > cutoff);
    writeFilesAtomically([{ path: this.path, data: `${JSON.stringify(kept, null, 1)}\n`, mode: 0o600 }]);
  }

  create(ttlMs: number): { token: string; view: TokenView } {
    const now = this.now();
    const { id, secret } = newTokenParts();
    const expiresAt = new Date(now.getTime() + ttlMs);
    const rec: TokenRecord = { id, secretSha256: secretHash(secret), createdAt: now.toISOString(), expiresAt: expiresAt.toISOString() };
    this.write([...this.read(), rec]);
    return { token: encodeJoinToken({ caSha256: this.caSha256(), id, secret, expiresAt }), view: this.view(rec) };
  }

  list(): TokenView[] {
    return this.read().map((r) => this.view(r));
  }

  revoke(id: string): TokenView | undefined {
    const records = this.read();
    const rec = records.find((r) => r.id === id);
    if (!rec) return undefined;
    rec.revokedAt ??= this.now().toISOString();
    this.write(records);
    return this.view(rec);
  }

  /** Throws TokenRefused unless token `id` could be redeemed now with `secret`; changes nothing. */
  check(id: string, secret: string): void {
    this.verified(this.read(), id, secret);
  }

  /** Checks and uses up token `id` for `nodeId`; throws TokenRefused with the reason. */
  redeem(id: string, secret: string, nodeId: string): void {
    const records = this.read();
    const rec = this.verified(records, id, secret);
    rec.usedAt = this.now().toISOString();
    rec.usedBy = nodeId;
    this.write(records);
  }

  // The secret first: without it, a caller learns nothing of a token's state.
  private verified(records: TokenRecord[], id: string, secret: string): TokenRecord {
    const rec = records.find((r) => r.id === id);
    if (!rec) throw new TokenRefused('unknown', `no join token ${id} was issued by this node (or it expired more than a day ago)`);
    if (!secretMatches(secret, rec.secretSha256)) throw new TokenRefused('wrong-secret', `the secret does not match join token ${id}`);
    if (rec.revokedAt) throw new TokenRefused('revoked', `join token ${id} was revoked at ${rec.revokedAt}`);
    if (rec.usedAt) throw new TokenRefused('used', `join token ${id} was already used by ${rec.usedBy ?? 'a node'} at ${rec.usedAt}; ask for a new one (cps join-token)`);
    if (Date.parse(rec.expiresAt) <= this.now().getTime()) throw new TokenRefused('expired', `join token ${id} expired at ${rec.expiresAt}; ask for a new one (cps join-token)`);
    return rec;
  }

  private view(r: TokenRecord): TokenView {
    const state: TokenState = r.revokedAt ? 'revoked' : r.usedAt ? 'used' : Date.parse(r.expiresAt) <= this.now().getTime() ? 'expired' : 'valid';
    return { id: r.id, createdAt: r.createdAt, expiresAt: r.expiresAt, state, ...(r.usedBy ? { usedBy: r.usedBy } : {}), ...(r.usedAt ? { usedAt: r.usedAt } : {}) };
  }
}
