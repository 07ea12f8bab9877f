import { readFile } from 'node:fs/promises';
import type { CoordinatorSchemas } from '@cps/openapi';
import { intOption, parse, UsageError, urlOption } from '../args.ts';
import { sanitize } from '../logline.ts';
import type { Io } from '../io.ts';
import { coordinatorAt } from '../task/connect.ts';
import { call, CommandError } from '../task/client.ts';
import { consoleUrls, problemLine, taskDetail, taskTable } from '../task/format.ts';
import { waitForTask } from '../task/wait.ts';
import { downloadFile } from '../task/download.ts';
import { newSerialText, wholeLines } from '../task/logs.ts';

type Task = CoordinatorSchemas['Task'];

export const taskHelp = `Usage: cps task <command> [options]

Commands:
  submit --name NAME [--vcpus 1] [--memory 256] [--disk 64] [--image tiny] [--wait]
         [--network user|none] [--checkpoint-every MIN] [--keep-copy]
         [--user-data FILE] [--bootstrap ID]
                     ask for a machine; --wait follows it until it runs (or fails)
  list               your tasks (an admin's: everyone's), newest first
  show ID            one task, with its history
  stop ID [--wait]   stop a task (its guest is destroyed, its disks discarded)
  suspend ID         pause its guest (it keeps its memory and its place on the host)
  resume ID          let a suspended guest run again
  checkpoint ID      save the guest's whole state on its host; it runs on
  restart ID         hard reset: the guest made again on the same host, its disks kept
  logs ID [--follow] the guest's serial console output; --follow prints more as it comes
  download ID [--out DIR]
                     the kept copy of an ended task's disks (submitted with --keep-copy);
                     resumes a partial download
  delete ID          delete the record of a stopped or failed task

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
  --network user|none
                   user: outgoing connections through the host (NAT); none: no network card
                   (default: the host's choice)
  --checkpoint-every MIN
                   save the guest's state every MIN minutes (1-10080)
  --keep-copy      keep a compressed copy of the disks when the task stops (cps task download)
  --user-data FILE cloud-init user-data (at most 64 KiB), e.g. a #cloud-config file
  --bootstrap ID   files for the guest's bootstrap disk (an id from uploading them)
  --wait           follow the task until it is running; exit 1 if it fails
  --url, --json, --interval, --timeout: see cps task --help
`,
  list: `Usage: cps task list [--url URL] [--json]\n`,
  show: `Usage: cps task show ID [--url URL] [--json]\n`,
  stop: `Usage: cps task stop ID [--wait] [--url URL] [--json]

  --wait           follow the task until it is stopped
`,
  suspend: `Usage: cps task suspend ID [--url URL] [--json]
`,
  resume: `Usage: cps task resume ID [--url URL] [--json]
`,
  checkpoint: `Usage: cps task checkpoint ID [--url URL] [--json]
`,
  restart: `Usage: cps task restart ID [--url URL] [--json]
`,
  logs: `Usage: cps task logs ID [--follow] [--interval MS] [--url URL]

  --follow         keep printing what the guest writes, until the task ends (or Ctrl-C)
`,
  download: `Usage: cps task download ID [--out DIR] [--url URL]

  --out DIR        where the files go (default: the current folder), named ID-FILE;
                   a partial file from an earlier try is resumed
`,
  delete: `Usage: cps task delete ID [--url URL]

  Deletes the record of a task that has stopped or failed (stop it first).
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
    case 'suspend':
    case 'resume':
    case 'checkpoint':
    case 'restart':
      return action(sub, rest, io);
    case 'logs':
      return logs(rest, io);
    case 'download':
      return download(rest, io);
    case 'delete':
      return purge(rest, io);
    default:
      throw new UsageError(`unknown command 'task ${sub}' (try: submit, list, show, stop, suspend, resume, checkpoint, restart, logs, download, delete)`);
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
    network: { type: 'string' },
    'checkpoint-every': { type: 'string' },
    'keep-copy': { type: 'boolean' },
    'user-data': { type: 'string' },
    bootstrap: { type: 'string' },
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
    ...(await submitOptions(values)),
  };
  const w = waitOptions(values);
  const c = coordinatorAt(io.env, url);
  const created = await call(url, () => c.POST('/api/tasks', { body }));
  if (!values.wait) return printTask(io, url, created, values.json, `task ${created.id} submitted (${created.state})`), 0;
  if (!values.json) io.out(`task ${created.id} submitted; waiting until it runs`);
  const t = await follow(io, url, created, ['running'], w, values.json, 0);
  return finish(io, url, t, 'running', values.json);
}

/** The submit flags for the task's options, checked here so a mistake is told before anything is sent. */
async function submitOptions(values: { network?: string; 'checkpoint-every'?: string; 'keep-copy'?: boolean; 'user-data'?: string; bootstrap?: string }) {
  const network = values.network;
  if (network !== undefined && network !== 'user' && network !== 'none') throw new UsageError(`--network must be user or none, got '${network}'`);
  const every = values['checkpoint-every'] === undefined ? undefined : intOption(values['checkpoint-every'], '--checkpoint-every', 1, 10_080, 0);
  if (values.bootstrap !== undefined && !/^b-[0-9a-f]{24}$/.test(values.bootstrap)) {
    throw new UsageError(`'${values.bootstrap}' is not a bootstrap id (b- and 24 hex digits, as uploading the files answered)`);
  }
  let userData: string | undefined;
  if (values['user-data'] !== undefined) {
    try {
      userData = await readFile(values['user-data'], 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --user-data ${values['user-data']}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    if (userData.length > 65_536) throw new UsageError(`--user-data ${values['user-data']} has ${userData.length} characters; at most 65536`);
  }
  return {
    ...(network === undefined ? {} : { network: network as 'user' | 'none' }),
    ...(every === undefined ? {} : { checkpointEveryMin: every }),
    ...(values['keep-copy'] ? { keepCopy: true } : {}),
    ...(userData === undefined ? {} : { userData }),
    ...(values.bootstrap === undefined ? {} : { bootstrap: values.bootstrap }),
  };
}

const actionDone: Record<'suspend' | 'resume' | 'checkpoint' | 'restart', (t: Task) => string> = {
  suspend: (t) => `task ${t.id} ${t.state}`,
  resume: (t) => `task ${t.id} ${t.state}`,
  checkpoint: (t) => `task ${t.id}: checkpoint written${t.lastCheckpointAt ? ` at ${t.lastCheckpointAt}` : ''}; it is ${t.state}`,
  restart: (t) => `task ${t.id} restarted; it is ${t.state}`,
};

async function action(name: 'suspend' | 'resume' | 'checkpoint' | 'restart', args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, common, 1);
  if (values.help) return io.out(helps[name]!), 0;
  const id = idArg(positionals);
  const url = urlOption(values.url, io.env);
  const c = coordinatorAt(io.env, url);
  const t = await call(url, () => c.POST(`/api/tasks/{taskId}/${name}`, { params: { path: { taskId: id } } }));
  printTask(io, url, t, values.json, actionDone[name](t));
  return 0;
}

async function purge(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, common, 1);
  if (values.help) return io.out(helps.delete!), 0;
  const id = idArg(positionals);
  const url = urlOption(values.url, io.env);
  const c = coordinatorAt(io.env, url);
  const r = await c.DELETE('/api/tasks/{taskId}', { params: { path: { taskId: id }, query: { purge: 'true' } } }).catch((err: Error) => {
    if (err instanceof CommandError) throw err;
    throw new CommandError(`cannot reach the coordinator at ${url}: ${err.message}`);
  });
  if (r.response.status !== 204) await call(url, () => Promise.resolve(r));
  io.out(values.json ? JSON.stringify({ deleted: id }) : `task ${id} deleted`);
  return 0;
}

/** A serial console line as text: its CR (the guest's line ends are CRLF) dropped, control bytes made visible. */
export const serialLine = (l: string): string => sanitize(l.replace(/\r$/, ''));

async function logs(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...common, follow: { type: 'boolean', short: 'f' } }, 1);
  if (values.help) return io.out(helps.logs!), 0;
  const id = idArg(positionals);
  const url = urlOption(values.url, io.env);
  const { intervalMs } = waitOptions(values);
  const c = coordinatorAt(io.env, url);
  const read = () => call(url, () => c.GET('/api/tasks/{taskId}/serial', { params: { path: { taskId: id } }, parseAs: 'text' }));
  let seen = await read();
  if (!values.follow) {
    // The guest's bytes may hold terminal escapes: shown as text, never obeyed.
    if (seen) io.out(seen.split('\n').map(serialLine).join('\n'));
    return 0;
  }
  let pending = seen;
  for (;;) {
    const { lines, rest } = wholeLines(pending);
    for (const l of lines) io.out(serialLine(l));
    pending = rest;
    const t = await call(url, () => c.GET('/api/tasks/{taskId}', { params: { path: { taskId: id } } }));
    if (t.state === 'stopped' || t.state === 'failed') {
      if (pending) io.out(serialLine(pending));
      io.err(`task ${id} is ${t.state}`);
      return 0;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
    let now: string;
    try {
      now = await read();
    } catch (err) {
      // The task may have ended between the two reads (its host may keep no log then).
      const t2 = await call(url, () => c.GET('/api/tasks/{taskId}', { params: { path: { taskId: id } } }));
      if (t2.state !== 'stopped' && t2.state !== 'failed') throw err;
      now = seen;
    }
    pending += newSerialText(seen, now);
    seen = now;
  }
}

async function download(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...common, out: { type: 'string' } }, 1);
  if (values.help) return io.out(helps.download!), 0;
  const id = idArg(positionals);
  const url = urlOption(values.url, io.env);
  const c = coordinatorAt(io.env, url);
  const list = await call(url, () => c.GET('/api/tasks/{taskId}/download', { params: { path: { taskId: id } } }));
  const outDir = values.out ?? '.';
  const saved: string[] = [];
  for (const file of list.files) {
    try {
      saved.push((await downloadFile({ client: c, taskId: id, outDir, progress: (l) => io.err(l) }, file)).path);
    } catch (err) {
      if (err instanceof CommandError) throw err;
      throw new CommandError(`download of ${file.name} stopped: ${(err as Error).message} (run the same command again to resume)`);
    }
  }
  io.out(values.json ? JSON.stringify({ files: saved, expiresAt: list.expiresAt }, null, 2) : saved.join('\n'));
  return 0;
}

async function list(args: string[], io: Io): Promise<number> {
  const { values } = parse(args, common);
  if (values.help) return io.out(helps.list!), 0;
  const url = urlOption(values.url, io.env);
  const c = coordinatorAt(io.env, url);
  const r = await call(url, () => c.GET('/api/tasks'));
  io.out(values.json ? JSON.stringify(r.items, null, 2) : taskTable(r.items));
  return 0;
}

async function show(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, common, 1);
  if (values.help) return io.out(helps.show!), 0;
  const id = idArg(positionals);
  const url = urlOption(values.url, io.env);
  const c = coordinatorAt(io.env, url);
  const t = await call(url, () => c.GET('/api/tasks/{taskId}', { params: { path: { taskId: id } } }));
  printTask(io, url, t, values.json);
  return 0;
}

async function stop(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { ...common, wait: { type: 'boolean' } }, 1);
  if (values.help) return io.out(helps.stop!), 0;
  const id = idArg(positionals);
  const url = urlOption(values.url, io.env);
  const w = waitOptions(values);
  const c = coordinatorAt(io.env, url);
  const t = await call(url, () => c.DELETE('/api/tasks/{taskId}', { params: { path: { taskId: id } } }));
  if (!values.wait) return printTask(io, url, t, values.json, `task ${t.id} ${t.state}`), 0;
  if (!values.json) io.out(`task ${t.id} stopping; waiting until it is stopped`);
  // Show the story from the stop on, not the task's whole past.
  const from = t.history.map((h) => h.state).lastIndexOf('stopping');
  const end = await follow(io, url, t, ['stopped'], w, values.json, from >= 0 ? from : t.history.length);
  return finish(io, url, end, 'stopped', values.json);
}

function follow(io: Io, url: string, first: Task, until: Task['state'][], w: { intervalMs: number; timeoutMs: number }, json: boolean | undefined, skip: number) {
  const c = coordinatorAt(io.env, url);
  return waitForTask(first, {
    until,
    ...w,
    skip,
    fetchTask: () => call(url, () => c.GET('/api/tasks/{taskId}', { params: { path: { taskId: first.id } } })),
    onChange: (line) => (json ? undefined : io.out(`  ${line}`)),
  });
}

function finish(io: Io, url: string, t: Task, wanted: Task['state'], json?: boolean): number {
  if (json) io.out(JSON.stringify(t, null, 2));
  if (t.state === wanted) {
    if (!json) io.out(`task ${t.id} is ${t.state}${t.state === 'running' && t.node ? ` on ${t.node.nodeId}` : ''}`);
    const consoles = t.state === 'running' ? consoleUrls(t, url) : undefined;
    if (!json && consoles) io.out(`desktop: ${consoles.desktop}\nserial:  ${consoles.serial}`);
    return 0;
  }
  throw new CommandError(`task ${t.id} ended ${t.state}${t.error ? `: ${problemLine(t.error)}` : ''}`);
}

function printTask(io: Io, url: string, t: Task, json: boolean | undefined, summary?: string): void {
  io.out(json ? JSON.stringify(t, null, 2) : summary ?? taskDetail(t, url));
}
