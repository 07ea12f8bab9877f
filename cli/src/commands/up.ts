import { intOption, parse, UsageError } from '../args.ts';
import { prepareNode } from '../trust/prepare.ts';
import { paint, type Color, type Io } from '../io.ts';
import { renderLogLine } from '../logline.ts';
import { waitHealthy } from '../up/health.ts';
import { entryOf, planNode, portKey, portsInUse, repoRoot, serviceNames, type ServiceName } from '../up/services.ts';
import { describeExit, Supervisor, type Child } from '../up/supervisor.ts';

export const upHelp = `Usage: cps up [options]

Starts this node's five services (coordinator, discovery, provisioner, storage, vnc-gateway) as
child processes, waits until each answers GET /healthz, prints the portal URL and streams their
logs. Ctrl-C stops them all (SIGTERM, then SIGKILL after 5 s). The environment is passed on.
The first run makes the cluster: its CA and this node's certificate (DATA_DIR/tls) and the PEP
key (DATA_DIR/cluster.key). Another workstation joins with the command \`cps join-token\` prints
on any member: cps up --join HOST:PORT --token T (it checks the cluster's CA against the token
before it sends anything, and writes nothing if the join is refused).

Options:
  --join HOST:PORT        join the cluster of the member at HOST:PORT (its discovery port)
  --token T               the join token (cps join-token on that member)
  --data-dir DIR          CPS_DATA_DIR for the services (default: $CPS_DATA_DIR or /var/lib/cps)
  --ports-base N          ports N..N+4 (coordinator, discovery, provisioner, storage, vnc-gateway)
                          and the PEP multicast port N+9; default: CPS_*_PORT or 8080..8084
  --health-timeout SEC    how long to wait for every service to be healthy (default 60)
  -h, --help              this text
`;

const colors: Record<ServiceName, Color> = {
  coordinator: 'cyan',
  discovery: 'magenta',
  provisioner: 'blue',
  storage: 'yellow',
  'vnc-gateway': 'green',
};

const width = Math.max(...serviceNames.map((s) => s.length));

/** What `cps up` runs and how it learns to stop; tests pass fakes. */
export interface UpDeps {
  command?: (svc: ServiceName) => { cmd: string; args: string[] };
  /** Calls `stop(signalName)` when asked to stop; returns how to stop listening. */
  onStopRequest?: (stop: (signal: string) => void) => () => void;
}

const realCommand = (svc: ServiceName) => ({ cmd: process.execPath, args: ['--import', 'tsx', entryOf(svc)] });

function processSignals(stop: (signal: string) => void): () => void {
  const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const s of signals) process.on(s, stop);
  return () => signals.forEach((s) => process.off(s, stop));
}

