import { createRequire } from 'node:module';
import { UsageError } from './args.ts';
import { doctor } from './commands/doctor.ts';
import { bootstrap } from './commands/bootstrap.ts';
import { image } from './commands/image.ts';
import { login, logout } from './commands/login.ts';
import { orphan } from './commands/orphan.ts';
import { task } from './commands/task.ts';
import { token } from './commands/token.ts';
import { user } from './commands/user.ts';
import { init } from './commands/init.ts';
import { joinToken, node } from './commands/trust.ts';
import { up } from './commands/up.ts';
import { processIo, type Io } from './io.ts';
import { CommandError } from './task/client.ts';

export const mainHelp = `Usage: cps <command> [options]

Commands:
  up         start this node's five services and stream their logs (Ctrl-C stops them)
  init       make this node a member (the cluster's first, or --join one) without starting it
  doctor     check that this machine can run CPS
  task       your tasks: submit, list, show, stop, suspend, resume, checkpoint, restart,
             logs, download, delete (cps task --help)
  login      sign in to a coordinator and save an API token for this machine
  logout     revoke and forget the saved token
  token      your API tokens: create, list, revoke
  user       an admin's: add a user (the password is shown once), list users
  join-token a one-time token for a new workstation, and the command to run there
  node       the peers of this cluster; remove one (cps node remove ID)
  orphan     an admin's: guests no task knows after a restart: list, adopt ID, stop ID
  image      upload a disk image or an ISO (cps image upload FILE), with a progress bar
  bootstrap  upload a task's bootstrap files (cps bootstrap upload FILE...|DIR)

Run 'cps <command> --help' for a command's options.
`;

const commands: Record<string, (args: string[], io: Io) => Promise<number>> = { up, init, doctor, task, login, logout, token, user, 'join-token': joinToken, node, orphan, image, bootstrap };

const taskCommands = new Set(['submit', 'list', 'show', 'stop', 'suspend', 'resume', 'checkpoint', 'restart', 'logs', 'download', 'delete']);

/** "cps", "cps up" or "cps task submit": who is complaining about the usage. */
function usagePrefix(name: string | undefined, sub: string | undefined): string {
  if (!name) return 'cps';
  return name === 'task' && sub && taskCommands.has(sub) ? `cps task ${sub}` : `cps ${name}`;
}

/** Runs one command line; returns the exit code (0 ok, 1 failed, 2 bad usage). */
export async function run(argv: string[], io: Io = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(mainHelp);
    return name ? 0 : 2;
  }
  if (name === '--version') {
    io.out(createRequire(import.meta.url)('../package.json').version);
    return 0;
  }
  const command = commands[name];
  try {
    if (!command) throw new UsageError(`unknown command '${name}' (try: ${Object.keys(commands).join(', ')})`);
    return await command(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`${usagePrefix(command ? name : undefined, rest[0])}: ${err.message}`);
      return 2;
    }
    if (err instanceof CommandError) {
      io.err(`error: ${err.message}`);
      return 1;
    }
    throw err;
  }
}
