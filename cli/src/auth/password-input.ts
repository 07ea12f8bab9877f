import { UsageError } from '../args.ts';
import type { Io } from '../io.ts';
import { CommandError } from '../task/client.ts';

/**
 * The password for `cps login`: CPS_PASSWORD, or all of stdin with --password-stdin (scripts),
 * else typed on the terminal without echo. Never an argument: those show in `ps`.
 */
export async function readPassword(io: Io, opts: { stdin?: boolean; prompt: string }): Promise<string> {
  if (opts.stdin) {
    if (!io.readStdin) throw new UsageError('--password-stdin needs a stdin to read');
    const text = (await io.readStdin()).replace(/\r?\n$/, '');
    if (!text) throw new UsageError('--password-stdin read an empty password');
    return text;
  }
  if (io.env.CPS_PASSWORD) return io.env.CPS_PASSWORD;
  if (!io.readSecret) throw new CommandError('no terminal to type the password on: set CPS_PASSWORD or use --password-stdin');
  return io.readSecret(opts.prompt);
}

/** Reads one line from a TTY with echo off (raw mode); Ctrl-C cancels. */
export function readHidden(stdin: NodeJS.ReadStream, echo: (s: string) => void, prompt: string): Promise<string> {
  if (!stdin.isTTY) {
    return Promise.reject(new CommandError('no terminal to type the password on: set CPS_PASSWORD or use --password-stdin'));
  }
  echo(prompt);
  stdin.setRawMode(true);
  stdin.setEncoding('utf8');
  stdin.resume();
  let typed = '';
  return new Promise((resolve, reject) => {
    const finish = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      echo('\n');
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish(), resolve(typed);
        if (ch === '\u0003' || ch === '\u0004') return finish(), reject(new CommandError('cancelled'));
        if (ch === '\u007f' || ch === '\b') typed = [...typed].slice(0, -1).join('');
        else typed += ch;
      }
    };
    stdin.on('data', onData);
  });
}
