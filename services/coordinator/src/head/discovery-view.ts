import type { PeerView, SelfView } from '@cps/head';

/**
 * A peer as the head role reads it from discovery (GET /peers): the election's PeerView, where its
 * coordinator is, and the head claim its last HELLO carried (`head`, `headEpoch`).
 */
export interface HeadPeer extends PeerView {
  address: string;
  ports: { coordinator: number } & Record<string, number>;
  head: boolean;
  headEpoch?: number;
}

/** Discovery's view, as one read: this node and its peers. */
export interface HeadDiscoveryView {
  self: SelfView;
  peers: readonly HeadPeer[];
}

/**
 * What the head role needs of this node's discovery: its view, and the claim its HELLOs carry
 * (PUT /head: this coordinator leads with this epoch; DELETE /head: it no longer does).
 * main.ts adapts the typed discovery client to it; tests pass a fake LAN.
 */
export interface HeadDiscovery {
  view(): Promise<HeadDiscoveryView>;
  claim(epoch: number): Promise<void>;
  end(): Promise<void>;
}
