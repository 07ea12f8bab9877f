import { Accounts } from '@cps/coordinator/accounts/accounts.ts';
import { openRegistry, registryPath } from '@cps/coordinator/registry/db.ts';

/**
 * The first `cps up` of a node makes its first admin and shows the password once, on the
 * terminal of the person who ran it: never in a service's log. Later runs find users and say nothing.
 */
export async function firstAdmin(dataDir: string): Promise<{ name: string; password: string } | undefined> {
  const registry = openRegistry(registryPath(dataDir), { now: () => new Date() });
  try {
    const made = await new Accounts({ store: registry.accounts, now: () => new Date() }).ensureFirstAdmin();
    return made && { name: made.user.name, password: made.password };
  } finally {
    registry.close();
  }
}
