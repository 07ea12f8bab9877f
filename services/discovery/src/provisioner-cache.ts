import type { ProvisionerSchemas } from '@cps/openapi';
import type { Logger } from 'pino';
import type { StorageView } from './storage-view.ts';

type Capacity = ProvisionerSchemas['Capacity'];

/** What the local provisioner said at one moment: the guests it runs and its free capacity. */
export interface ProvisionerSnapshot {
  capacity: Capacity;
  guests: Set<string>;
  at: number;
  /** Counts the refreshes: snapshot n+1 was read after snapshot n. */
  generation: number;
  /**
   * For each task whose guest some recent snapshot listed, the generation of the latest one that
   * did: a guest that came and went between two PUBLISHes still shows here (the responder drops
   * its confirmed hold then, see responder.ts).
   */
  lastSeen: ReadonlyMap<string, number>;
  /** With a storage view: the SHA-256 of every image this node's storage holds. */
  images?: ReadonlySet<string>;
}

export interface ProvisionerCacheOptions {
  capacity: () => Promise<Capacity>;
  guests: () => Promise<Set<string>>;
  /**
   * This node's storage. When given, free disk is storage's availableMiB (what it then enforces on
   * PUT /disks: one source for the PEP answer and the disk), and the images it holds are known.
   */
  storage?: StorageView;
  log: Logger;
  /** Background refresh period. */
  refreshMs?: number;
  /** A snapshot older than this is not trusted; the next read waits for a fresh one. */
  maxAgeMs?: number;
  /** How many refreshes a guest no longer listed stays in `lastSeen` (default: 10 min of refreshes). */
  forgetAfter?: number;
  now?: () => number;
}

/**
 * The provisioner's view, refreshed in the background so that PEP answers and HELLOs never wait
 * on HTTP: on a loaded 2-core host a slow GET /capacity once left a PUBLISH unanswered. Guests are
 * read before capacity, so a guest created between the two reads is counted by capacity but not
 * yet listed: its confirmed hold then stays and the capacity is counted twice (safe), never zero
 * times (an over-commit).
 */
export function provisionerCache(o: ProvisionerCacheOptions) {
  const now = o.now ?? Date.now;
  const refreshMs = o.refreshMs ?? 500;
  const maxAgeMs = o.maxAgeMs ?? 10_000;
  const forgetAfter = o.forgetAfter ?? Math.ceil(600_000 / refreshMs);
  let last: ProvisionerSnapshot | undefined;
  let generation = 0;
  const lastSeen = new Map<string, number>();
  let inflight: Promise<ProvisionerSnapshot> | undefined;
  let failing = false;
  let storageFailing = false;

  /**
   * Storage's numbers, or undefined when it does not answer: the provisioner's own disk estimate
   * stands in and images go unchecked (storage still refuses a disk it has no room for on PUT
   * /disks, and placement moves on), so a node whose storage restarts does not fall silent.
   */
  const readStorage = async () => {
    if (!o.storage) return undefined;
    try {
      const got = { disk: await o.storage.disk(), images: await o.storage.images() };
      if (storageFailing) o.log.info('storage answers again; free disk is its own accounting');
      storageFailing = false;
      return got;
    } catch (err) {
      if (!storageFailing) o.log.warn({ err }, "storage does not answer; free disk is the provisioner's estimate and images are not checked until it does");
      storageFailing = true;
      return undefined;
    }
  };

  const refresh = (): Promise<ProvisionerSnapshot> =>
    (inflight ??= (async () => {
      try {
        const guests = await o.guests();
        const provisioned = await o.capacity();
        const stored = await readStorage();
        const capacity = withStorageDisk(provisioned, stored?.disk);
        const images = stored?.images;
        generation++;
        for (const t of guests) lastSeen.set(t, generation);
        for (const [t, g] of lastSeen) if (generation - g > forgetAfter) lastSeen.delete(t);
        last = { capacity, guests, at: now(), generation, lastSeen: new Map(lastSeen), ...(images ? { images } : {}) };
        if (failing) o.log.info('provisioner answers again');
        failing = false;
        return last;
      } catch (err) {
        if (!failing) o.log.warn({ err }, 'provisioner view not refreshed; answering from the last one while it is young');
        failing = true;
        throw err;
      } finally {
        inflight = undefined;
      }
    })());

  const timer = setInterval(() => refresh().catch(() => undefined), refreshMs);
  timer.unref();

  /** The latest snapshot when young enough, else a fresh one (the first read, or the provisioner was away). */
  const snapshot = async (): Promise<ProvisionerSnapshot> => (last && now() - last.at < maxAgeMs ? last : refresh());

  return {
    snapshot,
    capacity: async (): Promise<Capacity> => (await snapshot()).capacity,
    /** Something changed here (this node was CONFIRMed): refresh now rather than at the next tick. */
    invalidate: (): void => void refresh().catch(() => undefined),
    ageMs: () => (last ? now() - last.at : -1),
    close: () => clearInterval(timer),
  };
}

export type ProvisionerCache = ReturnType<typeof provisionerCache>;

/** The provisioner's capacity with storage's disk numbers in place of its own estimate. */
export function withStorageDisk(capacity: Capacity, disk: { availableMiB: number; quotaMiB?: number } | undefined): Capacity {
  if (!disk) return capacity;
  return {
    ...capacity,
    total: { ...capacity.total, diskMiB: disk.quotaMiB ?? Math.max(capacity.total.diskMiB, disk.availableMiB) },
    free: { ...capacity.free, diskMiB: disk.availableMiB },
  };
}
