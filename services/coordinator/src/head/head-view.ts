import type { NodeAddress } from '../clients.ts';

/**
 * What the rest of the coordinator asks of the head role (head/ builds it from the elector):
 * whether this node leads now, whom to forward to when it does not, and the epoch a command it
 * sends a host carries. Read on every use, never cached: a term ends by the clock alone.
 */
export interface HeadView {
  /** This node leads now (its term is valid by its own clock). */
  isHead(): boolean;
  /** The head's address while this node follows and a head is known; undefined otherwise. */
  head(): NodeAddress | undefined;
  /** The fencing token for a command sent now, or undefined when this node does not lead. */
  commandEpoch(): { epoch: number; head: string } | undefined;
  /** Called after every step that changed the role or the head (replication, forwarding follow it). */
  onChange(listener: () => void): () => void;
}
