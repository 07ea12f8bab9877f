import { describe, expect, it } from 'vitest';
import { createLogger } from '@cps/common';
import { boundedRunner, GuestAgent, MAX_ADDRESSES, type AgentRunner } from '../src/guestAgent.ts';

const log = createLogger('guest-agent-test', 'silent');
const DOM = 'cps-t-1';

/** A fake virsh: answers each agent command by its "execute" (a string is stdout; an Error rejects). */
function fakeVirsh(answers: Record<string, string | Error>) {
  const calls: { args: string[]; timeoutMs: number; maxBytes: number }[] = [];
  const run: AgentRunner = async (args, o) => {
    calls.push({ args, ...o });
    const cmd = args[args.indexOf('--cmd') + 1];
    const key = args.includes('shutdown') ? 'shutdown' : (JSON.parse(cmd ?? '{}') as { execute?: string }).execute ?? '';
    const a = answers[key] ?? new Error(`error: Guest agent is not responding: ${key}`);
    if (a instanceof Error) throw a;
    return a;
  };
  return { run, calls, executed: () => calls.map((c) => (c.args.includes('shutdown') ? 'shutdown' : JSON.parse(c.args[c.args.indexOf('--cmd') + 1]!).execute)) };
}

/** Time that never passes unless a test lets it (`sleep` of the agent). */
const never = () => new Promise<void>(() => undefined);

function agentWith(answers: Record<string, string | Error>, clock = { ms: 0 }, sleep: (ms: number) => Promise<void> = never) {
  const v = fakeVirsh(answers);
  return { agent: new GuestAgent({ uri: 'qemu:///system', run: v.run, log, now: () => clock.ms, sleep }), ...v, clock };
}

const PONG = '{"return":{}}';
const ifaces = (list: unknown) => JSON.stringify({ return: list });

