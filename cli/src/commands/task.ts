import type { CoordinatorSchemas } from '@cps/openapi';
import { intOption, parse, UsageError, urlOption } from '../args.ts';
import type { Io } from '../io.ts';
import { tokenFor } from '../auth/credentials.ts';
import { call, clientFor, CommandError } from '../task/client.ts';
import { problemLine, taskDetail, taskTable } from '../task/format.ts';
import { waitForTask } from '../task/wait.ts';

type Task = CoordinatorSchemas['Task'];

export const taskHelp = `Usage: cps task <command> [options]

Commands:
  submit --name NAME [--vcpus 1] [--memory 256] [--disk 64] [--image tiny] [--wait]
                     ask for a machine; --wait follows it until it runs (or fails)
  list               your tasks (an admin's: everyone's), newest first
  show ID            one task, with its history
  stop ID [--wait]   stop a task (its guest is destroyed, its disks discarded)

Common options:
  --url URL          the coordinator (default: $CPS_URL or http://localhost:8080)
                     every command sends the token cps login saved for it (or $CPS_TOKEN)
  --json             print JSON instead of text
  --interval MS      how often --wait polls (default 1000)
  --timeout SEC      how long --wait waits (default 300)
  -h, --help         help for a command, e.g. cps task submit --help
`;

const helps: Record<string, string> = {
  submit: `Usage: cps task submit --name NAME [options]

  --name NAME      what to call the task (any text, 1-64 characters)
  --vcpus N        virtual CPUs (default 1)
  --memory MIB     memory in MiB (default 256)
  --disk MIB       disk in MiB (default 64)
  --image ID       image to boot (default tiny)
  --wait           follow the task until it is running; exit 1 if it fails
  --url, --json, --interval, --timeout: see cps task --help
`,
  list: `Usage: cps task list [--url URL] [--json]\n`,
  show: `Usage: cps task show ID [--url URL] [--json]\n`,
  stop: `Usage: cps task stop ID [--wait] [--url URL] [--json]

  --wait           follow the task until it is stopped
`,
};

const common = {
  url: { type: 'string' },
  json: { type: 'boolean' },
  interval: { type: 'string' },
  timeout: { type: 'string' },
} as const;

export async function task(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') return io.out(taskHelp), sub ? 0 : 2;
  switch (sub) {
    case 'submit':
      return submit(rest, io);
    case 'list':
      return list(rest, io);
    case 'show':
      return show(rest, io);
    case 'stop':
      return stop(rest, io);
    default:
      throw new UsageError(`unknown command 'task ${sub}' (try: submit, list, show, stop)`);
  }
}

function waitOptions(values: { interval?: string; timeout?: string }) {
  return {
    intervalMs: intOption(values.interval, '--interval', 10, 600_000, 1000),
    timeoutMs: intOption(values.timeout, '--timeout', 1, 86_400, 300) * 1000,
  };
}

function idArg(positionals: string[]): string {
  const id = positionals[0];
  if (!id) throw new UsageError('a task ID is required (see cps task list)');
  if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(id)) throw new UsageError(`'${id}' is not a task ID (lower-case letters, digits and '-')`);
  return id;
}

async function submit(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, {
    ...common,
    name: { type: 'string' },
    vcpus: { type: 'string' },
    memory: { type: 'string' },
    disk: { type: 'string' },
    image: { type: 'string' },
    wait: { type: 'boolean' },
  });
  if (values.help) return io.out(helps.submit!), 0;
  if (!values.name) throw new UsageError('--name NAME is required');
  const url = urlOption(values.url, io.env);
  const body = {
    name: values.name,
    vcpus: intOption(values.vcpus, '--vcpus', 1, 64, 1),
    memoryMiB: intOption(values.memory, '--memory', 32, 1_048_576, 256),
    diskMiB: intOption(values.disk, '--disk', 1, 4_194_304, 64),
    image: values.image ?? 'tiny',
  };
  const w = waitOptions(values);
  const c = clientFor(url, tokenFor(io.env, url));
  const created = await call(url, () => c.POST('/api/tasks', { body }));
  if (!values.wait) return printTask(io, created, values.json, `task ${created.id} submitted (${created.state})`), 0;
  if (!values.json) io.out(`task ${created.id} submitted; waiting until it runs`);
  const t = await follow(io, url, created, ['running'], w, values.json, 0);
  return finish(io, t, 'running', values.json);
}

async function list(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, common);
  if (values.help) return io.out(helps.list!), 0;
  const url = urlOption(values.url, io.env);
  const c = clientFor(url, tokenFor(io.env, url));
  const r = await call(url, () => c.GET('/api/tasks'));
  io.out(values.json ? JSON.stringify(r.items, null, 2) : taskTable(r.items));
  return 0;
}

async function show(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, common, 1);
  if (values.help) return io.out(helps.show!), 0;
  const id = idArg(positionals);
  const url = urlOption(values.url, io.env);
  const c = clientFor(url, tokenFor(io.env, url));
  const t = await call(url, () => c.GET('/api/tasks/{taskId}', { params: { path: { taskId: id } } }));
  printTask(io, t, values.json);
  return 0;
}

async function stop(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...common, wait: { type: 'boolean' } }, 1);
  if (values.help) return io.out(helps.stop!), 0;
  const id = idArg(positionals);
  const url = urlOption(values.url, io.env);
  const w = waitOptions(values);
  const c = clientFor(url, tokenFor(io.env, url));
  const t = await call(url, () => c.DELETE('/api/tasks/{taskId}', { params: { path: { taskId: id } } }));
  if (!values.wait) return printTask(io, t, values.json, `task ${t.id} ${t.state}`), 0;
  if (!values.json) io.out(`task ${t.id} stopping; waiting until it is stopped`);
  // Show the story from the stop on, not the task's whole past.
  const from = t.history.map((h) => h.state).lastIndexOf('stopping');
  const end = await follow(io, url, t, ['stopped'], w, values.json, from >= 0 ? from : t.history.length);
  return finish(io, end, 'stopped', values.json);
}

function follow(io: Io, url: string, first: Task, until: Task['state'][], w: { intervalMs: number; timeoutMs: number }, json: boolean | undefined, skip: number) {
  const c = clientFor(url, tokenFor(io.env, url));
  return waitForTask(first, {
    until,
    ...w,
    skip,
    fetchTask: () => call(url, () => c.GET('/api/tasks/{taskId}', { params: { path: { taskId: first.id } } })),
    onChange: (line) => (json ? undefined : io.out(`  ${line}`)),
  });
}

function finish(io: Io, t: Task, wanted: Task['state'], json?: boolean): number {
  if (json) io.out(JSON.stringify(t, null, 2));
  if (t.state === wanted) {
    if (!json) io.out(`task ${t.id} is ${t.state}${t.state === 'running' && t.node ? ` on ${t.node.nodeId}` : ''}`);
    if (!json && t.state === 'running' && t.console) io.out(`console: ${t.console.vncUrl}`);
    return 0;
  }
  throw new CommandError(`task ${t.id} ended ${t.state}${t.error ? `: ${problemLine(t.error)}` : ''}`);
}

function printTask(io: Io, t: Task, json: boolean | undefined, summary?: string): void {
  io.out(json ? JSON.stringify(t, null, 2) : summary ?? taskDetail(t));
}
