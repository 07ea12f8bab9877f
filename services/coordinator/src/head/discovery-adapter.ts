import type { DiscoveryClient } from '@cps/openapi';
import { call } from '../upstream.ts';
import type { HeadDiscovery, HeadPeer } from './discovery-view.ts';

/** Discovery answers from memory; a step should not wait long on a stuck one. */
const timeoutMs = 3_000;

/** The head role's HeadDiscovery over this node's discovery (GET /self, /peers; PUT and DELETE /head). */
export function headDiscoveryOf(discovery: DiscoveryClient): HeadDiscovery {
  const signal = () => AbortSignal.timeout(timeoutMs);
  return {
    async view() {
      const [self, peers] = await Promise.all([
        call({ service: 'discovery' }, () => discovery.GET('/self', { signal: signal() })),
        call({ service: 'discovery' }, () => discovery.GET('/peers', { signal: signal() })),
      ]);
      return { self: { nodeId: self.nodeId, uptimeSec: self.uptimeSec }, peers: peers.items as HeadPeer[] };
    },
    async claim(epoch) {
      await call({ service: 'discovery' }, () => discovery.PUT('/head', { body: { epoch }, signal: signal() }));
    },
    async end() {
      await call({ service: 'discovery' }, () => discovery.DELETE('/head', { signal: signal() }));
    },
  };
}
