import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { createApp } from '../src/app.ts';
import { MiB, type FreeBytes } from '../src/capacity.ts';
import { TaskDiskStore } from '../src/disks.ts';
import { ImageLibrary } from '../src/images.ts';
import { StorageLayout } from '../src/paths.ts';
import { QemuImg } from '../src/qemu-img.ts';
import { runTool, type RunTool } from '../src/tool.ts';
import { ImageUploads } from '../src/uploads.ts';
import { BootstrapStore } from '../src/bootstraps.ts';
import { ExportStore } from '../src/exports.ts';
import { Transfers } from '../src/transfer.ts';
import { GuestCopy } from '../src/copy-in.ts';
import { PeerPolicy, storageUrl } from '../src/peers.ts';
import { Contract } from '@cps/common';
import { specFiles, storageClient, type StorageClient } from '@cps/openapi';

export const tinyCmdline = 'console=tty0 console=ttyS0,115200 quiet';

/** A logger whose lines the test can read. */
export function memoryLogger(): { log: Logger; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      out.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** Writes images/<id>/ with the given files and image.json (object → JSON, string → as is). */
export async function writeImage(root: string, id: string, json: unknown, files: Record<string, string | Buffer> = {}) {
  const dir = path.join(root, 'images', id);
  await mkdir(dir, { recursive: true });
  for (const [name, body] of Object.entries(files)) await writeFile(path.join(dir, name), body);
  if (json !== undefined) await writeFile(path.join(dir, 'image.json'), typeof json === 'string' ? json : JSON.stringify(json));
  return dir;
}

export const tinyJson = {
  id: 'tiny',
  name: 'tiny',
  description: 'A busybox guest for tests',
  kind: 'kernel',
  cmdline: tinyCmdline,
  sizeBytes: 12,
  sha256: 'a'.repeat(64),
};

export interface Fixture {
  root: string;
  layout: StorageLayout;
  images: ImageLibrary;
  store: TaskDiskStore;
  uploads: ImageUploads;
  bootstraps: BootstrapStore;
  exports: ExportStore;
  transfers: Transfers;
  /** The clock exports see; tests move it. */
  clock: { now: Date };
  app: ReturnType<typeof createApp>;
  logs: () => Array<Record<string, unknown>>;
  toolCalls: Array<{ cmd: string; args: readonly string[] }>;
  cleanup: () => Promise<void>;
}

/** A temp data dir with a fake `tiny` image, the real qemu-img, and a generous free-space answer unless told. */
export async function makeFixture(opts: { freeBytes?: FreeBytes; reserveMiB?: number; qemuImgBin?: string; maxUploadBytes?: number; quotaMiB?: number; peer?: (baseUrl: string) => StorageClient; peers?: (log: Logger) => Pick<PeerPolicy, 'check'>; guestRun?: RunTool } = {}): Promise<Fixture> {
  const root = await mkdtemp(path.join(tmpdir(), 'cps-storage-'));
  await chmod(root, 0o755); // as /var/lib/cps would be, so the qemu user could reach disks/
  await writeImage(root, 'tiny', tinyJson, { vmlinuz: 'kernel', 'initrd.img': 'initrd' });
  const layout = new StorageLayout(root);
  const { log, lines } = memoryLogger();
  const images = new ImageLibrary(layout, log);
  const toolCalls: Fixture['toolCalls'] = [];
  const counting: RunTool = (cmd, args, o) => {
    toolCalls.push({ cmd, args });
    return runTool(cmd, args, o);
  };
  const qemuImg = new QemuImg(counting, opts.qemuImgBin);
  const bootstraps = new BootstrapStore({ layout, run: counting, maxArchiveBytes: 16 * MiB, log });
  const clock = { now: new Date('2026-11-25T12:00:00Z') };
  const exports = new ExportStore({ layout, qemuImg, retentionMs: 24 * 3_600_000, now: () => clock.now, log });
  // The real tools unless a test fakes them; libguestfs as this project's machines need it (no KVM).
  const guestCopy = new GuestCopy({
    bootstraps,
    run: opts.guestRun ?? counting,
    tmpDir: layout.tmpDir,
    env: { LIBGUESTFS_BACKEND: 'direct', LIBGUESTFS_BACKEND_SETTINGS: 'force_tcg' },
    timeoutMs: 5 * 60_000,
    log,
  });
  const store = new TaskDiskStore({
    layout,
    images,
    qemuImg,
    bootstraps,
    guestCopy,
    run: counting,
    keepCopy: async (t, kept) => void (await exports.keep(t, kept)),
    ...(opts.quotaMiB !== undefined ? { quotaBytes: opts.quotaMiB * MiB } : {}),
    freeBytes: opts.freeBytes ?? (async () => 1024 * 1024 * MiB),
    reserveBytes: (opts.reserveMiB ?? 64) * MiB,
    log,
  });
  await store.prepare();
  const uploads = new ImageUploads({ layout, images, qemuImg, users: store, maxUploadBytes: opts.maxUploadBytes ?? 64 * MiB, log });
  const transfers = new Transfers({ layout, disks: store, contract: Contract.fromFile(specFiles.storage), // Most transfer tests serve the source over plain HTTP on loopback, any port: they are about the
    // bytes. Who may be pulled from is peers.test.ts; the pull over the cluster's TLS, transfer.test.ts.
    peer: opts.peer ?? ((baseUrl) => storageClient({ baseUrl: baseUrl.replace(/^https:/, 'http:') })),
    peers: opts.peers?.(log) ?? { check: async (node) => (node.address === '127.0.0.1' ? storageUrl(node) : new PeerPolicy({ allow: [], log }).check(node)) },
    log,
  });
  const app = createApp({ images, disks: store, uploads, bootstraps, exports, transfers, log });
  return { root, layout, images, store, uploads, bootstraps, exports, transfers, clock, app, logs: lines, toolCalls, cleanup: () => rm(root, { recursive: true, force: true }) };
}

export const taskId = () => `t-${Math.random().toString(16).slice(2, 10)}`;
