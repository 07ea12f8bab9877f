import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headDnsEnv, headDnsFrom, type LeaseTiming } from '@cps/head';
import { startBind, type Bind } from '../../../packages/head/test/bind.ts';
import { headRoleFor } from '../src/head/assemble.ts';
import type { HeadRole } from '../src/head/head-role.ts';
import { realTimers } from '../src/queue/dispatcher.ts';
import { fakeLan, ports, silent } from './head-lan.ts';

// Short terms on the real clock: BIND checks the TSIG time against real time.
const timing: LeaseTiming = { leaseMs: 3_000, driftMs: 500, renewMs: 1_000 };
const clock = { now: () => Date.now(), timers: realTimers, settle: async () => {}, advance: async () => {} };

/** Resolves at the first change of the role after which `ok` holds (no timed assertion). */
const until = (role: HeadRole, ok: () => boolean) =>
  new Promise<void>((resolve) => {
    if (ok()) return resolve();
    const off = role.onChange(() => {
      if (ok()) {
        off();
        resolve();
      }
    });
  });

describe('the head role with the lease in a real BIND9 (CPS_HEAD_DNS_*)', () => {
  let bind: Bind;
  beforeAll(async () => {
    bind = await startBind('cps.test');
  });
  afterAll(async () => {
    await bind?.stop();
  });

  it('claims the name, the follower forwards to its holder, and after a clean stop the next one claims with a higher epoch', async () => {
    const dns = headDnsFrom(
      headDnsEnv.parse({ CPS_HEAD_DNS_SERVER: `127.0.0.1:${bind.port}`, CPS_HEAD_DNS_ZONE: 'cps.test', CPS_HEAD_DNS_NAME: 'head.cps.test', CPS_HEAD_DNS_KEY_FILE: join(bind.dir, 'head.key') }),
    );
    const lan = fakeLan(clock as never);
    lan.add('ws-1', '192.0.2.1', 900);
    lan.add('ws-2', '192.0.2.2', 100);
    const role = (id: string, address: string) =>
      headRoleFor({ self: { nodeId: id, address, ports }, discovery: lan.discoveryOf(id), dns, dataDir: mkdtempSync(join(tmpdir(), `cps-head-dns-${id}-`)), now: clock.now, timers: realTimers, log: silent, timing });
    const one = role('ws-1', '192.0.2.1');
    const two = role('ws-2', '192.0.2.2');
    try {
      one.start();
      await one.ready();
      expect(one.isHead()).toBe(true);
      expect(one.info()).toMatchObject({ role: 'head', epoch: 1, mode: 'dns', head: { nodeId: 'ws-1', address: '192.0.2.1' } });
      expect(bind.dig('head.cps.test', 'A')).toEqual(['192.0.2.1']);
      expect(bind.dig('head.cps.test', 'TXT')[0]).toMatch(/^"cps-lease v=1 holder=ws-1 epoch=1 expires=\d+"$/);
      // The HELLOs carry the claim too, so a DNS-less peer and the portal's peers page see it.
      await new Promise((r) => setImmediate(r));
      expect(lan.calls).toContain('ws-1 PUT /head 1');

      two.start();
      await two.ready();
      expect(two.isHead()).toBe(false);
      expect(two.head()).toEqual({ nodeId: 'ws-1', address: '192.0.2.1', ports });
      expect(two.info()).toMatchObject({ role: 'follower', epoch: 1, mode: 'dns' });

      // ws-1 shuts down cleanly: it hands the lease back (no A record) and leaves the LAN.
      await one.stop();
      lan.nodes.get('ws-1')!.on = false;
      expect(bind.dig('head.cps.test', 'A')).toEqual([]);
      expect(lan.calls).toContain('ws-1 DELETE /head');
      await until(two, () => two.isHead());
      expect(two.commandEpoch()).toEqual({ epoch: 2, head: 'ws-2' });
      expect(bind.dig('head.cps.test', 'A')).toEqual(['192.0.2.2']);
      expect(bind.dig('head.cps.test', 'TXT')[0]).toMatch(/holder=ws-2 epoch=2/);
    } finally {
      await one.stop();
      await two.stop();
    }
  });

  it('a lease another holder wrote behind its back is never overwritten: this node follows', async () => {
    const dns = headDnsFrom(
      headDnsEnv.parse({ CPS_HEAD_DNS_SERVER: `127.0.0.1:${bind.port}`, CPS_HEAD_DNS_ZONE: 'cps.test', CPS_HEAD_DNS_NAME: 'other.cps.test', CPS_HEAD_DNS_KEY_FILE: join(bind.dir, 'head.key') }),
    );
    const expires = Date.now() + 60_000;
    expect(bind.nsupdate([`update add other.cps.test 5 TXT "cps-lease v=1 holder=ws-9 epoch=7 expires=${expires}"`]).status).toBe(0);
    const lan = fakeLan(clock as never);
    lan.add('ws-1', '192.0.2.1', 900);
    lan.add('ws-9', '192.0.2.9', 10);
    const one = headRoleFor({ self: { nodeId: 'ws-1', address: '192.0.2.1', ports }, discovery: lan.discoveryOf('ws-1'), dns, dataDir: mkdtempSync(join(tmpdir(), 'cps-head-dns-')), now: clock.now, timers: realTimers, log: silent, timing });
    try {
      one.start();
      await one.ready();
      expect(one.isHead()).toBe(false);
      expect(one.head()).toMatchObject({ nodeId: 'ws-9', address: '192.0.2.9' });
      expect(bind.dig('other.cps.test', 'TXT')).toEqual([`"cps-lease v=1 holder=ws-9 epoch=7 expires=${expires}"`]);
      expect(lan.calls).toEqual([]);
    } finally {
      await one.stop();
    }
  });
});