export async function up(args: string[], io: Io, deps: UpDeps = {}): Promise<number> {
  const { values } = parse(args, {
    'data-dir': { type: 'string' },
    'ports-base': { type: 'string' },
    'health-timeout': { type: 'string' },
    join: { type: 'string' },
    token: { type: 'string' },
  });
  if (values.help) return io.out(upHelp), 0;
  const portsBase = values['ports-base'] === undefined ? undefined : intOption(values['ports-base'], '--ports-base', 1, 65535, 0);
  const timeoutMs = intOption(values['health-timeout'], '--health-timeout', 1, 3600, 60) * 1000;
  const plan = planNode(io.env, { portsBase, dataDir: values['data-dir'] });

  const prefix = (name: string, color: Color) => paint(io.color, color, name.padEnd(width)) + paint(io.color, 'gray', ' │ ');
  const say = (text: string, color: Color = 'bold') => io.out(prefix('cps', 'bold') + paint(io.color, color, text));
  const taken = await portsInUse(plan.ports);
  if (taken.length) {
    for (const t of taken) say(`FAILED: port ${t.port} (${t.svc}) is already in use: is another cps up running? (see cps doctor)`, 'red');
    return 1;
  }
  const dataDir = plan.env.CPS_DATA_DIR ?? '/var/lib/cps';
  if ((values.join === undefined) !== (values.token === undefined)) throw new UsageError('--join and --token go together (cps join-token on a member prints both)');
  if (!(await prepareNode(plan.env, dataDir, { join: values.join, token: values.token }, say))) return 1;
  const sup = new Supervisor({
    cwd: repoRoot,
    env: plan.env,
    onLine: (c, line) => io.out(prefix(c.name, colors[c.name as ServiceName]) + renderLogLine(line, io.color)),
  });

  // Ctrl-C reaches only us (children lead their own groups); a second one kills at once.
  let stopping: string | undefined;
  let wake: () => void = () => {};
  const stopRequested = new Promise<void>((r) => (wake = r));
  const onSignal = (signal: string) => {
    if (stopping) {
      say(`${signal} again: killing every service now`, 'red');
      sup.killAll();
      return;
    }
    stopping = signal;
    wake();
  };
  const unlisten = (deps.onStopRequest ?? processSignals)(onSignal);

  const shutdown = async (code: number): Promise<number> => {
    say('stopping every service (SIGTERM, SIGKILL after 5 s)');
    await sup.stopAll(5_000, (c) => say(`${c.name} did not stop within 5 s: SIGKILL`, 'yellow'));
    for (const c of sup.children) say(`${c.name} stopped (${describeExit(c.exit!)})`);
    unlisten();
    say(code === 0 ? 'all services stopped' : 'all services stopped after a failure', code === 0 ? 'green' : 'red');
    return code;
  };

  say(`starting ${serviceNames.length} services (data dir ${dataDir})`);
  const children = new Map<ServiceName, Child>();
  for (const svc of serviceNames) {
    const { cmd, args: argv } = (deps.command ?? realCommand)(svc);
    const child = sup.start(svc, cmd, argv);
    children.set(svc, child);
    say(`${svc} started (pid ${child.pid}, port ${plan.ports[portKey[svc]]})`);
  }

  const results = await Promise.race([
    Promise.all(
      serviceNames.map(async (svc) => {
        const child = children.get(svc)!;
        // One service gone means the node cannot come up: stop waiting for the others at once.
        const r = await waitHealthy(svc, plan.ports[portKey[svc]], { timeoutMs, gaveUp: () => sup.children.some((c) => c.exit) || Boolean(stopping) });
        return { svc, child, r };
      }),
    ),
    stopRequested.then(() => undefined),
  ]);
  if (stopping || !results) return shutdown(0);
  const exited = results.filter((x) => x.child.exit);
  const failed = exited.length ? exited : results.filter((x) => !x.r.ok);
  if (failed.length) {
    for (const { svc, child, r } of failed) {
      const why = child.exit ? `exited (${describeExit(child.exit)}) while starting` : `did not come up within ${timeoutMs / 1000} s (${r.ok ? '' : r.detail})`;
      say(`FAILED: ${svc} ${why}; its last log lines:`, 'red');
      for (const line of child.tail) io.out(prefix(svc, colors[svc]) + renderLogLine(line, io.color));
      if (!child.tail.length) io.out(prefix(svc, colors[svc]) + '(no output)');
    }
    return shutdown(1);
  }

  say(`all services healthy; portal: http://localhost:${plan.ports.coordinator}`, 'green');
  say(`this node is ${plan.env.CPS_NODE_ID} at ${plan.env.CPS_ADVERTISE_ADDRESS}; another workstation joins with the command \`cps join-token\` prints`);
  const died = await Promise.race([
    stopRequested.then(() => undefined),
    ...sup.children.map((c) => c.exited.then(() => c)),
  ]);
  if (!died) {
    say(`${stopping} received`);
    return shutdown(0);
  }
  say(`!!! ${died.name} DIED (${describeExit(died.exit!)}) while running; stopping the others !!!`, 'red');
  return shutdown(1);
}

