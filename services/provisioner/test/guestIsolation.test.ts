import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@cps/common';
import {
  hostRun,
  installGuestIsolation,
  isolationRule,
  ISOLATION_COMMENT,
  qemuUserOf,
  removeGuestIsolation,
  uidOf,
  type IsolationDeps,
  type RunResult,
} from '../src/guestIsolation.ts';

const log = createLogger('provisioner-test', 'silent');
const passwd = 'root:x:0:0:root:/root:/bin/bash\nlibvirt-qemu:x:64055:107:Libvirt Qemu,,,:/var/lib/libvirt:/usr/sbin/nologin\nqemu:x:990:990::/:/sbin/nologin\n';
const files = (over: Record<string, string | undefined> = {}) => (p: string) =>
  ({ '/etc/passwd': passwd, '/etc/libvirt/qemu.conf': '#user = "root"\n', '/proc/net/if_inet6': '00000000000000000000000000000001 01 80 10 80       lo\n', ...over })[p];

describe('the pure parts', () => {
  it("reads qemu.conf's user: commented out is unset, the last setting wins", () => {
    expect(qemuUserOf('#user = "root"\n# user = "x"\n')).toBeUndefined();
    expect(qemuUserOf('user = "qemu"\nuser = "+990" # numeric\n')).toBe('+990');
    expect(qemuUserOf('  user="libvirt-qemu"\n')).toBe('libvirt-qemu');
  });
  it('finds a uid by name or in the +N form', () => {
    expect(uidOf('libvirt-qemu', passwd)).toBe(64055);
    expect(uidOf('+990', passwd)).toBe(990);
    expect(uidOf('libvirt', passwd)).toBeUndefined();
    expect(uidOf('nobody', '')).toBeUndefined();
  });
  it('never writes a rule for root', () => {
    expect(() => isolationRule(0)).toThrow(/uid 0/);
    expect(() => isolationRule(-1)).toThrow();
    expect(isolationRule(64055)).toEqual([
      '-m', 'owner', '--uid-owner', '64055', '-m', 'addrtype', '--dst-type', 'LOCAL', '-m', 'conntrack', '--ctstate', 'NEW',
      '-m', 'comment', '--comment', ISOLATION_COMMENT, '-j', 'REJECT',
    ]);
  });
});

describe('installGuestIsolation decisions', () => {
  const recorder = (answer: (cmd: string, args: string[]) => RunResult) => {
    const calls: string[] = [];
    const run: IsolationDeps['run'] = async (cmd, args) => (calls.push(`${cmd} ${args.slice(0, 3).join(' ')}`), answer(cmd, args));
    return { calls, run };
  };

  it('inserts only where -C finds no rule, for both families', async () => {
    const { calls, run } = recorder((cmd, args) => ({ code: args[1] === '-C' ? (cmd === 'iptables' ? 0 : 1) : 0, stderr: '' }));
    const s = await installGuestIsolation('qemu:///system', { run, readFile: files(), log });
    expect(s).toEqual({ state: 'on', uid: 64055, tools: ['iptables', 'ip6tables'] });
    expect(calls).toEqual(['iptables -w -C OUTPUT', 'ip6tables -w -C OUTPUT', 'ip6tables -w -I OUTPUT']);
  });
  it('uses the user qemu.conf names', async () => {
    const { calls, run } = recorder(() => ({ code: 1, stderr: '' }));
    const s = await installGuestIsolation('qemu:///system', { run: async (c, a) => (await run(c, a), { code: a[1] === '-C' ? 1 : 0, stderr: '' }), readFile: files({ '/etc/libvirt/qemu.conf': 'user = "qemu"\n' }), log });
    expect(s).toMatchObject({ state: 'on', uid: 990 });
    expect(calls).toHaveLength(4);
  });
  it('refuses to match root and says so, touching no firewall', async () => {
    const { calls, run } = recorder(() => ({ code: 0, stderr: '' }));
    const s = await installGuestIsolation('qemu:///system', { run, readFile: files({ '/etc/libvirt/qemu.conf': 'user = "root"\n' }), log });
    expect(s).toMatchObject({ state: 'off', uid: 0, reason: expect.stringContaining('QEMU runs as root') });
    expect(calls).toEqual([]);
  });
  it('is off, with the reason, when iptables is missing', async () => {
    const { run } = recorder(() => ({ code: undefined, stderr: 'spawn iptables ENOENT' }));
    const s = await installGuestIsolation('qemu:///system', { run, readFile: files(), log });
    expect(s).toMatchObject({ state: 'off', uid: 64055, reason: expect.stringContaining('iptables: not runnable spawn iptables ENOENT') });
  });
  it('does not need ip6tables on a host without IPv6', async () => {
    const { run } = recorder((cmd, args) => ({ code: cmd === 'ip6tables' ? 3 : args[1] === '-C' ? 1 : 0, stderr: '' }));
    expect(await installGuestIsolation('qemu:///system', { run, readFile: files({ '/proc/net/if_inet6': undefined }), log })).toMatchObject({ state: 'on' });
    expect(await installGuestIsolation('qemu:///system', { run, readFile: files(), log })).toMatchObject({ state: 'off', reason: expect.stringContaining('ip6tables: exit 3') });
  });
  it('is off when the QEMU user is unknown, not applicable for other libvirts', async () => {
    const { run } = recorder(() => ({ code: 0, stderr: '' }));
    expect(await installGuestIsolation('qemu:///system', { run, readFile: files({ '/etc/passwd': '' }), log })).toMatchObject({ state: 'off' });
    expect(await installGuestIsolation('test:///default', { run, readFile: files(), log })).toMatchObject({ state: 'not-applicable' });
  });
});

// The real firewall, inside a throwaway network namespace so the machine's own rules are untouched.
describe.skipIf(process.getuid?.() !== 0)('with real iptables (a private network namespace)', () => {
  const ns = `cps-iso-${randomBytes(3).toString('hex')}`;
  const inNs: IsolationDeps['run'] = (cmd, args) => hostRun('ip', ['netns', 'exec', ns, cmd, ...args]);
  const rules = (tool: string) => execFileSync('ip', ['netns', 'exec', ns, tool, '-S', 'OUTPUT'], { encoding: 'utf8' });
  beforeAll(() => execFileSync('ip', ['netns', 'add', ns]));
  afterAll(() => execFileSync('ip', ['netns', 'del', ns]));

  it('installs one rule per family however often it runs, and removes it', async () => {
    for (let i = 0; i < 3; i++) {
      expect(await installGuestIsolation('qemu:///system', { run: inNs, readFile: files(), log })).toMatchObject({ state: 'on', uid: 64055 });
    }
    for (const tool of ['iptables', 'ip6tables']) {
      const lines = rules(tool).split('\n').filter((l) => l.includes(ISOLATION_COMMENT));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/-A OUTPUT -m owner --uid-owner 64055 -m addrtype --dst-type LOCAL -m conntrack --ctstate NEW .*-j REJECT/);
    }
    await removeGuestIsolation(64055, inNs);
    expect(rules('iptables') + rules('ip6tables')).not.toContain(ISOLATION_COMMENT);
  });
});
