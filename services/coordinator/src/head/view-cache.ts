import type { HeadDiscovery, HeadDiscoveryView } from './discovery-view.ts';

/**
 * Discovery's view read at most once per `maxAgeMs`: one step of the role reads it for the choice,
 * again for the lease and again for the compare-and-swap (DNS-less), and each read is two calls.
 * Under load those calls add up, and a step that takes too long ends the term by the clock before
 * its renewal is sent. A view younger than a HELLO interval says nothing a fresh one would not:
 * discovery itself only learns by HELLOs. Claims and their end go through at once.
 */
export function cachedView(discovery: HeadDiscovery, now: () => number, maxAgeMs = 1000): HeadDiscovery {
  let last: { at: number; view: HeadDiscoveryView } | undefined;
  return {
    async view() {
      const t = now();
      if (last && t - last.at < maxAgeMs && t >= last.at) return last.view;
      const view = await discovery.view();
      last = { at: t, view };
      return view;
    },
    claim: (epoch) => discovery.claim(epoch),
    end: () => discovery.end(),
  };
}
