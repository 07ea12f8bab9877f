import { resolve } from 'node:path';
import { z } from 'zod';
import { createLogger, dataDirVar, loadConfig, onShutdown, portsFrom, portsSchema, serveApp } from '@cps/common';
import { accelReader } from './accel.ts';
import { createApp } from './app.ts';
import { lazyLibvirt } from './hypervisor.ts';
import { probeMemoryCapMode } from './memoryCap.ts';
import { loadSharePolicy, SharePolicyError } from './sharePolicy.ts';

const configSchema = portsSchema.extend({
  CPS_DATA_DIR: dataDirVar,
  CPS_LIBVIRT_URI: z.string().min(1).default('qemu:///system'),
  // CPS_SHARE_* and CPS_OWNER_* are read by loadSharePolicy, over the policy file.
});

const config = loadConfig(configSchema);
const log = createLogger('provisioner');
const dataDir = resolve(config.CPS_DATA_DIR);
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
log.info({ source, policy }, 'share policy');
const memoryCap = probeMemoryCapMode();
if (memoryCap === 'live') log.info('libvirtd lacks CAP_SYS_RESOURCE: guests\' memory hard limit is set on the running domain (virsh memtune)');
if (memoryCap === 'off') log.warn('cannot limit guests\' memory here (libvirtd\'s capabilities unknown and no virsh): guests run without a memory hard limit');
const hypervisor = lazyLibvirt(config.CPS_LIBVIRT_URI);
await hypervisor.ping().then(
  () => log.info({ uri: hypervisor.uri, dataDir }, 'connected to libvirt'),
  (err) => log.warn({ uri: hypervisor.uri, err: (err as Error).message }, 'libvirt does not answer yet; retrying on each request'),
);

const app = createApp({
  hypervisor,
  dataDir,
  accelerator: accelReader(dataDir, log),
  share: policy,
  memoryCap,
  log,
});
const served = await serveApp(app, { port: portsFrom(config).provisioner, hostname: '0.0.0.0', log });

// Guests are left running on shutdown: they belong to tasks, not to this process, and a restarted
// provisioner finds them again by their metadata.
onShutdown(log, async () => {
  await served.close();
  await hypervisor.close();
});
