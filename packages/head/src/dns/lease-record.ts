import { nodeIdPattern, nodeIdSource } from '@cps/common';
import type { Lease } from '../lease-store.ts';

/**
 * The lease as one TXT string beside the head's A record (docs/head.md):
 *   "cps-lease v=1 holder=<nodeId> epoch=<n> expires=<unix ms>"
 * Fields in this order, single spaces, decimal integers: one lease has one spelling, so the
 * compare-and-swap on the exact text never fails for a difference of form.
 */
const pattern = new RegExp(`^cps-lease v=1 holder=(${nodeIdSource}) epoch=(0|[1-9][0-9]{0,14}) expires=(0|[1-9][0-9]{0,14})$`);


export function formatLease(l: Lease): string {
  if (!nodeIdPattern.test(l.holder)) throw new Error(`holder ${JSON.stringify(l.holder.slice(0, 80))} is not a node id`);
  for (const [k, v] of [['epoch', l.epoch], ['expires', l.expiresAt]] as const) {
    if (!Number.isSafeInteger(v) || v < 0 || v >= 1e15) throw new Error(`${k} ${v} is not an integer in [0, 1e15)`);
  }
  return `cps-lease v=1 holder=${l.holder} epoch=${l.epoch} expires=${l.expiresAt}`;
}

/** The lease a TXT string carries, or undefined for any other text. */
export function parseLease(text: string): Lease | undefined {
  const m = pattern.exec(text);
  if (!m) return undefined;
  return { holder: m[1]!, epoch: Number(m[2]), expiresAt: Number(m[3]) };
}
