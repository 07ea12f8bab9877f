// The run as an SVG bar chart drawn by hand: each measured case's ratio as a bar, its goal as a
// line across it; green when met, red when missed. Ratios go on a log scale (0.05x and 10x both fit).
import type { BenchRun } from './result.ts';
import { round } from './stats.ts';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function svgChart(run: BenchRun): string {
  const rows = run.cases.filter((c) => c.ratio !== undefined && Number.isFinite(c.ratio) && c.ratio > 0);
  const rowH = 26;
  const left = 360;
  const width = 900;
  const plotW = width - left - 80;
  const top = 40;
  const height = top + rows.length * rowH + 40;
  const values = rows.flatMap((c) => [c.ratio!, c.goalRatio?.limit ?? 1]);
  const lo = Math.log10(Math.min(0.01, ...values) * 0.8);
  const hi = Math.log10(Math.max(10, ...values) * 1.25);
  const x = (v: number) => left + ((Math.log10(v) - lo) / (hi - lo)) * plotW;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="20" font-size="14">${esc(`CPS bench ${run.startedAt.slice(0, 10)} (${run.mode}, ${run.machine.accelerator.toUpperCase()}, ${run.machine.cores} cores): ratio to the reference, log scale; line = goal`)}</text>`,
  ];
  for (const tick of [0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 100, 1000]) {
    if (Math.log10(tick) < lo || Math.log10(tick) > hi) continue;
    const tx = x(tick);
    out.push(`<line x1="${tx}" y1="${top - 6}" x2="${tx}" y2="${height - 30}" stroke="#ddd"/>`, `<text x="${tx}" y="${height - 14}" text-anchor="middle" fill="#666">${tick}x</text>`);
  }
  rows.forEach((c, i) => {
    const y = top + i * rowH;
    const colour = c.verdict === 'met' ? '#2e7d32' : c.verdict === 'missed' ? '#c62828' : '#757575';
    const x0 = x(Math.pow(10, lo));
    out.push(
      `<text x="${left - 8}" y="${y + 16}" text-anchor="end">${esc(c.title.length > 52 ? `${c.title.slice(0, 51)}…` : c.title)}</text>`,
      `<rect x="${x0}" y="${y + 4}" width="${Math.max(1, x(c.ratio!) - x0)}" height="${rowH - 10}" fill="${colour}"/>`,
      `<text x="${x(c.ratio!) + 4}" y="${y + 16}">${round(c.ratio!)}x</text>`,
    );
    if (c.goalRatio) {
      const gx = x(c.goalRatio.limit);
      out.push(`<line x1="${gx}" y1="${y + 1}" x2="${gx}" y2="${y + rowH - 3}" stroke="black" stroke-width="2"/>`);
    }
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
