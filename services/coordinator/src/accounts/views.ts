import type { CoordinatorSchemas } from '@cps/openapi';
import type { ApiToken, User } from './types.ts';

/** A user as the API shows them: never the password hash. */
export const userView = (u: User): CoordinatorSchemas['User'] => ({
  id: u.id,
  name: u.name,
  role: u.role,
  quota: { ...u.quota },
  createdAt: u.createdAt,
  disabled: u.disabledAt !== undefined,
  ...(u.disabledAt ? { disabledAt: u.disabledAt } : {}),
});

/** A token as the API shows it: never the secret's hash. */
export const tokenView = (t: ApiToken): CoordinatorSchemas['ApiToken'] => ({
  id: t.id,
  userId: t.userId,
  name: t.name,
  createdAt: t.createdAt,
  ...(t.expiresAt ? { expiresAt: t.expiresAt } : {}),
  ...(t.lastUsedAt ? { lastUsedAt: t.lastUsedAt } : {}),
  ...(t.revokedAt ? { revokedAt: t.revokedAt } : {}),
});
