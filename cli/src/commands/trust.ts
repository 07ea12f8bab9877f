import { parse, UsageError } from '../args.ts';
import type { Io } from '../io.ts';
import { ask, localDiscovery } from '../trust/local.ts';

export const joinTokenHelp = `Usage: cps join-token [--ttl DURATION]     make a one-time token and print the command for a new workstation
       cps join-token list                 the tokens this node issued and their state
       cps join-token revoke ID            a token that must not be used any more

  --ttl DURATION   how long the token is valid: 90s, 30m, 1h (default), 2d (at most 7d)
  --data-dir DIR   this node's data dir (default: $CPS_DATA_DIR or /var/lib/cps)
  --port N         this node's discovery port (default: $CPS_DISCOVERY_PORT or 8081)
  --json           print JSON
Runs on a member, as root (it uses this node's certificate).
`;

export const nodeHelp = `Usage: cps node list                  the peers this node knows, with their state
       cps node remove ID             remove a node: every member refuses its certificate within seconds

  --data-dir DIR, --port N, --json: as for cps join-token
A removed workstation may join again later with a new token (cps join-token).
`;

const common = { 'data-dir': { type: 'string' }, port: { type: 'string' }, json: { type: 'boolean' } } as const;

/** "90s", "30m", "1h", "2d" → seconds. */
export function parseTtl(text: string): number {
  const m = /^(\d{1,6})([smhd])$/.exec(text.trim());
  if (!m) throw new UsageError(`--ttl must look like 90s, 30m, 1h or 2d, got '${text}'`);
  const sec = Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86400 }[m[2] as 's' | 'm' | 'h' | 'd'];
  if (sec < 60 || sec > 7 * 86400) throw new UsageError(`--ttl must be between 1m and 7d, got '${text}'`);
  return sec;
}

export async function joinToken(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...common, ttl: { type: 'string' } }, 2);
  if (values.help) return io.out(joinTokenHelp), 0;
  const { client, baseUrl } = localDiscovery(io.env, { dataDir: values['data-dir'], port: values.port });
  const [sub, id] = positionals;
  if (sub === undefined) {
    const ttlSec = values.ttl === undefined ? 3600 : parseTtl(values.ttl);
    const made = await ask(baseUrl, () => client.POST('/trust/join-tokens', { body: { ttlSec } }));
    if (values.json) return io.out(JSON.stringify(made, null, 2)), 0;
    io.out(`join token ${made.info.id}, valid until ${made.info.expiresAt}, for one workstation.`);
    io.out('On the new workstation, as root, in a copy of CPS:');
    io.out('');
    io.out(`  bash scripts/setup.sh && node cli/bin/cps.js ${made.command.replace(/^cps /, '')}`);
    io.out('');
    io.out('The token is shown only now; `cps join-token revoke ' + made.info.id + '` withdraws it.');
    return 0;
  }
  if (sub === 'list') {
    const { items } = await ask(baseUrl, () => client.GET('/trust/join-tokens'));
    if (values.json) return io.out(JSON.stringify(items, null, 2)), 0;
    if (!items.length) return io.out('No join tokens issued by this node.'), 0;
    io.out(['ID', 'STATE', 'EXPIRES', 'USED BY'].map((h, i) => h.padEnd([10, 9, 26, 0][i]!)).join(''));
    for (const t of items) io.out(`${t.id.padEnd(10)}${t.state.padEnd(9)}${t.expiresAt.padEnd(26)}${t.usedBy ?? ''}`);
    return 0;
  }
  if (sub === 'revoke') {
    if (!id) throw new UsageError('revoke needs the token id (cps join-token list shows them)');
    const t = await ask(baseUrl, () => client.DELETE('/trust/join-tokens/{tokenId}', { params: { path: { tokenId: id } } }));
    io.out(values.json ? JSON.stringify(t, null, 2) : `join token ${t.id} revoked`);
    return 0;
  }
  throw new UsageError(`unknown subcommand '${sub}' (try: list, revoke ID, or none to make a token)`);
}

export async function node(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, common, 2);
  const [sub, id] = positionals;
  if (values.help || !sub) return io.out(nodeHelp), values.help ? 0 : 2;
  const { client, baseUrl } = localDiscovery(io.env, { dataDir: values['data-dir'], port: values.port });
  if (sub === 'list') {
    const { items } = await ask(baseUrl, () => client.GET('/peers'));
    if (values.json) return io.out(JSON.stringify(items, null, 2)), 0;
    if (!items.length) return io.out('No peers heard yet.'), 0;
    for (const p of items) io.out(`${p.nodeId.padEnd(24)}${p.state.padEnd(9)}${p.address}`);
    return 0;
  }
  if (sub === 'remove') {
    if (!id) throw new UsageError('remove needs the node id (cps node list shows them)');
    const r = await ask(baseUrl, () => client.POST('/trust/removals', { body: { nodeId: id } }));
    const mine = r.items.filter((x) => x.nodeId === id).at(-1);
    io.out(values.json ? JSON.stringify(r, null, 2) : `node ${id} removed at ${mine?.removedAt}: its certificate is refused by this node now and by every peer within seconds`);
    return 0;
  }
  throw new UsageError(`unknown subcommand '${sub}' (try: list, remove ID)`);
}
