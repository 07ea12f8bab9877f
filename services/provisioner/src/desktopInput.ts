import { spawn as realSpawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { Logger } from '@cps/common';

/** The event types of `xinput test-xi2` that are the owner's hand on the keyboard, mouse or screen. */
const INPUT_EVENTS = new Set([
  'KeyPress',
  'ButtonPress',
  'Motion',
  'TouchBegin',
  'RawKeyPress',
  'RawButtonPress',
  'RawMotion',
  'RawTouchBegin',
]);

/** A line of `xinput test-xi2` longer than this is no event header: dropped, never buffered on. */
const MAX_LINE = 4096;

/**
 * Whether one line of `xinput test-xi2 --root` output starts an input event (a key or button
 * pressed, the pointer moved, a touch). Only the `EVENT type N (Name)` header counts; the
 * indented detail lines after it, device lists and anything malformed do not.
 */
export function isInputEventLine(line: string): boolean {
  const m = /^EVENT type (\d{1,3}) \(([A-Za-z]{1,32})\)\s*$/.exec(line);
  return m !== null && INPUT_EVENTS.has(m[2]!);
}

/** Splits a byte stream into lines, dropping any line longer than MAX_LINE. */
export class LineSplitter {
  private rest = '';
  private overlong = false;

  push(chunk: string, onLine: (line: string) => void): void {
    const parts = (this.rest + chunk).split('\n');
    this.rest = parts.pop() ?? '';
    for (const line of parts) {
      if (!this.overlong && line.length <= MAX_LINE) onLine(line);
      this.overlong = false;
    }
    if (this.rest.length > MAX_LINE) {
      // The rest of this line is thrown away as it comes.
      this.rest = '';
      this.overlong = true;
    }
  }
}

export interface DesktopInputTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface DesktopInputDeps {
  /** The X display of the owner's session (`DISPLAY`); none: nothing is watched. */
  display: string | undefined;
  /** Called at once on each keyboard, mouse or touch input of the owner (a burst: once per event). */
  onInput: () => void;
  timers: DesktopInputTimers;
  log: Logger;
  spawn?: (cmd: string, args: string[], env: NodeJS.ProcessEnv) => ChildProcessWithoutNullStreams;
  /** Waits before starting xinput again after it ended (the X session not up yet, logged out). */
  retryMs?: number;
}

/**
 * The owner's keyboard and mouse, as they happen: one long-lived `xinput test-xi2 --root` prints
 * every X input event of the session, so input is noticed the moment it comes (no polling, no
 * process started every second). xprintidle's idle time still serves the rules' "input this
 * recent" between events. Where there is no X session, nothing runs.
 */
export class DesktopInput {
  private child: ChildProcessWithoutNullStreams | undefined;
  private retry: unknown;
  private closed = false;
  private warned = false;

  constructor(private readonly d: DesktopInputDeps) {}

  start(): void {
    if (!this.d.display || this.closed || this.child) return;
    const spawn = this.d.spawn ?? ((cmd, args, env) => realSpawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] }));
    let child: ChildProcessWithoutNullStreams;
    try {
      child = spawn('xinput', ['test-xi2', '--root'], { ...process.env, DISPLAY: this.d.display });
    } catch (err) {
      this.ended(`cannot start xinput: ${(err as Error).message}`);
      return;
    }
    this.child = child;
    const lines = new LineSplitter();
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      this.warned = false;
      lines.push(chunk, (line) => {
        if (isInputEventLine(line)) this.d.onInput();
      });
    });
    child.stderr.resume();
    child.on('error', (err) => this.ended(`xinput: ${err.message}`));
    child.on('close', (code) => this.ended(`xinput ended (exit ${code})`));
  }

  private ended(why: string): void {
    this.child = undefined;
    if (this.closed) return;
    // Said once until it works again: an owner without X input tools should not flood the log.
    if (!this.warned) this.d.log.warn({ display: this.d.display, why }, 'cannot watch the desktop input; input is seen only through xprintidle');
    this.warned = true;
    this.d.timers.clearTimeout(this.retry);
    this.retry = this.d.timers.setTimeout(() => this.start(), this.d.retryMs ?? 5000);
  }

  close(): void {
    this.closed = true;
    this.d.timers.clearTimeout(this.retry);
    this.child?.kill('SIGTERM');
    this.child = undefined;
  }
}
