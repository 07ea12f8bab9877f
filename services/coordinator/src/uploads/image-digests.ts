import type { StorageClient } from '@cps/openapi';

/** The SHA-256 a PUBLISH names for a task's image, or undefined to name none. */
export type ImageDigest = (imageId: string) => Promise<string | undefined>;

/**
 * Looks up an image in this node's storage for PUBLISH (docs/pep.md §3): an uploaded image is its
 * bytes (its id is derived from them), so peers answer only if they hold those bytes. A built-in
 * image is a name: each node builds its own `tiny`, whose bytes differ, so it carries no digest.
 * An image this node's storage does not know (or a storage that does not answer) names none
 * either: the peers' storage is then the judge when the disk is built, as before.
 */
export function imageDigests(storage: StorageClient, timeoutMs = 5_000): ImageDigest {
  // Uploaded images are content-addressed: an id once seen always means the same digest.
  const known = new Map<string, string>();
  return async (imageId) => {
    const hit = known.get(imageId);
    if (hit) return hit;
    try {
      const { data } = await storage.GET('/images/{imageId}', { params: { path: { imageId } }, signal: AbortSignal.timeout(timeoutMs) });
      if (!data || data.builtin || !data.sha256) return undefined;
      if (known.size < 10_000) known.set(imageId, data.sha256);
      return data.sha256;
    } catch {
      return undefined;
    }
  };
}
