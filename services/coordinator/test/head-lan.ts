import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, type ServicePorts } from '@cps/common';
import type { LoopTimers } from '@cps/head';
import { headRoleFor } from '../src/head/assemble.ts';
import type { HeadDiscovery, HeadPeer } from '../src/head/discovery-view.ts';

export const ports: ServicePorts = { coordinator: 8080, discovery: 7070, provisioner: 7071, storage: 7072, vncGateway: 6080 };

/**
 * One virtual clock and its timers: nothing fires until `advance`, which runs every timer due
 * by then in order, letting the promises each one starts settle before the next.
 */
export function virtualTime(start = Date.parse('2026-12-01T10:00:00.000Z')) {
  let now = start;
  let seq = 0;
  const due = new Map<number, { at: number; fn: () => void }>();
  const settle = async () => {
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
  };
  const timers: LoopTimers = {
    setTimeout: (fn, ms) => {
      const id = ++seq;
      due.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout: (h) => void due.delete(h as number),
  };
  return {
    now: () => now,
    timers,
    settle,
    async advance(ms: number) {
      const until = now + ms;
      await settle();
      for (;;) {
        const next = [...due.entries()].filter(([, t]) => t.at <= until).sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0];
        if (!next) break;
        due.delete(next[0]);
        now = next[1].at;
        next[1].fn();
        await settle();
      }
      now = until;
      await settle();
    },
  };
}

export type VirtualTime = ReturnType<typeof virtualTime>;

interface LanNode {
  nodeId: string;
  address: string;
  /** Uptime at the LAN's start. */
  uptimeSec: number;
  claim?: number;
  state: HeadPeer['state'];
  /** Heard by the others (a HELLO reaches them at once while true). */
  on: boolean;
  /** This node's discovery answers its coordinator. */
  discoveryUp: boolean;
}

/**
 * A LAN of discoveries in memory: each node's view lists the others that are on, with the claim
 * their HELLOs carry (a PUT /head is heard at once). `calls` records each node's PUT/DELETE /head.
 */
export function fakeLan(time: VirtualTime) {
  const t0 = time.now();
  const nodes = new Map<string, LanNode>();
  const calls: string[] = [];
  const up = (n: LanNode) => n.uptimeSec + (time.now() - t0) / 1000;
  const discoveryOf = (id: string): HeadDiscovery => ({
    async view() {
      const me = nodes.get(id)!;
      if (!me.discoveryUp) throw new Error('discovery: connect ECONNREFUSED 127.0.0.1:7070');
      const peers: HeadPeer[] = [...nodes.values()]
        .filter((n) => n.nodeId !== id && n.on)
        .map((n) => ({ nodeId: n.nodeId, state: n.state, uptimeSec: up(n), lastSeenMs: 0, address: n.address, ports, head: n.claim !== undefined, ...(n.claim !== undefined ? { headEpoch: n.claim } : {}) }));
      return { self: { nodeId: id, uptimeSec: up(me) }, peers };
    },
    async claim(epoch) {
      calls.push(`${id} PUT /head ${epoch}`);
      nodes.get(id)!.claim = epoch;
    },
    async end() {
      calls.push(`${id} DELETE /head`);
      delete nodes.get(id)!.claim;
    },
  });
  return {
    nodes,
    calls,
    add(nodeId: string, address: string, uptimeSec: number) {
      const n: LanNode = { nodeId, address, uptimeSec, state: 'alive', on: true, discoveryUp: true };
      nodes.set(nodeId, n);
      return n;
    },
    discoveryOf,
  };
}

export const silent = createLogger('head-test', 'silent');

/** A node's head role on the fake LAN, DNS-less, its data dir a fresh temp folder unless given. */
export function roleOn(lan: ReturnType<typeof fakeLan>, time: VirtualTime, nodeId: string, o: { dataDir?: string; log?: ReturnType<typeof createLogger> } = {}) {
  const n = lan.nodes.get(nodeId)!;
  const dataDir = o.dataDir ?? mkdtempSync(join(tmpdir(), `cps-head-${nodeId}-`));
  const role = headRoleFor({ self: { nodeId, address: n.address, ports }, discovery: lan.discoveryOf(nodeId), dns: undefined, dataDir, now: time.now, timers: time.timers, log: o.log ?? silent });
  return { role, dataDir };
}
