import { parse, UsageError, urlOption } from '../args.ts';
import { coordinatorAt } from '../task/connect.ts';
import type { Io } from '../io.ts';
import { call } from '../task/client.ts';
import { table } from './token.ts';

export const orphanHelp = `Usage: cps orphan <command> [options]   (an admin's)

Guests this coordinator placed that no task of its registry knows, found when it started.

Commands:
  list                       the orphans: node, task id, name, state, since when
  adopt ID [--owner NAME]    make one a running task again (yours, or the user NAME's)
  stop ID                    destroy the guest and its disks on its node

Options: --url URL (default: $CPS_URL or http://localhost:8080), --json
`;

const common = { url: { type: 'string' }, json: { type: 'boolean' } } as const;
const taskIdPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;

function idOf(positionals: string[]): string {
  const id = positionals[0];
  if (!id || !taskIdPattern.test(id)) throw new UsageError('an orphan ID (its task id, see cps orphan list) is required');
  return id;
}

export async function orphan(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') return io.out(orphanHelp), sub ? 0 : 2;
  if (sub === 'list') {
    const { values } = parse(rest, common);
    if (values.help) return io.out(orphanHelp), 0;
    const url = urlOption(values.url, io.env);
    const { items } = await call(url, () => coordinatorAt(io.env, url).GET('/api/orphans'));
    if (values.json) return io.out(JSON.stringify(items, null, 2)), 0;
    if (items.length === 0) return io.out('No orphans'), 0;
    io.out(table(['ID', 'NODE', 'NAME', 'STATE', 'SINCE'], items.map((o) => [o.taskId, o.node.nodeId, o.name, o.state, o.since])));
    return 0;
  }
  if (sub === 'adopt') {
    const { values, positionals } = parse(rest, { ...common, owner: { type: 'string' } }, 1);
    if (values.help) return io.out(orphanHelp), 0;
    const id = idOf(positionals);
    const url = urlOption(values.url, io.env);
    const task = await call(url, () =>
      coordinatorAt(io.env, url).POST('/api/orphans/{taskId}/adopt', { params: { path: { taskId: id } }, body: values.owner === undefined ? {} : { owner: values.owner } }),
    );
    if (values.json) return io.out(JSON.stringify(task, null, 2)), 0;
    io.out(`adopted ${task.id} (${task.name}), ${task.state} on ${task.node?.nodeId ?? '?'}, owned by ${task.owner?.name ?? '?'}; stop it with cps task stop ${task.id}`);
    return 0;
  }
  if (sub === 'stop') {
    const { values, positionals } = parse(rest, common, 1);
    if (values.help) return io.out(orphanHelp), 0;
    const id = idOf(positionals);
    const url = urlOption(values.url, io.env);
    await call(url, () => coordinatorAt(io.env, url).DELETE('/api/orphans/{taskId}', { params: { path: { taskId: id } } }).then((r) => ({ ...r, data: r.data ?? {} })));
    io.out(`orphan ${id} destroyed, its disks discarded`);
    return 0;
  }
  throw new UsageError(`unknown command 'orphan ${sub}' (try: list, adopt, stop)`);
}
