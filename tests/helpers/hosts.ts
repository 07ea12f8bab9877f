// N hosts on one machine for multi-node tests: each a network namespace on a private bridge, with
// its own address, data dir and (optionally) libvirtd, able to run a node's services. See
// docs/testing.md. Everything made is named after the run (and its pid), tracked, and removed by
// destroy(), by a process exit/signal handler, or by the next run's stale clean-up.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { memberFetch, serviceUrl, type ClusterTls, type Fetch } from '@cps/common';
import { coordinatorClient, discoveryClient, provisionerClient, storageClient, vncGatewayClient, type DiscoveryClient, type ProvisionerClient, type StorageClient } from '@cps/openapi';
import { createCa, type CaFiles } from '@cps/trust';
import { issueMember, writeNodeIdentity } from './hosts-identity.ts';
import { makeDataDir, sourceDataDir, writeTestDriverNode } from './hosts-data.ts';
import { startLibvirtd, type HostLibvirt } from './hosts-libvirtd.ts';
import { bridgeNetfilterOn, forwardRuleArgs, freeSubnet, ip, ipIn, killNetns, netnsPids, newRun, removeRun, removeStaleRuns, sh, type RunNames } from './hosts-net.ts';
import { cleanEnv, startProcess, type HostProcess } from './hosts-process.ts';

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export const serviceNames = ['provisioner', 'storage', 'discovery', 'vnc-gateway', 'coordinator'] as const;
export type ServiceName = (typeof serviceNames)[number];

export interface HostPorts {
  coordinator: number;
  discovery: number;
  provisioner: number;
  storage: number;
  vncGateway: number;
  pep: number;
}

const portKey = { coordinator: 'coordinator', discovery: 'discovery', provisioner: 'provisioner', storage: 'storage', 'vnc-gateway': 'vncGateway' } as const;

export interface HostsOptions {
  /** Ports every host's services use (inside its own namespace): base+0..4 as `cps up`, PEP at base+9. */
  portsBase?: number;
  /** The shared PEP key; random by default. */
  clusterKey?: string;
  /** Environment for every host's services (after the harness's, before startServices'). */
  env?: Record<string, string>;
  /** What each host's test-driver hypervisor reports (when it runs no libvirtd of its own). */
  machine?: { cpus: number; memoryMiB: number };
  /** Where the `tiny` image and accel.json are copied from (default CPS_DATA_DIR or /var/lib/cps). */
  sourceDataDir?: string;
  /**
   * `harness` (default): the harness makes a cluster CA and gives every host a node certificate,
   * as `cps up` and joining would; `none`: hosts start without one (to test `cps up` and joins).
   */
  identities?: 'harness' | 'none';
}

export interface StartOptions {
  /** Which services; default discovery and provisioner (discovery asks it for capacity); 'all' = the five. */
  services?: ServiceName[] | 'all';
  env?: Record<string, string>;
  timeoutMs?: number;
}

const live = new Set<Hosts>();
let handlersInstalled = false;

function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', () => {
    for (const h of live) h.destroySync();
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      for (const h of live) h.destroySync();
      process.off(sig, onSignal);
      process.kill(process.pid, sig);
    };
    process.on(sig, onSignal);
  }
}

/** The hosts of one run. `hosts[0]` is host `a` at `.1`, `hosts[1]` is `b` at `.2`, … */
export class Hosts {
  readonly hosts: Host[] = [];
  readonly clusterKey: string;
  /** e.g. `10.231.37.` — host `a` is `10.231.37.1`, the bridge (the root namespace) `.254`. */
  readonly prefix: string;
  readonly bridgeAddress: string;
  readonly ports: HostPorts;
  /** The cluster CA the harness made (identities: 'harness'). */
  ca?: CaFiles;
  /** The test process as a member (a certificate of its own), for calls to the hosts' services. */
  tls?: ClusterTls;
  /** fetch over the cluster's mutual TLS as that member. */
  fetch: Fetch = (req) => fetch(req);
  private destroyed = false;

  constructor(
    readonly names: RunNames,
    readonly opts: HostsOptions,
  ) {
    this.clusterKey = opts.clusterKey ?? randomBytes(24).toString('hex');
    this.prefix = freeSubnet();
    this.bridgeAddress = `${this.prefix}254`;
    const b = opts.portsBase ?? 18480;
    this.ports = { coordinator: b, discovery: b + 1, provisioner: b + 2, storage: b + 3, vncGateway: b + 4, pep: b + 9 };
  }