describe('GuestAgent', () => {
  it('asks through virsh qemu-agent-command with libvirt\'s timeout and a bound on virsh itself', async () => {
    const { agent, calls } = agentWith({ 'guest-ping': PONG });
    expect(await agent.available(DOM)).toBe(true);
    expect(calls[0]!.args).toEqual(['-c', 'qemu:///system', 'qemu-agent-command', '--domain', DOM, '--timeout', '2', '--cmd', '{"execute":"guest-ping"}']);
    expect(calls[0]!.timeoutMs).toBe(7000);
    expect(calls[0]!.maxBytes).toBe(64 * 1024);
  });

  it('remembers a guest that answered, and one that did not for a while only', async () => {
    const { agent, executed, clock } = agentWith({});
    expect(await agent.available(DOM)).toBe(false);
    clock.ms = 59_000;
    expect(await agent.available(DOM)).toBe(false);
    expect(executed()).toEqual(['guest-ping']);
    clock.ms = 61_000;
    expect(await agent.available(DOM)).toBe(false);
    expect(executed()).toEqual(['guest-ping', 'guest-ping']);

    const up = agentWith({ 'guest-ping': PONG });
    await up.agent.available(DOM);
    await up.agent.available(DOM);
    expect(up.executed()).toEqual(['guest-ping']);
    up.agent.forget(DOM);
    await up.agent.available(DOM);
    expect(up.executed()).toEqual(['guest-ping', 'guest-ping']);
  });

  it.each([
    ['not JSON', 'pong'],
    ['JSON of another shape', '{"error":{"class":"GenericError"}}'],
    ['a return that is no object', '{"return":"yes"}'],
    ['more than 64 KiB', `{"return":{},"x":"${'a'.repeat(70_000)}"}`],
    ['nothing', ''],
  ])('takes a ping answered with %s as no agent', async (_, text) => {
    const { agent } = agentWith({ 'guest-ping': text });
    expect(await agent.available(DOM)).toBe(false);
    expect(await agent.freeze(DOM)).toBeUndefined();
    expect(await agent.addresses(DOM)).toBeUndefined();
    expect(await agent.shutdown(DOM)).toBe(false);
  });

  it('shuts down through libvirt\'s agent mode; false when that fails', async () => {
    const ok = agentWith({ 'guest-ping': PONG, shutdown: 'Domain cps-t-1 is being shutdown\n' });
    expect(await ok.agent.shutdown(DOM)).toBe(true);
    expect(ok.calls[1]!.args).toEqual(['-c', 'qemu:///system', 'shutdown', '--domain', DOM, '--mode', 'agent']);
    const failing = agentWith({ 'guest-ping': PONG, shutdown: new Error('error: Guest agent is not responding') });
    expect(await failing.agent.shutdown(DOM)).toBe(false);
    expect(failing.executed()).toEqual(['guest-ping', 'shutdown', 'guest-exec']);
    // A systemd guest without dbus refuses guest-shutdown; systemctl poweroff through guest-exec is taken.
    const noDbus = agentWith({ 'guest-ping': PONG, shutdown: new Error("error: internal error: unable to execute QEMU agent command 'guest-shutdown': child process has failed to shutdown"), 'guest-exec': '{"return":{"pid":812}}' });
    expect(await noDbus.agent.shutdown(DOM)).toBe(true);
    expect(JSON.parse(noDbus.calls[2]!.args.at(-1)!)).toEqual({ execute: 'guest-exec', arguments: { path: '/bin/systemctl', arg: ['poweroff'] } });
    // … but only an answer with a pid is taken.
    const oddExec = agentWith({ 'guest-ping': PONG, shutdown: new Error('refused'), 'guest-exec': '{"return":{"pid":"812"}}' });
    expect(await oddExec.agent.shutdown(DOM)).toBe(false);
    const none = agentWith({});
    expect(await none.agent.shutdown(DOM)).toBe(false);
    expect(none.executed()).toEqual(['guest-ping']);
  });

  it('takes a shutdown libvirt has not refused within its time as taken, and lets libvirt wait on alone', async () => {
    // libvirt answers an agent shutdown only once the guest is off: here not before the time is up.
    let refuseLater: (err: Error) => void = () => undefined;
    const calls: Array<{ args: string[]; timeoutMs: number }> = [];
    const run: AgentRunner = (args, o) => {
      calls.push({ args, timeoutMs: o.timeoutMs });
      if (args.includes('qemu-agent-command')) return Promise.resolve(PONG);
      return new Promise((_, reject) => (refuseLater = reject));
    };
    const waits: number[] = [];
    const agent = new GuestAgent({ uri: 'qemu:///system', run, log, now: () => 0, sleep: async (ms) => void waits.push(ms) });
    expect(await agent.shutdown(DOM)).toBe(true);
    expect(waits).toEqual([3000]);
    expect(calls[1]!.timeoutMs).toBe(65_000);
    refuseLater(new Error('error: Guest agent is not responding')); // later: only logged
  });

  it('freezes and thaws with the counts the agent gives; garbage counts are no answer', async () => {
    const { agent, calls } = agentWith({ 'guest-ping': PONG, 'guest-fsfreeze-freeze': '{"return":2}', 'guest-fsfreeze-thaw': '{"return":2}' });
    expect(await agent.freeze(DOM)).toBe(2);
    expect(calls[1]!.args).toContain('20');
    expect(await agent.thaw(DOM)).toBe(2);
    for (const bad of ['{"return":-1}', '{"return":1.5}', '{"return":"2"}', '{"return":1e12}']) {
      const g = agentWith({ 'guest-ping': PONG, 'guest-fsfreeze-freeze': bad });
      expect(await g.agent.freeze(DOM)).toBeUndefined();
    }
  });

  it('lists addresses without loopback, and drops what does not hold together', async () => {
    const { agent } = agentWith({
      'guest-ping': PONG,
      'guest-network-get-interfaces': ifaces([
        { name: 'lo', 'ip-addresses': [{ 'ip-address-type': 'ipv4', 'ip-address': '127.0.0.1', prefix: 8 }] },
        {
          name: 'enp1s0',
          'hardware-address': '52:54:00:12:34:56',
          'ip-addresses': [
            { 'ip-address-type': 'ipv4', 'ip-address': '10.0.2.15', prefix: 24 },
            { 'ip-address-type': 'ipv6', 'ip-address': 'fec0::5054:ff:fe12:3456', prefix: 64 },
            { 'ip-address-type': 'ipv6', 'ip-address': '10.0.2.16', prefix: 64 }, // type and form disagree
            { 'ip-address-type': 'ipv4', 'ip-address': '10.0.2.17', prefix: 64 }, // v4 prefix past 32
            { 'ip-address-type': 'ipv4', 'ip-address': '10.0.2.999', prefix: 24 }, // no address
          ],
        },
        { name: 'veth<script>', 'ip-addresses': [{ 'ip-address-type': 'ipv4', 'ip-address': '10.9.9.9', prefix: 24 }] },
        { name: 'other', 'ip-addresses': [{ 'ip-address-type': 'ipv6', 'ip-address': '::1', prefix: 128 }] },
        { name: 'down' },
      ]),
    });
    expect(await agent.addresses(DOM)).toEqual([
      { interface: 'enp1s0', family: 'ipv4', address: '10.0.2.15', prefix: 24 },
      { interface: 'enp1s0', family: 'ipv6', address: 'fec0::5054:ff:fe12:3456', prefix: 64 },
    ]);
  });

  it('refuses an interface list past its bounds, and an interface of the wrong shape', async () => {
    const many = Array.from({ length: 17 }, (_, i) => ({ name: `e${i}` }));
    expect(await agentWith({ 'guest-ping': PONG, 'guest-network-get-interfaces': ifaces(many) }).agent.addresses(DOM)).toBeUndefined();
    const addrs = Array.from({ length: 33 }, (_, i) => ({ 'ip-address-type': 'ipv4', 'ip-address': `10.0.0.${i + 1}`, prefix: 24 }));
    expect(await agentWith({ 'guest-ping': PONG, 'guest-network-get-interfaces': ifaces([{ name: 'e0', 'ip-addresses': addrs }]) }).agent.addresses(DOM)).toBeUndefined();
    expect(await agentWith({ 'guest-ping': PONG, 'guest-network-get-interfaces': ifaces([{ name: 42 }]) }).agent.addresses(DOM)).toBeUndefined();
    expect(await agentWith({ 'guest-ping': PONG, 'guest-network-get-interfaces': ifaces({ name: 'e0' }) }).agent.addresses(DOM)).toBeUndefined();
    // Within the bounds, at most MAX_ADDRESSES come out even across interfaces.
    const spread = Array.from({ length: 16 }, (_, i) => ({ name: `e${i}`, 'ip-addresses': addrs.slice(0, 3).map((a) => ({ ...a, 'ip-address': `10.${i}.0.${a.prefix}` })) }));
    const out = await agentWith({ 'guest-ping': PONG, 'guest-network-get-interfaces': ifaces(spread) }).agent.addresses(DOM);
    expect(out?.length).toBe(MAX_ADDRESSES);
  });
});

describe('the bounded runner (hostile output, hung commands)', () => {
  const sh = boundedRunner('sh');
  it('rejects a command that never ends, once its time is up', async () => {
    await expect(sh(['-c', 'sleep 30'], { timeoutMs: 200, maxBytes: 1000 })).rejects.toThrow();
  });
  it('rejects output past the bound', async () => {
    await expect(sh(['-c', 'head -c 100000 /dev/zero | tr "\\0" a'], { timeoutMs: 10_000, maxBytes: 1000 })).rejects.toThrow();
  });
  it('gives stdout of a command that succeeds, stderr as the reason of one that fails', async () => {
    expect(await sh(['-c', 'printf ok'], { timeoutMs: 10_000, maxBytes: 1000 })).toBe('ok');
    await expect(sh(['-c', 'echo "error: no agent" >&2; exit 1'], { timeoutMs: 10_000, maxBytes: 1000 })).rejects.toThrow('error: no agent');
  });
});
