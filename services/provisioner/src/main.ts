import { resolve } from 'node:path';
import { z } from 'zod';
import { createLogger, dataDirVar, loadConfig, onShutdown, portsFrom, portsSchema, serveApp } from '@cps/common';
import { accelReader } from './accel.ts';
import { createApp } from './app.ts';
import { lazyLibvirt } from './hypervisor.ts';

const optionalCount = z.coerce.number().int().min(0).optional();

const configSchema = portsSchema.extend({
  CPS_DATA_DIR: dataDirVar,
  CPS_LIBVIRT_URI: z.string().min(1).default('qemu:///system'),
  // The owner's say in what this peer lends; unset means "the defaults in capacity.ts".
  CPS_SHARE_VCPUS: optionalCount,
  CPS_SHARE_MEMORY_MIB: optionalCount,
  CPS_SHARE_DISK_MIB: optionalCount,
});

const config = loadConfig(configSchema);
const log = createLogger('provisioner');
const dataDir = resolve(config.CPS_DATA_DIR);
const hypervisor = lazyLibvirt(config.CPS_LIBVIRT_URI);
await hypervisor.ping().then(
  () => log.info({ uri: hypervisor.uri, dataDir }, 'connected to libvirt'),
  (err) => log.warn({ uri: hypervisor.uri, err: (err as Error).message }, 'libvirt does not answer yet; retrying on each request'),
);

const app = createApp({
  hypervisor,
  dataDir,
  accelerator: accelReader(dataDir, log),
  share: { vcpus: config.CPS_SHARE_VCPUS, memoryMiB: config.CPS_SHARE_MEMORY_MIB, diskMiB: config.CPS_SHARE_DISK_MIB },
  log,
});
const served = await serveApp(app, { port: portsFrom(config).provisioner, hostname: '0.0.0.0', log });

// Guests are left running on shutdown: they belong to tasks, not to this process, and a restarted
// provisioner finds them again by their metadata.
onShutdown(log, async () => {
  await served.close();
  await hypervisor.close();
});
