import { describe, expect, it } from 'vitest';
import { busyBecause, initialOwnerState, ownerInput, ownerStep, type OwnerSample, type OwnerState } from '../src/ownerRules.ts';
import { ownerSchema } from '../src/sharePolicy.ts';

const t = ownerSchema.parse({ cpuBusyPercent: 50, graceSec: 3, resumeAfterSec: 2, vacateAfterSec: 10 });
const idle = (sec: number): OwnerSample => ({ atMs: sec * 1000, ownerCpuPercent: 5, memoryPressurePercent: 0 });
const busy = (sec: number): OwnerSample => ({ atMs: sec * 1000, ownerCpuPercent: 90, memoryPressurePercent: 0 });

/** Runs samples "b"/"i" one a second from t=1 and lists "<second>:<action>" for each action. */
function run(pattern: string, thresholds = t): string[] {
  let state: OwnerState = initialOwnerState(0);
  const actions: string[] = [];
  [...pattern].forEach((c, i) => {
    const r = ownerStep(state, c === 'b' ? busy(i + 1) : idle(i + 1), thresholds);
    state = r.state;
    if (r.action) actions.push(`${i + 1}:${r.action}`);
  });
  return actions;
}

describe('owner-first rules (grace 3 s, resume after 2 s, vacate after 10 s)', () => {
  it.each([
    ['always idle', 'iiiiiiii', []],
    ['a short burst shorter than the grace', 'ibbiibbi', []],
    ['busy past the grace: SUSPEND once', 'bbbbbb', ['4:suspend']],
    ['then idle long enough: CONTINUE', 'bbbbiii', ['4:suspend', '7:resume']],
    ['idle too briefly does not resume', 'bbbbibibib', ['4:suspend']],
    ['busy again while idle-pending restarts the idle wait', 'bbbbibiii', ['4:suspend', '9:resume']],
    ['suspended for the vacate time: VACATE once', 'bbbb' + 'b'.repeat(12), ['4:suspend', '14:vacate']],
    ['after a resume the grace starts over', 'bbbbiiibbbb', ['4:suspend', '7:resume', '11:suspend']],
  ])('%s: %s', (_, pattern, want) => {
    expect(run(pattern)).toEqual(want);
  });

  it('suspends at the first busy sample with a grace of 0 and resumes at the first idle one with 0', () => {
    expect(run('ibbiib', { ...t, graceSec: 0, resumeAfterSec: 0 })).toEqual(['2:suspend', '4:resume', '6:suspend']);
  });
});

describe('desktop input (seen as it happens)', () => {
  it('suspends at once from idle and within the grace, restarts the wait to resume, and is news once', () => {
    expect(ownerInput(initialOwnerState(0), 500)).toMatchObject({ action: 'suspend', state: { phase: 'suspended', suspendedAtMs: 500 } });
    const pending = ownerStep(initialOwnerState(0), busy(1), t).state;
    expect(pending.phase).toBe('busy-pending');
    expect(ownerInput(pending, 1200).action).toBe('suspend');
    const suspended = ownerInput(initialOwnerState(0), 500).state;
    expect(ownerInput(suspended, 900)).toEqual({ state: suspended, why: ['desktop input'] });
    const idlePending = ownerStep(suspended, idle(2), t).state;
    expect(idlePending.phase).toBe('idle-pending');
    const again = ownerInput(idlePending, 2500);
    expect(again.action).toBeUndefined();
    expect(again.state).toMatchObject({ phase: 'suspended', sinceMs: 2500, suspendedAtMs: 500 });
    // The resume waits resumeAfterSec from the last input, not from the first idle sample.
    expect(ownerStep(again.state, idle(4), t).action).toBeUndefined();
  });

  it('the default grace for CPU load is 10 s', () => {
    expect(ownerSchema.parse({}).graceSec).toBe(10);
  });
});

describe('busyBecause', () => {
  it.each([
    ['an idle host', { ownerCpuPercent: 10, memoryPressurePercent: 1 }, []],
    ['owner CPU over the threshold', { ownerCpuPercent: 51 }, ['owner CPU 51% > 50%']],
    ['memory pressure', { ownerCpuPercent: 0, memoryPressurePercent: 25 }, ['memory pressure 25% > 10%']],
    ['low memory without PSI', { ownerCpuPercent: 0, availableMemoryMiB: 100 }, ['available memory 100 MiB < 256 MiB']],
    ['low memory with PSI calm (PSI wins)', { ownerCpuPercent: 0, memoryPressurePercent: 0, availableMemoryMiB: 100 }, []],
    ['recent desktop input', { ownerCpuPercent: 0, desktopIdleSec: 5 }, ['desktop input 5 s ago']],
    ['an idle desktop', { ownerCpuPercent: 0, desktopIdleSec: 600 }, []],
    ['owner CPU unknown (a container)', { memoryPressurePercent: 0 }, []],
  ])('%s', (_, sample, want) => {
    expect(busyBecause({ atMs: 0, ...sample }, t)).toEqual(want);
  });
});
