import { describe, expect, it } from 'vitest';
import { ProblemError } from '@cps/common';
import { LibvirtHypervisor, type LibvirtConn } from '../src/hypervisor.ts';

// A connection whose daemon went away, and a healthy one; only the reconnect logic is under test.
function fakeConn(alive: boolean, log: string[], id: string): LibvirtConn {
  const lost = () => Promise.reject(new Error('internal error: client socket is closed'));
  return {
    connectGetHostname: () => (alive ? Promise.resolve(`host-${id}`) : lost()),
    nodeGetInfo: () => (alive ? Promise.resolve({ model: 'x86_64', memory: 1024, cpus: 2, mhz: 1, nodes: 1, sockets: 1, cores: 2, threads: 1 }) : lost()),
    domainCreateXML: () => (alive ? Promise.reject(new Error('XML error: bad')) : lost()),
    domainLookupByName: () => (alive ? Promise.reject(new Error('Domain not found')) : lost()),
    connectListAllDomains: () => (alive ? Promise.resolve([]) : lost()),
    connectClose: () => {
      log.push(`close ${id}`);
      return Promise.resolve();
    },
  } as unknown as LibvirtConn;
}

describe('LibvirtHypervisor reconnects when libvirtd went away', () => {
  it('opens a new connection once and repeats the call', async () => {
    const log: string[] = [];
    const conns = [fakeConn(false, log, 'a'), fakeConn(true, log, 'b')];
    let opened = 0;
    const hv = await LibvirtHypervisor.open('test:///fake', async () => conns[opened++]!);
    await expect(hv.ping()).resolves.toBeUndefined();
    expect(opened).toBe(2);
    expect(log).toEqual(['close a']);
    expect(await hv.listNames()).toEqual([]);
    expect(opened).toBe(2);
  });

  it('shares one new connection among calls that failed together', async () => {
    const log: string[] = [];
    let opened = 0;
    const hv = await LibvirtHypervisor.open('test:///fake', async () => fakeConn(opened++ > 0, log, String(opened)));
    await Promise.all([hv.ping(), hv.nodeInfo(), hv.listNames(), hv.inspect('cps-x')]);
    expect(opened).toBe(2);
  });

  it('does not reconnect on ordinary errors, and maps them to hypervisor-error', async () => {
    let opened = 0;
    const hv = await LibvirtHypervisor.open('test:///fake', async () => (opened++, fakeConn(true, [], 'a')));
    const err = await hv.create('<domain/>').catch((e) => e);
    expect(err).toBeInstanceOf(ProblemError);
    expect(err.problemType).toBe('hypervisor-error');
    expect(err.message).toMatch(/create domain: XML error/);
    expect(await hv.inspect('cps-nope')).toBeUndefined();
    expect(opened).toBe(1);
  });

  it('connects lazily: fails while libvirt is away, works once it answers', async () => {
    let up = false;
    let opened = 0;
    const hv = LibvirtHypervisor.lazy('test:///fake', async () => {
      if (!up) throw new Error('Failed to connect socket to /run/libvirt/libvirt-sock');
      opened++;
      return fakeConn(true, [], 'a');
    });
    const err = await hv.ping().catch((e) => e);
    expect(err.problemType).toBe('hypervisor-error');
    expect(err.message).toMatch(/^connect test:\/\/\/fake: Failed to connect socket/);
    up = true;
    await expect(hv.ping()).resolves.toBeUndefined();
    await hv.nodeInfo();
    expect(opened).toBe(1);
  });

  it('reports a hypervisor-error when the new connection cannot be opened either', async () => {
    let opened = 0;
    const hv = await LibvirtHypervisor.open('test:///fake', async () => {
      if (opened++ > 0) throw new Error('Failed to connect socket');
      return fakeConn(false, [], 'a');
    });
    const err = await hv.ping().catch((e) => e);
    expect(err.problemType).toBe('hypervisor-error');
    expect(err.message).toMatch(/reconnect test:\/\/\/fake: Failed to connect socket/);
  });
});
