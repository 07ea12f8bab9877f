import { parse, UsageError } from '../args.ts';
import type { Io } from '../io.ts';
import { prepareNode } from '../trust/prepare.ts';

export const initHelp = `Usage: cps init [--data-dir DIR] [--join HOST:PORT --token T]

Makes this node a member without starting its services: the first node of a cluster gets the
cluster's CA, its certificate and the PEP key; with --join it joins the member at HOST:PORT (the
command cps join-token prints). Safe to run twice. For running the services some other way than
cps up (docker-compose: docs/compose.md).
`;

export async function init(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, { 'data-dir': { type: 'string' }, join: { type: 'string' }, token: { type: 'string' } });
  if (values.help) return io.out(initHelp), 0;
  if ((values.join === undefined) !== (values.token === undefined)) throw new UsageError('--join and --token go together (cps join-token on a member prints both)');
  const env = { ...io.env };
  const dataDir = values['data-dir'] ?? env.CPS_DATA_DIR ?? '/var/lib/cps';
  const ok = await prepareNode(env, dataDir, { join: values.join, token: values.token }, (line) => io.out(`cps init: ${line}`));
  if (ok) io.out(`cps init: node ${env.CPS_NODE_ID} ready in ${dataDir} (address ${env.CPS_ADVERTISE_ADDRESS})`);
  return ok ? 0 : 1;
}
