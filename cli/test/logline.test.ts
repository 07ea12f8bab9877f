import { describe, expect, it } from 'vitest';
import { renderLogLine, sanitize } from '../src/logline.ts';

const t = Date.UTC(2026, 10, 25, 12, 34, 56, 789);

describe('renderLogLine', () => {
  it('renders a pino event as time, level, message and compact fields', () => {
    const line = JSON.stringify({ level: 30, time: t, pid: 1, hostname: 'h', service: 'storage', name: 'storage', msg: 'listening', port: 8083, address: '0.0.0.0' });
    expect(renderLogLine(line)).toBe('12:34:56.789 INFO  listening port=8083 address=0.0.0.0');
  });

  it('quotes strings with spaces and shows nested values as JSON', () => {
    const line = JSON.stringify({ level: 40, time: t, msg: 'slow', why: 'two words', obj: { a: [1, 2] }, empty: '' });
    expect(renderLogLine(line)).toBe('12:34:56.789 WARN  slow why="two words" obj={"a":[1,2]} empty=""');
  });

  it('shows an error by its type and message, not its stack', () => {
    const line = JSON.stringify({ level: 50, time: t, msg: 'boom', err: { type: 'Error', message: 'disk full', stack: 'Error: disk full\n    at x' } });
    expect(renderLogLine(line)).toBe('12:34:56.789 ERROR boom err="Error: disk full"');
  });

  it('colors the level only when asked', () => {
    const line = JSON.stringify({ level: 50, time: t, msg: 'x' });
    expect(renderLogLine(line, true)).toContain('\x1b[31mERROR\x1b[0m');
    expect(renderLogLine(line, false)).not.toContain('\x1b');
  });

  it('passes non-JSON lines through as they came', () => {
    expect(renderLogLine('plain text from a tool')).toBe('plain text from a tool');
    expect(renderLogLine('{not json')).toBe('{not json');
    expect(renderLogLine('')).toBe('');
  });

  it.each(['42', 'null', '[1,2]', '"str"', 'true'])('passes JSON that is not an object through: %s', (raw) => {
    expect(renderLogLine(raw)).toBe(raw);
  });

  it('copes with odd fields', () => {
    expect(renderLogLine('{}')).toBe('--:--:--.---');
    expect(renderLogLine(JSON.stringify({ level: 'loud', time: 'yesterday', msg: 5 }))).toBe('yesterday LOUD  5');
    expect(renderLogLine(JSON.stringify({ level: 30, time: 1e300, msg: 'x' }))).toBe('--:--:--.--- INFO  x');
    expect(renderLogLine(JSON.stringify({ level: 30, msg: 'x', n: null, u: [undefined] }))).toContain('n=null u=[null]');
  });

  it('never lets terminal escapes through', () => {
    expect(renderLogLine('\x1b[2J\x1b]0;pwned\x07evil')).not.toMatch(/[\x1b\x07]/);
    const ev = renderLogLine(JSON.stringify({ level: 30, msg: '\x1b[31mred', ['\x1bk']: '\x1bv', time: '\x1b[1m' }));
    expect(ev).not.toContain('\x1b');
  });

  it('keeps huge values short', () => {
    const out = renderLogLine(JSON.stringify({ level: 30, time: t, msg: 'm', blob: 'x'.repeat(10_000) }));
    expect(out.length).toBeLessThan(400);
    expect(out.endsWith('…')).toBe(true);
  });

  it('drops a trailing CR', () => {
    expect(renderLogLine('dos line\r')).toBe('dos line');
  });
});

describe('sanitize', () => {
  it('keeps tabs and printable text, replaces control characters', () => {
    expect(sanitize('a\tb')).toBe('a\tb');
    expect(sanitize('a\x00b\x9bc')).toBe('a\uFFFDb\uFFFDc');
  });
});
