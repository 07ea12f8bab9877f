import { readFile } from 'node:fs/promises';
import { parse, UsageError, urlOption } from '../args.ts';
import { coordinatorAt } from '../task/connect.ts';
import type { Io } from '../io.ts';
import { call } from '../task/client.ts';
import { filesToSend } from '../upload/files.ts';

export const bootstrapHelp = `Usage: cps bootstrap upload FILE...|DIR

Uploads the files a task's guest gets on its bootstrap disk (the guest runs its run.sh): one
.tar archive as it is, or files and folders (a folder's files keep their paths inside it).
Regular files and folders only. Prints the bootstrap's id, for cps task submit --bootstrap ID.

Options:
  --url URL    the coordinator (default: $CPS_URL or http://localhost:8080)
  --json       print the answer as JSON
`;

export async function bootstrap(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') return io.out(bootstrapHelp), sub ? 0 : 2;
  if (sub !== 'upload') throw new UsageError(`unknown command 'bootstrap ${sub}' (try: upload)`);
  const { values, positionals } = parse(rest, { url: { type: 'string' }, json: { type: 'boolean' } }, 10_000);
  if (values.help) return io.out(bootstrapHelp), 0;
  if (positionals.length === 0) throw new UsageError('FILE... or a DIR is required, e.g. cps bootstrap upload run.sh data.csv');
  const url = urlOption(values.url, io.env);
  const c = coordinatorAt(io.env, url);
  const oneTar = positionals.length === 1 && /\.tar$/i.test(positionals[0]!);
  const files = oneTar ? [] : await filesToSend(positionals);
  const sent = await call(url, async () => {
    if (oneTar) {
      const tar = await readFile(positionals[0]!);
      return c.POST('/api/bootstraps', {
        body: new Uint8Array(tar) as unknown as string,
        bodySerializer: (b: unknown) => b as BodyInit,
        headers: { 'content-type': 'application/x-tar' },
      });
    }
    // Each part a file; its filename is its path in the bootstrap (the coordinator packs the tar).
    const form = new FormData();
    for (const f of files) form.append('file', new Blob([new Uint8Array(await readFile(f.path))]), f.name);
    return c.POST('/api/bootstraps', { body: form as unknown as Record<string, string>, bodySerializer: (b: unknown) => b as BodyInit });
  });
  if (values.json) io.out(JSON.stringify(sent, null, 2));
  else {
    io.out(sent.id);
    io.err(`${sent.files.length} file${sent.files.length === 1 ? '' : 's'} (${sent.sizeBytes} bytes as a tar); use them with cps task submit --bootstrap ${sent.id}`);
  }
  return 0;
}
