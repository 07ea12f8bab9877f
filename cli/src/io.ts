import { createInterface } from 'node:readline/promises';
import { readHidden } from './auth/password-input.ts';
/** Where a command writes and what it reads from its surroundings; tests pass their own. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  /** Colors only when a person is watching. */
  color: boolean;
  /** Reads a line typed on the terminal without echo (a password); absent with no terminal. */
  readSecret?(prompt: string): Promise<string>;
  /** Asks a yes/no question on the terminal (a CA to trust); absent with no terminal. */
  confirm?(question: string): Promise<boolean>;
  /** Reads all of stdin (--password-stdin). */
  readStdin?(): Promise<string>;
  /** Redraws the terminal's status line on stderr (a progress bar); absent when stderr is no terminal. */
  progress?(line: string): void;
}

export function processIo(): Io {
  // `cps up | head` closes our stdout early: an EPIPE must not crash `cps up` and orphan the
  // services it runs; Ctrl-C still stops them.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  return {
    out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
    env: process.env,
    color: Boolean(process.stdout.isTTY) && !process.env.NO_COLOR,
    // The prompt goes to stderr, so `cps login > file` still asks.
    readSecret: (prompt) => readHidden(process.stdin, (s) => void process.stderr.write(s), prompt),
    ...(process.stdin.isTTY ? { confirm: (question: string) => askYesNo(question) } : {}),
    readStdin: async () => {
      let text = '';
      for await (const chunk of process.stdin) text += String(chunk);
      return text;
    },
    ...(process.stderr.isTTY ? { progress: (line: string) => void process.stderr.write(`\r\x1b[2K${line}`) } : {}),
  };
}

/** One line typed on the terminal, the question on stderr: y or yes is yes, anything else no. */
async function askYesNo(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/**
 * An Io that keeps what was written, for tests; `answers` are what a person types to the
 * yes/no questions, in turn (the questions are kept in `asked`).
 */
export function memoryIo(env: NodeJS.ProcessEnv = {}, stdin?: string, answers?: boolean[]): Io & { stdout: string[]; stderr: string[]; asked: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const asked: string[] = [];
  return {
    stdout, stderr, asked, out: (t) => void stdout.push(t), err: (t) => void stderr.push(t), env, color: false,
    ...(stdin === undefined ? {} : { readStdin: async () => stdin }),
    ...(answers === undefined ? {} : { confirm: async (q: string) => (asked.push(q), answers.shift() ?? false) }),
  };
}

const codes = { red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, gray: 90, bold: 1 } as const;
export type Color = keyof typeof codes;

export const paint = (on: boolean, color: Color, text: string): string => (on ? `\x1b[${codes[color]}m${text}\x1b[0m` : text);
