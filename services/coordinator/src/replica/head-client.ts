import { serviceUrl, type Fetch } from '@cps/common';
import { coordinatorClient } from '@cps/openapi';
import type { NodeAddress } from '../clients.ts';

/**
 * The largest snapshot a head sends and a follower reads: the whole registry is built in memory
 * on both sides. A task row is about 1-3 KiB (its request, node, history), at most ~400 KiB with a
 * full 64 KiB user-data; a user, token or session a few hundred bytes. 64 MiB is some 20,000 tasks
 * of the usual kind; past it the head logs, answers 500 and the followers keep what they had.
 */
export const replicaMaxBytes = 64 * 1024 * 1024;

/** What a pull got from the head: nothing new, or a snapshot's text (not yet checked). */
export type PullResult = { kind: 'unchanged' } | { kind: 'snapshot'; text: string; bytes: number };

/** Asks `head` for its registry since the snapshot this node applied last. */
export type PullFromHead = (head: NodeAddress, since: { rev: number; epoch?: number } | undefined) => Promise<PullResult>;

export interface HeadClientOptions {
  /** memberFetch: the route answers members only. */
  fetch: Fetch;
  /** The most bytes read from the head; a longer body is cut off and refused. */
  maxBytes: number;
  /** How long one pull may take, headers to last byte. */
  timeoutMs?: number;
}

/** Reads at most `max` bytes of `body`; more is an error (and the rest is never read). */
export async function readBounded(body: ReadableStream<Uint8Array> | null, max: number): Promise<{ text: string; bytes: number }> {
  if (!body) return { text: '', bytes: 0 };
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    if (bytes > max) {
      await reader.cancel().catch(() => undefined);
      throw new Error(`the head's snapshot is larger than ${max} bytes`);
    }
    chunks.push(value);
  }
  // fatal: bytes that are not UTF-8 are refused, not replaced.
  return { text: new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks)), bytes };
}

/** GET /internal/registry on the head's coordinator, over the cluster's mutual TLS. */
export function headClient(opts: HeadClientOptions): PullFromHead {
  return async (head, since) => {
    const client = coordinatorClient({ baseUrl: serviceUrl(head.address, head.ports.coordinator), fetch: opts.fetch });
    const query = since ? { since: since.rev, ...(since.epoch !== undefined ? { epoch: since.epoch } : {}) } : {};
    const signal = AbortSignal.timeout(opts.timeoutMs ?? 30_000);
    const { response, error } = await client.GET('/internal/registry', { params: { query }, parseAs: 'stream', signal });
    if (response.status === 204) {
      await response.body?.cancel().catch(() => undefined);
      return { kind: 'unchanged' };
    }
    if (response.status !== 200) {
      // openapi-fetch has read a refusal's body already (a problem document).
      const detail = (typeof error === 'string' ? error : JSON.stringify(error ?? '')).slice(0, 300);
      throw new Error(`${head.nodeId} answered ${response.status} to GET /internal/registry: ${detail}`);
    }
    const { text, bytes } = await readBounded(response.body, opts.maxBytes);
    return { kind: 'snapshot', text, bytes };
  };
}
