// What every case hands back: its figure beside its reference's, the ratio, and the goal's verdict.
// A case that cannot be measured yet says what it needs instead of a number.

export type Verdict = 'met' | 'missed' | 'no goal' | 'not measured yet' | 'failed';

export interface Figure {
  /** What was measured, in words a reader of the table understands. */
  what: string;
  value: number;
  unit: string;
}

export interface CaseResult {
  id: string;
  title: string;
  verdict: Verdict;
  /** ours / reference, in the case's own sense (time: lower is better; throughput: higher). */
  ratio?: number;
  /** The goal in words (e.g. "≤ 1.25x"). */
  goal?: string;
  /** Where the ratio must stay, for the chart: at most (`lower`) or at least (`higher`) this. */
  goalRatio?: { limit: number; better: 'lower' | 'higher' };
  ours?: Figure;
  reference?: Figure;
  /** More figures worth a line of their own (p99, CPU per MB, ACK delay, ...). */
  extra?: Figure[];
  rounds?: number;
  /** Why not measured, or what failed. */
  reason?: string;
  notes?: string[];
}

export interface Machine {
  accelerator: 'kvm' | 'tcg' | 'unknown';
  accelDetail?: string;
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  kernel: string;
}

export interface BenchRun {
  startedAt: string;
  finishedAt: string;
  mode: 'quick' | 'full';
  command: string;
  machine: Machine;
  cases: CaseResult[];
}

/** A ratio goal's verdict: within `limit` when lower (or higher) is better. */
export function ratioVerdict(ratio: number, limit: number, better: 'lower' | 'higher'): Verdict {
  // Equal figures (CPU comes in 10 ms ticks) may differ in the last bit: "no worse" is met at equal.
  const slack = 1e-9 * limit;
  return (better === 'lower' ? ratio <= limit + slack : ratio >= limit - slack) ? 'met' : 'missed';
}

export function notMeasured(id: string, title: string, needs: string, goal?: string): CaseResult {
  return { id, title, verdict: 'not measured yet', reason: needs, ...(goal ? { goal } : {}) };
}
