import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@cps/common';
import { DesktopInput, isInputEventLine, LineSplitter } from '../src/desktopInput.ts';

describe("xinput's output", () => {
  it.each([
    ['EVENT type 13 (RawKeyPress)', true],
    ['EVENT type 2 (KeyPress)', true],
    ['EVENT type 17 (RawMotion)', true],
    ['EVENT type 4 (ButtonPress)', true],
    ['EVENT type 18 (TouchBegin)', true],
    // Releases follow a press; a device change is no input.
    ['EVENT type 14 (RawKeyRelease)', false],
    ['EVENT type 1 (DeviceChanged)', false],
    ['    detail: 38', false],
    ['⎡ Virtual core pointer                    	id=2	[master pointer  (3)]', false],
    ['EVENT type 13 (RawKeyPress) trailing junk', false],
    ['xEVENT type 13 (RawKeyPress)', false],
    ['EVENT type 99999 (RawKeyPress)', false],
    ['EVENT type 13 (Raw\u0000KeyPress)', false],
    ['', false],
  ])('%j is input: %s', (line, want) => {
    expect(isInputEventLine(line)).toBe(want);
  });

  it('splits lines across chunks and drops an overlong line without buffering it', () => {
    const lines: string[] = [];
    const s = new LineSplitter();
    s.push('EVENT type 13 (RawKe', (l) => lines.push(l));
    s.push('yPress)\n    detail: 38\n', (l) => lines.push(l));
    for (let i = 0; i < 100; i++) s.push('x'.repeat(10_000), (l) => lines.push(l));
    s.push('EVENT type 13 (RawKeyPress)\nEVENT type 2 (KeyPress)\n', (l) => lines.push(l));
    expect(lines).toEqual(['EVENT type 13 (RawKeyPress)', '    detail: 38', 'EVENT type 2 (KeyPress)']);
  });

  it('random bytes never throw and never count as more input than their event headers', () => {
    const s = new LineSplitter();
    for (let i = 0; i < 200; i++) {
      const bytes = Buffer.from(Array.from({ length: 512 }, () => Math.floor(Math.random() * 256)));
      s.push(bytes.toString('latin1'), (l) => expect(isInputEventLine(l)).toBe(/^EVENT type \d{1,3} \((Raw)?(KeyPress|ButtonPress|Motion|TouchBegin)\)\s*$/.test(l)));
    }
  });
});

/** A fake xinput child: the test writes its stdout and ends it. */
function fakeChild() {
  const child = new EventEmitter() as ChildProcessWithoutNullStreams;
  Object.assign(child, { stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough(), kill: () => true });
  return child;
}

describe('DesktopInput', () => {
  it('calls onInput for each input event, starts xinput again after it ends, and does nothing without a display', async () => {
    const children: ChildProcessWithoutNullStreams[] = [];
    const spawned: { cmd: string; args: string[]; display?: string }[] = [];
    const pending: (() => void)[] = [];
    let inputs = 0;
    const d = new DesktopInput({
      display: ':5',
      onInput: () => inputs++,
      timers: { setTimeout: (fn) => pending.push(fn), clearTimeout: () => undefined },
      log: createLogger('t', 'silent'),
      spawn: (cmd, args, env) => {
        spawned.push({ cmd, args, display: env.DISPLAY });
        const c = fakeChild();
        children.push(c);
        return c;
      },
    });
    d.start();
    d.start(); // once
    expect(spawned).toEqual([{ cmd: 'xinput', args: ['test-xi2', '--root'], display: ':5' }]);
    (children[0]!.stdout as PassThrough).write('EVENT type 1 (DeviceChanged)\n    device: 3 (5)\nEVENT type 13 (RawKeyPress)\n    detail: 38\n\nEVENT type 17 (RawMotion)\n');
    await new Promise((r) => setImmediate(r));
    expect(inputs).toBe(2);
    children[0]!.emit('close', 1);
    expect(pending).toHaveLength(1);
    pending.shift()!();
    expect(spawned).toHaveLength(2);
    d.close();
    children[1]!.emit('close', null);
    expect(pending).toHaveLength(0);

    let none = 0;
    const off = new DesktopInput({ display: undefined, onInput: () => none++, timers: { setTimeout: () => undefined, clearTimeout: () => undefined }, log: createLogger('t', 'silent'), spawn: () => { throw new Error('must not run'); } });
    off.start();
    expect(none).toBe(0);
  });
});
