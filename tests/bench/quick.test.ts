// `npm run bench -- --quick` as a person runs it: every case once at tiny sizes, so the bench code
// cannot rot. The results file must name every case, each with a ratio or a reason it was not
// measured, and the table and chart must be written beside it.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { allIds } from '../../bench/cases/index.ts';
import type { BenchRun } from '../../bench/lib/result.ts';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const out = mkdtempSync(join(tmpdir(), 'cps-bench-test-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('bench --quick', () => {
  it('runs every case once and writes JSON, Markdown and SVG with a ratio or a reason for each', async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--out', out], { cwd: root, timeout: 240_000, maxBuffer: 16 * 2 ** 20 });
    const files = readdirSync(out);
    const json = files.find((f) => f.endsWith('-quick.json'));
    expect(json, `${files.join(', ')}\n${stdout}`).toBeTruthy();
    const stem = join(out, json!.replace(/\.json$/, ''));
    const result = JSON.parse(readFileSync(`${stem}.json`, 'utf8')) as BenchRun;

    expect(result.mode).toBe('quick');
    expect(['kvm', 'tcg', 'unknown']).toContain(result.machine.accelerator);
    expect(result.machine.cores).toBeGreaterThan(0);
    expect(result.cases.map((c) => c.id).sort()).toEqual([...allIds].sort());
    for (const c of result.cases) {
      const summary = `${c.id}: ${c.verdict} ${c.reason ?? ''}`;
      if (c.verdict === 'not measured yet') {
        expect(c.reason, summary).toMatch(/\w{4,}/);
        expect(c.ratio, summary).toBeUndefined();
      } else {
        // A case that broke is a failure of this test, not a figure.
        expect(['met', 'missed', 'no goal'], summary).toContain(c.verdict);
        expect(Number.isFinite(c.ratio) && c.ratio! > 0, summary).toBe(true);
        expect(c.ours && Number.isFinite(c.ours.value), summary).toBe(true);
        expect(c.reference && Number.isFinite(c.reference.value), summary).toBe(true);
      }
      // Each case said its verdict on the terminal, a missed goal in plain words.
      expect(stdout).toContain(c.title);
      if (c.verdict === 'missed') expect(stdout).toMatch(new RegExp(`GOAL MISSED +${c.title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    }

    const md = readFileSync(`${stem}.md`, 'utf8');
    expect(md).toContain(`on ${result.machine.accelerator.toUpperCase()}`);
    for (const c of result.cases) expect(md).toContain(c.title.replace(/\|/g, '\\|'));
    expect(md).toMatch(/not measured yet: /);
    const svg = readFileSync(`${stem}.svg`, 'utf8');
    expect(svg).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect((svg.match(/<rect x=/g) ?? []).length).toBe(result.cases.filter((c) => c.ratio !== undefined).length);
  });
});
