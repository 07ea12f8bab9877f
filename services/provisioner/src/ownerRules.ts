import type { OwnerThresholds } from './sharePolicy.ts';

/**
 * Owner first, as a small set of rules in the manner of HTCondor's START / SUSPEND / CONTINUE /
 * VACATE. Pure: the monitor feeds it one sample at a time and carries the state along.
 *
 *   BUSY     = owner CPU > cpuBusyPercent  OR  memory pressure > memoryPressurePercent
 *              (or, without PSI, MemAvailable < minAvailableMemoryMiB)
 *              OR  desktop input less than desktopIdleSec ago (only where a session exists)
 *   START    = the guests are not held suspended      → this peer lends (new guests admitted)
 *   SUSPEND  = BUSY without a break for graceSec       → suspend every guest at once
 *              OR  keyboard/mouse input on the owner's desktop (a clear signal: no grace)
 *   CONTINUE = not BUSY without a break for resumeAfterSec, while suspended → resume them
 *   VACATE   = suspended for vacateAfterSec            → ask the coordinator to move them (once)
 */
export interface OwnerSample {
  /** Milliseconds, monotonic enough for differences. */
  atMs: number;
  /**
   * Share of all cores busy with work that is not the guests', 0-100; undefined when the guests'
   * CPU time cannot be told apart (their QEMUs are in another pid namespace, e.g. in a container).
   */
  ownerCpuPercent?: number;
  /** PSI memory "some" avg10, where /proc/pressure/memory exists. */
  memoryPressurePercent?: number;
  availableMemoryMiB?: number;
  /** Seconds since the last keyboard or mouse input, where a desktop session exists. */
  desktopIdleSec?: number;
}

export type OwnerPhase = 'idle' | 'busy-pending' | 'suspended' | 'idle-pending';

export interface OwnerState {
  phase: OwnerPhase;
  /** When the current phase began (ms). */
  sinceMs: number;
  /** When the guests were suspended, while they are. */
  suspendedAtMs?: number;
  vacated?: boolean;
}

export type OwnerAction = 'suspend' | 'resume' | 'vacate';

export const initialOwnerState = (atMs: number): OwnerState => ({ phase: 'idle', sinceMs: atMs });

/** Why the owner counts as busy in this sample; empty when idle. */
export function busyBecause(s: OwnerSample, t: OwnerThresholds): string[] {
  const why: string[] = [];
  if (s.ownerCpuPercent !== undefined && s.ownerCpuPercent > t.cpuBusyPercent) why.push(`owner CPU ${s.ownerCpuPercent.toFixed(0)}% > ${t.cpuBusyPercent}%`);
  if (s.memoryPressurePercent !== undefined) {
    if (s.memoryPressurePercent > t.memoryPressurePercent) why.push(`memory pressure ${s.memoryPressurePercent}% > ${t.memoryPressurePercent}%`);
  } else if (s.availableMemoryMiB !== undefined && s.availableMemoryMiB < t.minAvailableMemoryMiB) {
    why.push(`available memory ${s.availableMemoryMiB} MiB < ${t.minAvailableMemoryMiB} MiB`);
  }
  if (s.desktopIdleSec !== undefined && s.desktopIdleSec < t.desktopIdleSec) why.push(`desktop input ${s.desktopIdleSec.toFixed(0)} s ago`);
  return why;
}

/** One step of the rules: the next state, and what to do now (if anything). */
export function ownerStep(state: OwnerState, s: OwnerSample, t: OwnerThresholds): { state: OwnerState; action?: OwnerAction; why: string[] } {
  const why = busyBecause(s, t);
  const busy = why.length > 0;
  const after = (since: number, sec: number) => s.atMs - since >= sec * 1000;
  switch (state.phase) {
    case 'idle':
      if (!busy) return { state, why };
      if (t.graceSec === 0) return { state: suspended(s.atMs), action: 'suspend', why };
      return { state: { phase: 'busy-pending', sinceMs: s.atMs }, why };
    case 'busy-pending':
      if (!busy) return { state: { phase: 'idle', sinceMs: s.atMs }, why };
      if (after(state.sinceMs, t.graceSec)) return { state: suspended(s.atMs), action: 'suspend', why };
      return { state, why };
    case 'suspended': {
      if (!busy) {
        if (t.resumeAfterSec === 0) return { state: { phase: 'idle', sinceMs: s.atMs }, action: 'resume', why };
        return { state: { ...state, phase: 'idle-pending', sinceMs: s.atMs }, why };
      }
      return vacateOrStay(state, s, t, why);
    }
    case 'idle-pending':
      if (busy) return vacateOrStay({ ...state, phase: 'suspended', sinceMs: s.atMs }, s, t, why);
      if (after(state.sinceMs, t.resumeAfterSec)) return { state: { phase: 'idle', sinceMs: s.atMs }, action: 'resume', why };
      return vacateOrStay(state, s, t, why);
  }
}

/**
 * The owner touched the keyboard or mouse (seen as it happened, not sampled): the guests are
 * suspended at once, without the grace CPU load gets (a hand on the mouse is no burst of load that
 * may pass). Already suspended: the wait to resume starts again.
 */
export function ownerInput(state: OwnerState, atMs: number): { state: OwnerState; action?: OwnerAction; why: string[] } {
  const why = ['desktop input'];
  switch (state.phase) {
    case 'idle':
    case 'busy-pending':
      return { state: suspended(atMs), action: 'suspend', why };
    case 'idle-pending':
      return { state: { ...state, phase: 'suspended', sinceMs: atMs }, why };
    case 'suspended':
      return { state, why };
  }
}

const suspended = (atMs: number): OwnerState => ({ phase: 'suspended', sinceMs: atMs, suspendedAtMs: atMs });

function vacateOrStay(state: OwnerState, s: OwnerSample, t: OwnerThresholds, why: string[]) {
  const since = state.suspendedAtMs ?? state.sinceMs;
  if (!state.vacated && s.atMs - since >= t.vacateAfterSec * 1000) {
    return { state: { ...state, vacated: true }, action: 'vacate' as const, why };
  }
  return { state, why };
}