  get run(): string {
    return this.names.run;
  }

  get subnet(): string {
    return `${this.prefix}0/24`;
  }

  /** Makes the bridge (with an address, so the test process can reach every host) and the hosts. */
  setUp(n: number): void {
    const { bridge } = this.names;
    ip('link', 'add', 'name', bridge, 'type', 'bridge', 'mcast_snooping', '0');
    ip('addr', 'add', `${this.bridgeAddress}/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    if (bridgeNetfilterOn()) sh('iptables', ['-I', ...forwardRuleArgs(this.names)]);
    mkdirSync(this.names.dir, { recursive: true });
    for (let i = 0; i < n; i++) this.hosts.push(new Host(this, String.fromCharCode(97 + i), `${this.prefix}${i + 1}`));
  }

  letters(): string[] {
    return this.hosts.map((h) => h.letter);
  }

  /** Kills every process of every host, then removes namespaces, veths, bridge, rule and files. */
  async destroy(): Promise<void> {
    await Promise.all(this.hosts.map((h) => h.kill()));
    this.destroySync();
  }

  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    // Letters a..z: a host half-made when setUp threw is not in `hosts` yet, but may exist.
    removeRun(this.names, 'abcdefghijklmnopqrstuvwxyz'.slice(0, Math.max(this.hosts.length + 1, 1)).split(''));
    live.delete(this);
  }
}

export class Host {
  readonly netns: string;
  readonly veth: string;
  readonly nodeId: string;
  readonly dir: string;
  readonly dataDir: string;
  readonly processes: HostProcess[] = [];
  private readonly services = new Map<ServiceName, HostProcess>();
  libvirt?: HostLibvirt;

  constructor(
    readonly cluster: Hosts,
    readonly letter: string,
    readonly address: string,
  ) {
    const n = cluster.names;
    this.netns = n.netns(letter);
    this.veth = n.veth(letter);
    this.nodeId = `host-${letter}`;
    this.dir = join(n.dir, letter);
    this.dataDir = join(this.dir, 'data');
    ip('netns', 'add', this.netns);
    ip('link', 'add', this.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', this.netns);
    ip('link', 'set', this.veth, 'master', n.bridge, 'up');
    ipIn(this.netns, 'addr', 'add', `${address}/24`, 'dev', 'eth0');
    ipIn(this.netns, 'link', 'set', 'lo', 'up');
    ipIn(this.netns, 'link', 'set', 'eth0', 'up');
    this.addMulticastRoute();
    makeDataDir(this.dataDir, cluster.opts.sourceDataDir ?? sourceDataDir());
  }

  /** Typed clients of this host's services, called as a member of the cluster. */
  get discovery(): DiscoveryClient {
    return discoveryClient({ baseUrl: this.url('discovery'), fetch: this.cluster.fetch });
  }

  get provisioner(): ProvisionerClient {
    return provisionerClient({ baseUrl: this.url('provisioner'), fetch: this.cluster.fetch });
  }

  get storage(): StorageClient {
    return storageClient({ baseUrl: this.url('storage'), fetch: this.cluster.fetch });
  }

  /** Writes a node certificate of the harness's CA for this host into its data dir. */
  async issueIdentity(): Promise<void> {
    if (!this.cluster.ca) throw new Error('this run has no harness CA (identities: none)');
    await writeNodeIdentity(this.dataDir, this.cluster.ca, this.nodeId, [this.address]);
  }

  get ports(): HostPorts {
    return this.cluster.ports;
  }

  /** https://<address>:<port> of one of this host's services, reachable from the test process. */
  url(svc: ServiceName): string {
    return serviceUrl(this.address, this.ports[portKey[svc]]);
  }

  /** The command line that runs `cmd` inside this host (and inside its libvirtd's mounts, if any). */
  private wrap(cmd: string, args: string[]): [string, string[]] {
    // --wd: entering a mount namespace resets the working directory to /.
    if (this.libvirt) return ['nsenter', ['-t', String(this.libvirt.pid), '-m', '-n', `--wd=${repoRoot}`, '--', cmd, ...args]];
    return ['ip', ['netns', 'exec', this.netns, cmd, ...args]];
  }

  /** Runs a command inside the host to its end; resolves with its stdout, rejects with its stderr. */
  async exec(cmd: string, args: string[] = [], opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
    const [c, a] = this.wrap(cmd, args);
    try {
      return (await run(c, a, { cwd: repoRoot, env: opts.env, timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 << 20 })).stdout;
    } catch (err) {
      const e = err as Error & { stderr?: string; stdout?: string };
      // What it said, on either stream: a CLI may report its failure on stdout.
      const said = [e.stderr?.trim(), e.stdout?.trim().split('\n').slice(-20).join('\n')].filter(Boolean).join('\n');
      throw new Error(`[${this.letter}] ${cmd} ${args.join(' ')} failed: ${said || e.message}`);
    }
  }

  /** Starts a long-running process inside the host; it is killed by kill() and destroy(). */
  spawn(name: string, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv } = {}): HostProcess {
    const [c, a] = this.wrap(cmd, args);
    // Every line is kept in the host's folder too: a whole run's logs, for failures and secret checks.
    const logFile = join(this.dir, `${name}.${this.processes.length}.log`);
    const p = startProcess(`${this.letter}/${name}`, c, a, { cwd: repoRoot, env: opts.env ?? process.env, logFile });
    this.processes.push(p);
    return p;
  }

  /** The environment a node's service gets on this host. */
  serviceEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const p = this.ports;
    const machine = this.cluster.opts.machine ?? { cpus: 4, memoryMiB: 4096 };
    return cleanEnv({
      CPS_COORDINATOR_PORT: String(p.coordinator),
      CPS_DISCOVERY_PORT: String(p.discovery),
      CPS_PROVISIONER_PORT: String(p.provisioner),
      CPS_STORAGE_PORT: String(p.storage),
      CPS_VNC_GATEWAY_PORT: String(p.vncGateway),
      CPS_PEP_PORT: String(p.pep),
      CPS_PEP_INTERFACE: this.address,
      CPS_ADVERTISE_ADDRESS: this.address,
      CPS_CLUSTER_KEY: this.cluster.clusterKey,
      CPS_NODE_ID: this.nodeId,
      CPS_DATA_DIR: this.dataDir,
      CPS_LIBVIRT_URI: this.libvirt ? 'qemu:///system' : writeTestDriverNode(join(this.dir, 'test-node.xml'), machine),
      CPS_LOG_LEVEL: 'info',
      // The load on a test machine is the test run itself (and its other hosts), not an owner at
      // work: owner first would suspend guests mid-test. Its own tests turn it on.
      CPS_OWNER_FIRST: '0',
      ...this.cluster.opts.env,
      ...extra,
    });
  }

  /** Starts the node's services inside the host and waits until each answers /healthz. */
  async startServices(opts: StartOptions = {}): Promise<void> {
    const wanted = opts.services === 'all' ? [...serviceNames] : (opts.services ?? ['provisioner', 'discovery']);
    const env = this.serviceEnv(opts.env);
    const started = serviceNames
      .filter((s) => wanted.includes(s))
      .map((svc) => {
        const prev = this.services.get(svc);
        if (prev && isRunning(prev)) throw new Error(`[${this.letter}] ${svc} is already running`);
        const p = this.spawn(svc, process.execPath, ['--import', 'tsx', `services/${svc}/src/main.ts`], { env });
        this.services.set(svc, p);
        return { svc, p };
      });
    const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
    for (const { svc, p } of started) {
      for (;;) {
        if (!isRunning(p)) throw new Error(`[${this.letter}] ${svc} exited while starting:\n${p.output()}`);
        if (await healthy(svc, this.url(svc), this.cluster.fetch)) break;
        if (Date.now() > deadline) throw new Error(`[${this.letter}] ${svc} not healthy in time:\n${p.output()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  }

  service(svc: ServiceName): HostProcess | undefined {
    return this.services.get(svc);
  }

  /** A graceful stop of one service (SIGTERM, as an operator's Ctrl-C), resolving when it has exited. */
  async stopService(svc: ServiceName, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.services.get(svc);
    if (!p || !isRunning(p)) return;
    p.proc.kill(signal);
    await p.exited;
  }

  /** The output of one service, or of all of this host's processes, for a failure message. */
  logs(svc?: ServiceName): string {
    const ps = svc ? [this.services.get(svc)].filter((p): p is HostProcess => !!p) : this.processes;
    return ps.map((p) => `--- ${p.name}\n${p.output()}`).join('\n');
  }

  /** The host dies: SIGKILL to every process in its namespace (services, libvirtd, guests). */
  async kill(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      killNetns(this.netns);
      if (netnsPids(this.netns).length === 0) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(this.processes.map((p) => p.exited));
    this.libvirt = undefined;
  }

  /** Pulls the cable: the host's veth goes down, so nothing reaches it or leaves it; its processes live on. */
  cutLink(): void {
    ip('link', 'set', this.veth, 'down');
  }

  restoreLink(): void {
    ip('link', 'set', this.veth, 'up');
  }

  addMulticastRoute(): void {
    ipIn(this.netns, 'route', 'replace', '224.0.0.0/4', 'dev', 'eth0');
  }

  removeMulticastRoute(): void {
    ipIn(this.netns, 'route', 'del', '224.0.0.0/4', 'dev', 'eth0');
  }

  /**
   * A network that drops multicast: this host's firewall (its own, inside its namespace) drops every
   * multicast datagram in and out. Stronger than removeMulticastRoute(): a socket with
   * IP_MULTICAST_IF set still sends multicast without a route.
   */
  blockMulticast(): void {
    for (const chain of ['INPUT', 'OUTPUT']) {
      sh('ip', ['netns', 'exec', this.netns, 'iptables', '-I', chain, '-d', '224.0.0.0/4', '-j', 'DROP']);
    }
  }

  unblockMulticast(): void {
    for (const chain of ['INPUT', 'OUTPUT']) {
      sh('ip', ['netns', 'exec', this.netns, 'iptables', '-D', chain, '-d', '224.0.0.0/4', '-j', 'DROP']);
    }
  }

  /**
   * The host's own libvirtd + virtlogd, under a private mount namespace (see hosts-libvirtd.ts).
   * Services started afterwards run inside that mount namespace and use `qemu:///system` there.
   */
  async startLibvirtd(): Promise<HostLibvirt> {
    if (this.libvirt) return this.libvirt;
    this.libvirt = await startLibvirtd(this.netns, join(this.dir, 'libvirt'));
    return this.libvirt;
  }
}

const isRunning = (p: HostProcess) => p.proc.exitCode === null && p.proc.signalCode === null;

type Probe = (o: { baseUrl: string; fetch: Fetch }, signal: AbortSignal) => Promise<{ data?: { status: string } }>;
const healthProbes: Record<ServiceName, Probe> = {
  coordinator: (o, signal) => coordinatorClient(o).GET('/healthz', { signal }),
  discovery: (o, signal) => discoveryClient(o).GET('/healthz', { signal }),
  provisioner: (o, signal) => provisionerClient(o).GET('/healthz', { signal }),
  storage: (o, signal) => storageClient(o).GET('/healthz', { signal }),
  'vnc-gateway': (o, signal) => vncGatewayClient(o).GET('/healthz', { signal }),
};

async function healthy(svc: ServiceName, baseUrl: string, fetch: Fetch): Promise<boolean> {
  try {
    return (await healthProbes[svc]({ baseUrl, fetch }, AbortSignal.timeout(2_000))).data?.status === 'ok';
  } catch {
    return false;
  }
}

/**
 * Makes `n` hosts (a, b, c, …) on a fresh bridge. Leftovers of crashed earlier runs are removed
 * first; if making them fails half-way, what was made is removed before the error is thrown.
 */
export async function createHosts(n: number, opts: HostsOptions = {}): Promise<Hosts> {
  if (n < 1 || n > 26) throw new Error(`createHosts: 1..26 hosts, not ${n}`);
  removeStaleRuns();
  installExitHandlers();
  const cluster = new Hosts(newRun(), opts);
  live.add(cluster);
  try {
    cluster.setUp(n);
    if ((opts.identities ?? 'harness') === 'harness') {
      cluster.ca = await createCa({ now: new Date(), label: cluster.run });
      cluster.tls = await issueMember(cluster.ca, 'test-runner', [cluster.bridgeAddress]);
      cluster.fetch = memberFetch(cluster.tls);
      await Promise.all(cluster.hosts.map((h) => h.issueIdentity()));
    }
  } catch (err) {
    cluster.destroySync();
    throw err;
  }
  return cluster;
}
