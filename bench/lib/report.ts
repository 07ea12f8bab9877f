// The run as a Markdown table: one row per case, the ratio beside its goal, the verdict in words.
import type { BenchRun, CaseResult, Figure } from './result.ts';
import { round } from './stats.ts';

const fig = (f?: Figure) => (f ? `${f.what}: ${round(f.value)} ${f.unit}` : '');
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function verdictText(c: CaseResult): string {
  if (c.verdict === 'not measured yet') return `not measured yet: ${c.reason}`;
  if (c.verdict === 'failed') return `FAILED: ${c.reason}`;
  if (c.verdict === 'missed') return '**MISSED**';
  return c.verdict;
}

export function markdownTable(run: BenchRun): string {
  const m = run.machine;
  const lines = [
    `Measured ${run.startedAt.slice(0, 10)} with \`${run.command}\` (${run.mode}) on ${m.accelerator.toUpperCase()} (${m.accelDetail ?? 'no probe detail'}), ` +
      `${m.cores} cores (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}, Linux ${m.kernel}. Each figure is a median over the rounds, measured beside its reference in the same run.`,
    '',
    '| case | CPS | reference | ratio | goal | verdict |',
    '|---|---|---|---|---|---|',
  ];
  for (const c of run.cases) {
    const ratio = c.ratio === undefined ? '' : `${round(c.ratio)}x`;
    lines.push(`| ${cell(c.title)} | ${cell(fig(c.ours))} | ${cell(fig(c.reference))} | ${ratio} | ${cell(c.goal ?? '')} | ${cell(verdictText(c))} |`);
  }
  const details = run.cases.filter((c) => c.extra?.length || c.notes?.length);
  if (details.length) {
    lines.push('', 'Details:', '');
    for (const c of details) {
      const parts = [...(c.extra ?? []).map(fig), ...(c.notes ?? [])];
      lines.push(`- ${c.title}: ${parts.join('; ')}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** One line for the terminal: the ratio, and plainly when a goal is missed. */
export function consoleLine(c: CaseResult): string {
  const ratio = c.ratio === undefined ? '' : ` ratio ${round(c.ratio)}x`;
  const goal = c.goal ? ` (goal ${c.goal})` : '';
  const figs = c.ours ? ` — ${fig(c.ours)}${c.reference ? ` vs ${fig(c.reference)}` : ''}` : '';
  const head = c.verdict === 'missed' ? 'GOAL MISSED' : c.verdict === 'failed' ? 'FAILED' : c.verdict;
  const why = c.reason ? `: ${c.reason}` : '';
  return `${head.padEnd(16)} ${c.title}${ratio}${goal}${figs}${why}`;
}
