import { Contract, createLogger, dataDirVar, fenceDir, loadConfig, memberFetch, onShutdown, portsFrom, portsSchema, ProblemError, publicRoutesOfFile, serveApp, serviceUrl } from '@cps/common';
import { FenceGuard } from '@cps/head/election/fence-guard.ts';
import { loadTrustOrExit } from '@cps/trust';
import { discoveryClient, specFiles, storageClient } from '@cps/openapi';
import { z } from 'zod';
import { createApp } from './app.ts';
import { BootstrapStore } from './bootstraps.ts';
import { GuestCopy } from './copy-in.ts';
import { statfsFreeBytes, MiB } from './capacity.ts';
import { TaskDiskStore } from './disks.ts';
import { ExportStore } from './exports.ts';
import { ImageLibrary } from './images.ts';
import { buildImage, imageRecipes } from './image-build.ts';
import { ImageBuilds } from './image-builds.ts';
import { ImagePulls } from './image-pulls.ts';
import { StorageLayout } from './paths.ts';
import { parseAllowList, PeerPolicy } from './peers.ts';
import { QemuImg } from './qemu-img.ts';
import { diskQuotaMiB } from './share-quota.ts';
import { runTool } from './tool.ts';
import { Transfers } from './transfer.ts';
import { ImageUploads } from './uploads.ts';

const config = loadConfig(
  portsSchema.extend({
    CPS_DATA_DIR: dataDirVar,
    // Free space a new disk must leave untouched on the data dir's file system.
    CPS_STORAGE_RESERVE_MIB: z.coerce.number().int().min(0).default(1024),
    CPS_QEMU_IMG: z.string().min(1).default('qemu-img'),
    // The largest image a user may upload.
    CPS_STORAGE_MAX_UPLOAD_MIB: z.coerce.number().int().min(1).default(8192),
    // The largest tar of bootstrap files.
    CPS_STORAGE_MAX_BOOTSTRAP_MIB: z.coerce.number().int().min(1).default(1024),
    // How long a kept copy of an ended task's disks stays downloadable.
    CPS_STORAGE_EXPORT_RETENTION_HOURS: z.coerce.number().min(0).default(24),
    // The donor's share of disk for task disks (the provisioner's share policy); unset: no quota.
    CPS_SHARE_DISK_MIB: z.coerce.number().int().min(0).optional(),
    CPS_SHARE_POLICY_FILE: z.string().min(1).optional(),
    // Nodes a pull may fetch from besides the peers discovery knows: address:port, separated by
    // commas (none by default). Every pull is over the cluster's TLS, so a member's storage only.
    CPS_STORAGE_PEER_ALLOW: z.string().default(''),
    // The largest virtual size an uploaded image may have: no task disk is larger (openapi: diskMiB).
    CPS_STORAGE_MAX_VIRTUAL_GIB: z.coerce.number().int().min(1).default(4096),
    // copyIn (libguestfs): how long one guestfish run may take, appliance start included.
    CPS_STORAGE_GUESTFS_TIMEOUT_SEC: z.coerce.number().int().min(1).default(600),
    // KVM hangs on some hosts (docs: ENVIRONMENT.md); libguestfs' own variables win when set.
    LIBGUESTFS_BACKEND: z.string().min(1).default('direct'),
    LIBGUESTFS_BACKEND_SETTINGS: z.string().default('force_tcg'),
  }),
);

