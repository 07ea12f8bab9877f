import { resolve } from 'node:path';
import { z } from 'zod';
import { createLogger, dataDirVar, fenceDir, loadConfig, onShutdown, portsFrom, portsSchema, publicRoutesOfFile, serveApp } from '@cps/common';
import { specFiles } from '@cps/openapi';
import { FenceGuard } from '@cps/head/election/fence-guard.ts';
import { loadTrustOrExit } from '@cps/trust';
import { accelReader } from './accel.ts';
import { createProvisioner } from './app.ts';
import { GUEST_NETWORKS } from './domainXml.ts';
import { GuestAgent, runVirshBounded } from './guestAgent.ts';
import { installGuestIsolation } from './guestIsolation.ts';
import { EventBus } from './events.ts';
import { Expectations } from './expectations.ts';
import { lazyLibvirt } from './hypervisor.ts';
import { probeMemoryCapMode } from './memoryCap.ts';
import { OwnerFirst } from './ownerFirst.ts';
import { OwnerSampler, xIdleSec } from './ownerSampler.ts';
import { DesktopInput } from './desktopInput.ts';
import { PeriodicCheckpoints } from './periodicCheckpoints.ts';
import { loadSharePolicy, SharePolicyError } from './sharePolicy.ts';
import { QemuProcesses } from './qemuProcess.ts';
import { Watchdog } from './watchdog.ts';

const configSchema = portsSchema.extend({
  CPS_DATA_DIR: dataDirVar,
  CPS_LIBVIRT_URI: z.string().min(1).default('qemu:///system'),
  // A guest's network when its spec names none: NAT (no bridge onto the donor's LAN) or no NIC at all.
  CPS_GUEST_NETWORK: z.enum(GUEST_NETWORKS).default('user'),
  // CPS_SHARE_* and CPS_OWNER_* are read by loadSharePolicy, over the policy file.
  // The owner's X session, where there is one: its input suspends the guests at once.
  DISPLAY: z.string().max(256).optional(),
});

const config = loadConfig(configSchema);
const log = createLogger('provisioner');
const dataDir = resolve(config.CPS_DATA_DIR);
const trust = loadTrustOrExit(dataDir, { log });
const { policy, source } = (() => {
  try {
    return loadSharePolicy(dataDir);
  } catch (err) {
    if (!(err instanceof SharePolicyError)) throw err;
    // Lending more (or other) than the owner said is worse than not starting: stop with the reason.
    log.fatal(err.message);
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
})();
log.info({ source, policy, guestNetwork: config.CPS_GUEST_NETWORK }, 'share policy');
const memoryCap = probeMemoryCapMode(undefined, config.CPS_LIBVIRT_URI);
if (memoryCap === 'live') log.info('libvirtd lacks CAP_SYS_RESOURCE: guests\' memory hard limit is set on the running domain (virsh memtune)');
if (memoryCap === 'off') log.warn('cannot limit guests\' memory here (libvirtd\'s capabilities unknown and no virsh): guests run without a memory hard limit');
// Guests run strangers' code: QEMU's user-mode NAT must not reach this host's own services.
const guestIsolation = await installGuestIsolation(config.CPS_LIBVIRT_URI, { log });
const hypervisor = lazyLibvirt(config.CPS_LIBVIRT_URI);
await hypervisor.ping().then(
  () => log.info({ uri: hypervisor.uri, dataDir }, 'connected to libvirt'),
  (err) => log.warn({ uri: hypervisor.uri, err: (err as Error).message }, 'libvirt does not answer yet; retrying on each request'),
);

const events = new EventBus();
const expectations = new Expectations();
// QEMU's pid files are only this host's when libvirt is the local system daemon.
const processes = config.CPS_LIBVIRT_URI === 'qemu:///system' ? new QemuProcesses() : undefined;
const watchdog = new Watchdog({ hypervisor, expectations, events, log, processes });
let owner: OwnerFirst | undefined;
// The node's fence, shared with its storage: no command of an older head changes this host.
const fence = await FenceGuard.open(fenceDir(dataDir), log);
const { app, vms, lifecycle, checkpoints } = createProvisioner({
  hypervisor,
  dataDir,
  accelerator: accelReader(dataDir, log),
  share: policy,
  memoryCap,
  guestNetwork: config.CPS_GUEST_NETWORK,
  guestIsolation: () => guestIsolation,
  nodeId: trust.identity.nodeId,
  events,
  expectations,
  ownerBusy: () => owner?.busy ?? false,
  fence,
  // libvirt's test driver lives inside this process: a virsh would see another one, and no agent.
  ...(config.CPS_LIBVIRT_URI.startsWith('test:') ? {} : { guestAgent: new GuestAgent({ uri: config.CPS_LIBVIRT_URI, run: runVirshBounded, log, now: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms).unref()) }) }),
  log,
});
const periodic = new PeriodicCheckpoints({ vms, lifecycle, checkpoints, log });
if (policy.owner.enabled) {
  const sampler = new OwnerSampler({ desktopIdleSec: () => xIdleSec() });
  owner = new OwnerFirst({ sampler, thresholds: policy.owner, vms, lifecycle, events, log });
}
const realTimeouts = { setTimeout: (fn: () => void, ms: number) => setTimeout(fn, ms).unref(), clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };
const desktopInput = owner && new DesktopInput({ display: config.DISPLAY, onInput: () => void owner?.input(), timers: realTimeouts, log });
// Members only (the cluster's mutual TLS), but /healthz: a VNC password never leaves this node.
const served = await serveApp(app, { port: portsFrom(config).provisioner, hostname: '0.0.0.0', log, tls: trust.tls, publicRoutes: publicRoutesOfFile(specFiles.provisioner) });
watchdog.start();
owner?.start();
desktopInput?.start();
periodic.start();

// Guests are left running on shutdown: they belong to tasks, not to this process, and a restarted
// provisioner finds them again by their metadata.
onShutdown(log, async () => {
  await watchdog.stop();
  desktopInput?.close();
  await owner?.stop();
  await periodic.stop();
  await served.close();
  trust.stop();
  await hypervisor.close();
});
