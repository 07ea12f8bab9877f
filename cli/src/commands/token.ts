import { intOption, parse, UsageError, urlOption } from '../args.ts';
import { coordinatorAt } from '../task/connect.ts';
import type { Io } from '../io.ts';
import { call } from '../task/client.ts';

export const tokenHelp = `Usage: cps token <command> [options]

Commands:
  create NAME [--expires-days N]   a new API token for scripts (shown once)
  list                             your tokens (never their secrets)
  revoke ID                        stop a token working at once

Options: --url URL (default: $CPS_URL or http://localhost:8080), --json
`;

const common = { url: { type: 'string' }, json: { type: 'boolean' } } as const;

export async function token(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') return io.out(tokenHelp), sub ? 0 : 2;
  if (sub === 'create') {
    const { values, positionals } = parse(rest, { ...common, 'expires-days': { type: 'string' } }, 1);
    if (values.help) return io.out(tokenHelp), 0;
    const name = positionals[0];
    if (!name) throw new UsageError('a NAME for the token is required, e.g. cps token create ci');
    const url = urlOption(values.url, io.env);
    const days = values['expires-days'] === undefined ? undefined : intOption(values['expires-days'], '--expires-days', 1, 3650, 1);
    const made = await call(url, () => coordinatorAt(io.env, url).POST('/api/tokens', { body: { name, ...(days ? { expiresInDays: days } : {}) } }));
    if (values.json) io.out(JSON.stringify(made, null, 2));
    else io.out(`token ${made.id} (${made.name})${made.expiresAt ? `, until ${made.expiresAt}` : ''}; shown once, keep it secret:\n${made.token}`);
    return 0;
  }
  if (sub === 'list') {
    const { values } = parse(rest, common);
    if (values.help) return io.out(tokenHelp), 0;
    const url = urlOption(values.url, io.env);
    const { items } = await call(url, () => coordinatorAt(io.env, url).GET('/api/tokens'));
    if (values.json) return io.out(JSON.stringify(items, null, 2)), 0;
    if (items.length === 0) return io.out('No tokens'), 0;
    const rows = items.map((t) => [t.id, t.name, t.createdAt, t.revokedAt ? `revoked ${t.revokedAt}` : t.expiresAt ? `until ${t.expiresAt}` : 'until revoked', t.lastUsedAt ?? '-']);
    io.out(table(['ID', 'NAME', 'CREATED', 'STATUS', 'LAST USED'], rows));
    return 0;
  }
  if (sub === 'revoke') {
    const { values, positionals } = parse(rest, common, 1);
    if (values.help) return io.out(tokenHelp), 0;
    const id = positionals[0];
    if (!id || !/^[0-9a-f]{16}$/.test(id)) throw new UsageError('a token ID (16 hex digits, see cps token list) is required');
    const url = urlOption(values.url, io.env);
    await call(url, () => coordinatorAt(io.env, url).DELETE('/api/tokens/{tokenId}', { params: { path: { tokenId: id } } }).then((r) => ({ ...r, data: r.data ?? {} })));
    io.out(`token ${id} revoked`);
    return 0;
  }
  throw new UsageError(`unknown command 'token ${sub}' (try: create, list, revoke)`);
}

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
