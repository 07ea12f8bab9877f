import { describe, expect, it } from 'vitest';
import { parseCmdList } from '../src/sim/cmdlist.ts';
import { expectedLog, logDiff, readCmdList, runCmdList, runScenario, scenarioNames } from '../src/sim/scenarios.ts';

// The simulator (docs/head.md "Simulator"): every folder under scenarios/ is run and its event log
// diffed exactly against log.expect. A failure prints the unified diff; the test never rewrites
// log.expect (`npx tsx packages/head/sim/run.ts NAME --update` does, for a human to review).
const names = await scenarioNames();

describe('head simulator scenarios', () => {
  it('there are at least 40, each with a log.expect', async () => {
    expect(names.length).toBeGreaterThanOrEqual(40);
    for (const n of names) expect(await expectedLog(n), n).toBeDefined();
  });

  it.each(names)('%s', async (name) => {
    const actual = await runScenario(name);
    const diff = logDiff(name, (await expectedLog(name)) ?? '', actual);
    if (diff) throw new Error(`the event log differs from log.expect:\n${diff}`);
  });

  it('the same scenario twice gives the same log, byte for byte (no real time, no randomness)', async () => {
    const name = 'fence-paused-head-stalled-command';
    expect(await runScenario(name)).toBe(await runScenario(name));
  });

  it('a change of behaviour fails the diff, and the failure shows the lines that changed', async () => {
    // The same scenario with the head's power cut 10 s later: the failover moves, the diff says where.
    const name = 'head-choice-head-powered-off';
    const moved = (await readCmdList(name)).replace('20s power off n1', '30s power off n1');
    const diff = logDiff(name, (await expectedLog(name))!, await runCmdList(moved));
    expect(diff).toContain(`--- ${name}/log.expect`);
    expect(diff).toMatch(/^-\s+37\.000 n2 +head\.claimed epoch=2$/m);
    expect(diff).toMatch(/^\+\s+\d+\.000 n2 +head\.claimed epoch=2$/m);
  });

  it('two heads at once happen only where a scenario puts clocks beyond the drift margin', async () => {
    for (const n of names) {
      const log = (await expectedLog(n)) ?? '';
      if (log.includes('TWO HEADS')) expect(n, 'only a beyond-the-margin scenario may show two heads').toMatch(/beyond-margin/);
    }
  });
});

describe('cmdlist', () => {
  it('reads times, set-up lines and commands', () => {
    const l = parseCmdList('nodes a b\ntiming lease=9000 renew=3000\n0s power on a # the first\n1500ms cut link a dns\n2.5s partition a | b,dns\n3s skew b -200ms\n4s send a x\n9s end\n');
    expect(l.nodes).toEqual(['a', 'b']);
    expect(l.timing).toMatchObject({ leaseMs: 9000, renewMs: 3000, driftMs: 2000 });
    expect(l.endAt).toBe(9000);
    expect(l.commands.map((c) => [c.at, c.cmd])).toEqual([
      [0, { op: 'power-on', node: 'a' }],
      [1500, { op: 'cut', a: 'a', b: 'dns' }],
      [2500, { op: 'partition', sides: [['a'], ['b', 'dns']] }],
      [3000, { op: 'skew', node: 'b', ms: -200 }],
      [4000, { op: 'send', node: 'a', command: 'x' }],
    ]);
  });

  it.each([
    ['no nodes line', '0s power on a'],
    ['an unknown node', 'nodes a\n0s power on b'],
    ['an unknown command', 'nodes a\n0s reboot a'],
    ['a command without a time', 'nodes a\npower on a'],
    ['times out of order', 'nodes a\n5s power on a\n1s power off a'],
    ['a link to itself', 'nodes a\n0s cut link a a'],
    ['a node on both sides', 'nodes a b\n0s partition a | a,b'],
    ['a bad timing', 'nodes a\ntiming lease=soon'],
    ['dns as a node', 'nodes dns'],
  ])('refuses %s', (_why, text) => {
    expect(() => parseCmdList(text)).toThrow(/cmdlist/);
  });
});
