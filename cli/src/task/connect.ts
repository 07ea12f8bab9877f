import type { CoordinatorClient } from '@cps/openapi';
import { fetchFor, trustFor } from '../auth/coordinator-trust.ts';
import { tokenFor } from '../auth/credentials.ts';
import { clientFor } from './client.ts';

/**
 * The typed client every command uses for the coordinator at `url`: the saved (or CPS_TOKEN)
 * token, and over https the trust `trustFor` finds (a pinned cluster CA, else the system store).
 */
export const coordinatorAt = (env: NodeJS.ProcessEnv, url: string): CoordinatorClient => clientFor(url, tokenFor(env, url), fetchFor(trustFor(env, url), url));
