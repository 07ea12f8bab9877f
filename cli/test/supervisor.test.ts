import { afterEach, describe, expect, it } from 'vitest';
import { Supervisor, type Child } from '../src/up/supervisor.ts';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

let sup: Supervisor | undefined;
afterEach(() => sup?.killAll());

function supervisor() {
  const lines: string[] = [];
  sup = new Supervisor({ cwd: process.cwd(), env: process.env, onLine: (c: Child, l) => lines.push(`${c.name}: ${l}`) });
  return { sup, lines };
}

const node = (code: string): [string, string[]] => [process.execPath, ['-e', code]];

describe('Supervisor', () => {
  it('passes each line on with the child it came from, from stdout and stderr', async () => {
    const { sup, lines } = supervisor();
    const c = sup.start('a', ...node('console.log("one"); console.error("two"); process.stdout.write("three")'));
    expect(await c.exited).toEqual({ code: 0, signal: null });
    expect(lines.sort()).toEqual(['a: one', 'a: three', 'a: two']);
    expect(c.tail.sort()).toEqual(['one', 'three', 'two']);
  });

  it('keeps only the last lines of a chatty child', async () => {
    const { sup } = supervisor();
    const c = sup.start('a', ...node('for (let i = 0; i < 100; i++) console.log(i)'));
    await c.exited;
    expect(c.tail).toHaveLength(15);
    expect(c.tail.at(-1)).toBe('99');
  });

  it('stops children with SIGTERM, and SIGKILLs one that ignores it, with what it started', async () => {
    const { sup } = supervisor();
    const polite = sup.start('polite', ...node('setInterval(() => {}, 1000); console.log("ready")'));
    const stubborn = sup.start(
      'stubborn',
      ...node(`
        const { spawn } = require('node:child_process');
        const g = spawn(process.execPath, ['-e', 'process.on("SIGTERM", () => {}); setInterval(() => {}, 1000)'], { stdio: 'ignore' });
        process.on('SIGTERM', () => {});
        console.log('grandchild ' + g.pid);
        setInterval(() => {}, 1000);
      `),
    );
    while (!stubborn.tail.some((l) => l.startsWith('grandchild ')) || !polite.tail.includes('ready')) await new Promise((r) => setTimeout(r, 20));
    const grandchild = Number(stubborn.tail.find((l) => l.startsWith('grandchild '))!.split(' ')[1]);
    const killed: string[] = [];
    await sup.stopAll(500, (c) => killed.push(c.name));
    expect(polite.exit).toEqual({ code: null, signal: 'SIGTERM' });
    expect(stubborn.exit).toEqual({ code: null, signal: 'SIGKILL' });
    expect(killed).toEqual(['stubborn']);
    for (let i = 0; i < 50 && alive(grandchild); i++) await new Promise((r) => setTimeout(r, 20));
    expect(alive(grandchild)).toBe(false);
  });

  it('reports a command that cannot start as an exit, not a crash', async () => {
    const { sup } = supervisor();
    const c = sup.start('ghost', '/nonexistent/binary', []);
    expect((await c.exited).code).toBe(127);
    expect(c.tail.join()).toMatch(/spawn failed/);
    await sup.stopAll(100);
  });
});
