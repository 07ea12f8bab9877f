import type { StorageClient } from '@cps/openapi';

/** What discovery needs from this node's storage for its PEP answers. */
export interface StorageView {
  /** Storage's own accounting of task disk space (GET /capacity). */
  disk(): Promise<{ availableMiB: number; quotaMiB?: number }>;
  /** The SHA-256 of every image storage holds (GET /images). */
  images(): Promise<Set<string>>;
}

/** Reads the local storage with a short timeout: PEP answers come from a cache refreshed in the background. */
export function storageView(client: StorageClient, timeoutMs = 3_000): StorageView {
  return {
    async disk() {
      const { data, error, response } = await client.GET('/capacity', { signal: AbortSignal.timeout(timeoutMs) });
      if (!data) throw new Error(`storage GET /capacity answered ${response.status}: ${JSON.stringify(error)}`);
      return { availableMiB: data.availableMiB, ...(data.quotaMiB === undefined ? {} : { quotaMiB: data.quotaMiB }) };
    },
    async images() {
      const { data, error, response } = await client.GET('/images', { signal: AbortSignal.timeout(timeoutMs) });
      if (!data) throw new Error(`storage GET /images answered ${response.status}: ${JSON.stringify(error)}`);
      return new Set(data.items.flatMap((i) => (i.sha256 ? [i.sha256] : [])));
    },
  };
}