const log = createLogger('storage');
const trust = loadTrustOrExit(config.CPS_DATA_DIR, { log });
const fetch = memberFetch(trust.tls);
const layout = new StorageLayout(config.CPS_DATA_DIR);
const images = new ImageLibrary(layout, log);
const quotaMiB = diskQuotaMiB(config, config.CPS_DATA_DIR);
const qemuImg = new QemuImg(runTool, config.CPS_QEMU_IMG);
const bootstraps = new BootstrapStore({ layout, run: runTool, maxArchiveBytes: config.CPS_STORAGE_MAX_BOOTSTRAP_MIB * MiB, log });
const exports = new ExportStore({ layout, qemuImg, retentionMs: config.CPS_STORAGE_EXPORT_RETENTION_HOURS * 3_600_000, now: () => new Date(), log });
const guestCopy = new GuestCopy({
  bootstraps,
  run: runTool,
  tmpDir: layout.tmpDir,
  env: { LIBGUESTFS_BACKEND: config.LIBGUESTFS_BACKEND, LIBGUESTFS_BACKEND_SETTINGS: config.LIBGUESTFS_BACKEND_SETTINGS },
  timeoutMs: config.CPS_STORAGE_GUESTFS_TIMEOUT_SEC * 1000,
  log,
});
const disks = new TaskDiskStore({
  layout,
  images,
  qemuImg,
  bootstraps,
  guestCopy,
  run: runTool,
  keepCopy: async (taskId, kept) => void (await exports.keep(taskId, kept)),
  ...(quotaMiB !== undefined ? { quotaBytes: quotaMiB * MiB } : {}),
  freeBytes: statfsFreeBytes,
  reserveBytes: config.CPS_STORAGE_RESERVE_MIB * MiB,
  log,
});
await disks.prepare();
const allow = (() => {
  try {
    return parseAllowList(config.CPS_STORAGE_PEER_ALLOW);
  } catch (err) {
    log.fatal((err as Error).message);
    process.stderr.write(`invalid configuration:\n  ${(err as Error).message}\n`);
    process.exit(2);
  }
})();
const discovery = discoveryClient({ baseUrl: serviceUrl('127.0.0.1', portsFrom(config).discovery), fetch });
const peers = new PeerPolicy({ allow, discovery, log });
const transfers = new Transfers({ layout, disks, contract: Contract.fromFile(specFiles.storage), peer: (baseUrl) => storageClient({ baseUrl, fetch }), peers, log });
const uploads = new ImageUploads({
  layout,
  images,
  qemuImg,
  users: disks,
  maxUploadBytes: config.CPS_STORAGE_MAX_UPLOAD_MIB * MiB,
  maxVirtualBytes: config.CPS_STORAGE_MAX_VIRTUAL_GIB * 1024 * MiB,
  ...(quotaMiB !== undefined ? { quotaBytes: quotaMiB * MiB } : {}),
  log,
});

// A task's uploaded image that only a peer holds is fetched from an alive one (discovery's view).
const imagePulls = new ImagePulls({
  images,
  uploads,
  holders: async () => {
    const res = await discovery.GET('/peers', { signal: AbortSignal.timeout(5_000) });
    if (!res.data) throw new ProblemError('upstream-failed', `discovery did not list the peers (status ${res.response.status})`);
    return res.data.items.filter((p) => p.state === 'alive').map((p) => ({ nodeId: p.nodeId, address: p.address, port: p.ports.storage }));
  },
  peer: (baseUrl) => storageClient({ baseUrl, fetch }),
  contract: Contract.fromFile(specFiles.storage),
  space: () => disks.space(),
  ...(quotaMiB !== undefined ? { quotaBytes: quotaMiB * MiB } : {}),
  maxBytes: config.CPS_STORAGE_MAX_UPLOAD_MIB * MiB,
  now: () => performance.now(),
  log,
});

// The node's fence, shared with its provisioner: no command of an older head changes this host.
const fence = await FenceGuard.open(fenceDir(layout.root), log);

// Members only (the cluster's mutual TLS), but /healthz: a task's disks never leave to a stranger.
// Builds from Debian's packages (`cps image build`): mmdebstrap needs root, as storage runs here.
const imageBuilds = new ImageBuilds({ recipes: imageRecipes, build: buildImage, deps: { run: runTool, layout, now: () => new Date() }, log });
const served = await serveApp(createApp({ images, disks, uploads, bootstraps, exports, transfers, fence, log, imageBuilds, imagePulls }), {
  port: portsFrom(config).storage,
  log,
  tls: trust.tls,
  publicRoutes: publicRoutesOfFile(specFiles.storage),
}, (server) => {
  // Node cuts any request after 5 minutes (requestTimeout); an image upload the coordinator streams
  // here over a slow link takes longer. headersTimeout still bounds a client that never sends headers.
  server.requestTimeout = 0;
});
log.info({ dataDir: layout.root, quotaMiB: quotaMiB ?? null }, 'storage ready');
// Expired copies go within ten minutes of expiring (and are never served once expired).
const sweeper = setInterval(() => void exports.sweep().catch((err) => log.error({ err }, 'export sweep failed')), 10 * 60_000);
sweeper.unref();
void exports.sweep().catch((err) => log.error({ err }, 'export sweep failed'));
onShutdown(log, () => {
  clearInterval(sweeper);
  trust.stop();
  return served.close();
});
