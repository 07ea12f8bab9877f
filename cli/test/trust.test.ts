import { mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadNodeIdentity, trustLayout } from '@cps/trust';
import { describe, expect, it } from 'vitest';
import { memoryIo } from '../src/io.ts';
import { run } from '../src/main.ts';
import { parseTtl } from '../src/commands/trust.ts';
import { envFromSettings } from '../src/trust/cluster-settings.ts';
import { JoinError, joinCluster, parseTarget } from '../src/trust/join.ts';
import { defaultNodeId } from '../src/trust/prepare.ts';

const tmp = () => mkdtempSync(join(tmpdir(), 'cps-cli-trust-'));

describe('cps init', () => {
  it('makes the cluster once: CA, node certificate, PEP key, keys for root alone; a second run changes nothing', async () => {
    const dir = tmp();
    const io = memoryIo({ CPS_NODE_ID: 'ws-1', CPS_ADVERTISE_ADDRESS: '127.0.0.1' });
    expect(await run(['init', '--data-dir', dir], io)).toBe(0);
    expect(io.stdout.join('\n')).toMatch(/made the cluster's CA \(SHA-256 [0-9a-f]{16}…\) and this node's certificate \(ws-1\)/);
    const l = trustLayout(dir);
    for (const f of [l.caKey, l.nodeKey, l.pepKey]) expect(statSync(f).mode & 0o777).toBe(0o600);
    const first = loadNodeIdentity(dir);
    const again = memoryIo({ CPS_NODE_ID: 'ws-1', CPS_ADVERTISE_ADDRESS: '127.0.0.1' });
    expect(await run(['init', '--data-dir', dir], again)).toBe(0);
    expect(again.stdout.join('\n')).toMatch(/node ws-1 of cluster/);
    expect(loadNodeIdentity(dir).cert.fingerprint).toBe(first.cert.fingerprint);
    // The first admin is made once and its password shown once; the second run says nothing of it.
    const shown = /first admin of this node's portal: name admin, password (\S+)/.exec(io.stdout.join('\n'));
    expect(shown?.[1]).toMatch(/^\S{16,}$/);
    expect(again.stdout.join('\n')).not.toMatch(/first admin/);
    const { openRegistry, registryPath } = await import('@cps/coordinator/registry/db.ts');
    const { Accounts } = await import('@cps/coordinator/accounts/accounts.ts');
    const reg = openRegistry(registryPath(dir), { now: () => new Date() });
    try {
      const accounts = new Accounts({ store: reg.accounts, now: () => new Date() });
      expect(reg.accounts.users.count()).toBe(1);
      expect(await accounts.checkPassword('admin', shown![1]!)).toBeTruthy();
    } finally {
      reg.close();
    }
  });

  it('refuses another node id than the certificate names', async () => {
    const dir = tmp();
    await run(['init', '--data-dir', dir], memoryIo({ CPS_NODE_ID: 'ws-1', CPS_ADVERTISE_ADDRESS: '127.0.0.1' }));
    const io = memoryIo({ CPS_NODE_ID: 'ws-2', CPS_ADVERTISE_ADDRESS: '127.0.0.1' });
    expect(await run(['init', '--data-dir', dir], io)).toBe(1);
    expect(io.stdout.join('\n')).toMatch(/CPS_NODE_ID is ws-2, but this node's certificate .* names ws-1/);
  });

  it('--join without --token is bad usage', async () => {
    const io = memoryIo({});
    expect(await run(['init', '--join', '10.0.0.1:8081'], io)).toBe(2);
    expect(io.stderr.join('')).toMatch(/--join and --token go together/);
  });
});

describe('joining, before anything is sent', () => {
  it('parses HOST:PORT, and says what it wants otherwise', () => {
    expect(parseTarget('10.0.0.5:8081')).toEqual({ host: '10.0.0.5', port: 8081 });
    expect(parseTarget('[fd00::5]:8081')).toEqual({ host: 'fd00::5', port: 8081 });
    expect(parseTarget('ws-a.lan:18481')).toEqual({ host: 'ws-a.lan', port: 18481 });
    for (const bad of ['10.0.0.5', '10.0.0.5:0', 'a:99999', 'http://x:1', 'x y:1']) expect(() => parseTarget(bad)).toThrow(JoinError);
  });

  it('refuses a malformed or expired token without connecting, and writes nothing', async () => {
    const dir = tmp();
    const base = { target: '127.0.0.1:1', dataDir: dir, nodeId: 'n', now: () => new Date(), say: () => {} };
    await expect(joinCluster({ ...base, token: 'cps1.nope' })).rejects.toThrow(/not a CPS join token/);
    const expired = `cps1.${'a'.repeat(64)}.0011aabb.${'s'.repeat(43)}.1000`;
    await expect(joinCluster({ ...base, token: expired })).rejects.toThrow(/expired at 1970-01-01T00:16:40.000Z.*Nothing was sent/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a node of another cluster does not join this one', async () => {
    const dir = tmp();
    await run(['init', '--data-dir', dir], memoryIo({ CPS_NODE_ID: 'ws-1', CPS_ADVERTISE_ADDRESS: '127.0.0.1' }));
    const token = `cps1.${'a'.repeat(64)}.0011aabb.${'s'.repeat(43)}.${Math.floor(Date.now() / 1000) + 600}`;
    await expect(joinCluster({ target: '127.0.0.1:1', token, dataDir: dir, nodeId: 'ws-1', now: () => new Date(), say: () => {} })).rejects.toThrow(/already belongs to another cluster/);
  });
});

describe('small rules', () => {
  it('token lifetimes', () => {
    expect(parseTtl('90s')).toBe(90);
    expect(parseTtl('1h')).toBe(3600);
    expect(parseTtl('7d')).toBe(604800);
    for (const bad of ['30s', '8d', '1 h', 'forever']) expect(() => parseTtl(bad)).toThrow();
  });

  it('the settings of a join fill what the operator left unset', () => {
    const s = { pepGroup: '239.1.2.3', pepPort: 4000, pepMulticast: false, pepSeeds: '10.0.0.5:4000', address: '10.0.0.9', joinedVia: 'a', joinedAt: '' };
    expect(envFromSettings(s, {})).toEqual({ CPS_PEP_GROUP: '239.1.2.3', CPS_PEP_PORT: '4000', CPS_PEP_INTERFACE: '10.0.0.9', CPS_ADVERTISE_ADDRESS: '10.0.0.9', CPS_PEP_MULTICAST: '0', CPS_PEP_SEEDS: '10.0.0.5:4000' });
    expect(envFromSettings(s, { CPS_ADVERTISE_ADDRESS: '10.0.0.10' })).not.toHaveProperty('CPS_ADVERTISE_ADDRESS');
  });

  it('a host name as a node id', () => {
    expect(defaultNodeId('ws-1.lab.example')).toBe('ws-1.lab.example');
    expect(defaultNodeId('_weird name!')).toBe('weird-name-');
    expect(defaultNodeId('')).toBe('node');
  });
});
