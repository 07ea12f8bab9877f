// An unknown name costs what a wrong password costs: checkPassword verifies a real argon2id hash
// with the same parameters either way. Shown by what is verified, not by timing it (this machine
// is too noisy for timed assertions).
import { describe, expect, it, vi } from 'vitest';

const verified: string[] = [];
vi.mock('../src/accounts/password.ts', async (importOriginal) => {
  const real = await importOriginal<typeof import('../src/accounts/password.ts')>();
  return {
    ...real,
    verifyPassword: async (hash: string, password: string) => {
      verified.push(hash);
      return real.verifyPassword(hash, password);
    },
  };
});

const { accountsHarness } = await import('./accounts-harness.ts');

describe('checkPassword', () => {
  it('verifies a full argon2id hash of the same parameters for an unknown name as for a known one', async () => {
    const h = await accountsHarness({ limits: { perName: 1000, perAddress: 1000 } });
    verified.length = 0;
    expect(await h.accounts.checkPassword('alice', 'wrong-password')).toBeUndefined();
    expect(await h.accounts.checkPassword('nobody', 'wrong-password')).toBeUndefined();
    expect(await h.accounts.checkPassword('nobody-else', 'wrong-password')).toBeUndefined();
    expect(verified).toHaveLength(3);
    const params = (hash: string) => hash.split('$').slice(1, 4).join('$');
    expect(params(verified[0]!)).toBe('argon2id$v=19$m=19456,t=2,p=1');
    expect(verified.slice(1).map(params)).toEqual([params(verified[0]!), params(verified[0]!)]);
    // The unknown names were checked against a hash that is not alice's (nor anyone's).
    expect(verified[1]).not.toBe(verified[0]);
    expect(h.store.users.list().map((u) => u.passwordHash)).not.toContain(verified[1]);
  });
});
