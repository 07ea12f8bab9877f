import { newPassword } from '@cps/coordinator/accounts/secrets.ts';
import { parse, UsageError, urlOption } from '../args.ts';
import { coordinatorAt } from '../task/connect.ts';
import type { Io } from '../io.ts';
import { call } from '../task/client.ts';
import { table } from './token.ts';

export const userHelp = `Usage: cps user <command> [options]   (an admin's commands)

Commands:
  add NAME [--admin]   a new user with a generated password (shown once)
  list                 every user, their role and quota

Options: --url URL (default: $CPS_URL or http://localhost:8080), --json
`;

const common = { url: { type: 'string' }, json: { type: 'boolean' } } as const;

export async function user(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') return io.out(userHelp), sub ? 0 : 2;
  if (sub === 'add') {
    const { values, positionals } = parse(rest, { ...common, admin: { type: 'boolean' } }, 1);
    if (values.help) return io.out(userHelp), 0;
    const name = positionals[0];
    if (!name) throw new UsageError('a NAME is required, e.g. cps user add alice');
    const url = urlOption(values.url, io.env);
    const password = newPassword();
    const made = await call(url, () =>
      coordinatorAt(io.env, url).POST('/api/users', { body: { name, password, role: values.admin ? 'admin' : 'user' } }),
    );
    if (values.json) io.out(JSON.stringify({ ...made, password }, null, 2));
    else io.out(`user ${made.name} (${made.role}) made; password, shown once: ${password}\nthey sign in with: cps login --url ${url} --name ${made.name}`);
    return 0;
  }
  if (sub === 'list') {
    const { values } = parse(rest, common);
    if (values.help) return io.out(userHelp), 0;
    const url = urlOption(values.url, io.env);
    const { items } = await call(url, () => coordinatorAt(io.env, url).GET('/api/users'));
    if (values.json) return io.out(JSON.stringify(items, null, 2)), 0;
    const rows = items.map((u) => [u.name, u.role, u.disabled ? 'disabled' : 'enabled', `${u.quota.vcpus} vCPUs, ${u.quota.memoryMiB} MiB, ${u.quota.diskMiB} MiB disk, ${u.quota.runningTasks} tasks`]);
    io.out(table(['NAME', 'ROLE', 'STATE', 'QUOTA'], rows));
    return 0;
  }
  throw new UsageError(`unknown command 'user ${sub}' (try: add, list)`);
}
