import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { CoordinatorSchemas } from '@cps/openapi';
import { parse, UsageError, urlOption } from '../args.ts';
import { coordinatorAt } from '../task/connect.ts';
import type { Io } from '../io.ts';
import { call, CommandError } from '../task/client.ts';
import { countingStream, sha256Of } from '../upload/files.ts';
import { progressReporter } from '../upload/progress.ts';
import { imageBuild } from './image-build.ts';

type UploadFormat = CoordinatorSchemas['UploadFormat'];

export const imageHelp = `Usage: cps image upload FILE [--name NAME] [--format iso|qcow2|raw]
       cps image build RECIPE   (admins: build debian-12-server from Debian's packages; cps image build --help)

Uploads a disk image or an ISO to the coordinator's node (streamed; a progress bar on a terminal,
a line every 10% otherwise). The SHA-256 is computed first and checked by the node, so a damaged
upload is refused. Prints the image's id, for cps task submit --image ID.

Options:
  --name NAME      a label for people (default: the file's name)
  --format F       what the file is (default: from its extension .iso, .qcow2, .raw/.img;
                   otherwise the node detects it)
  --url URL        the coordinator (default: $CPS_URL or http://localhost:8080)
  --json           print the image as JSON
`;

const formats: Record<string, UploadFormat> = { '.iso': 'iso', '.qcow2': 'qcow2', '.raw': 'raw', '.img': 'raw' };

/** The coordinator's UploadImageName: a label, never a path. */
export function imageNameFrom(file: string): string {
  const base = path.basename(file).replace(/[^A-Za-z0-9 ._+-]/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 100);
  return base || 'image';
}

export async function image(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (!sub || sub === '--help' || sub === '-h' || sub === 'help') return io.out(imageHelp), sub ? 0 : 2;
  if (sub === 'build') return imageBuild(rest, io);
  if (sub !== 'upload') throw new UsageError(`unknown command 'image ${sub}' (try: upload, build)`);
  const { values, positionals } = parse(rest, { name: { type: 'string' }, format: { type: 'string' }, url: { type: 'string' }, json: { type: 'boolean' } }, 1);
  if (values.help) return io.out(imageHelp), 0;
  const file = positionals[0];
  if (!file) throw new UsageError('a FILE to upload is required, e.g. cps image upload debian.qcow2');
  const format = values.format ?? formats[path.extname(file).toLowerCase()];
  if (format !== undefined && !['iso', 'qcow2', 'raw'].includes(format)) throw new UsageError(`--format must be iso, qcow2 or raw, got '${format}'`);
  const name = values.name ?? imageNameFrom(file);
  if (!/^[A-Za-z0-9][A-Za-z0-9 ._+-]{0,99}$/.test(name)) throw new UsageError(`--name may hold letters, digits, space and ._+- (at most 100, starting with a letter or digit), got '${name}'`);
  const size = await stat(file).then(
    (s) => {
      if (!s.isFile()) throw new CommandError(`${file} is not a file`);
      return s.size;
    },
    () => {
      throw new CommandError(`${file}: no such file`);
    },
  );
  const url = urlOption(values.url, io.env);

  io.err(`hashing ${file} (${size} bytes)…`);
  const sha256 = await sha256Of(file);
  const progress = progressReporter(size, { ...(io.progress ? { live: io.progress } : {}), line: io.err }, () => Date.now());
  let status = 0;
  const uploaded = await call(url, async () => {
    const r = await coordinatorAt(io.env, url).POST('/api/images', {
      params: { query: { name, sha256, ...(format ? { format: format as UploadFormat } : {}) } },
      // Streamed from the file; the coordinator passes it on to its storage as it comes.
      body: countingStream(file, (n) => progress.sent(n)) as unknown as string,
      bodySerializer: (b: unknown) => b as BodyInit,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      ...({ duplex: 'half' } as object),
    });
    status = r.response.status;
    return r;
  }).finally(() => progress.done());
  if (values.json) io.out(JSON.stringify(uploaded, null, 2));
  else {
    io.out(uploaded.id);
    io.err(`${status === 201 ? 'uploaded' : 'already there'}: ${uploaded.name} (${uploaded.kind}, ${uploaded.format ?? '?'}, ${uploaded.sizeBytes} bytes); use it with cps task submit --image ${uploaded.id}`);
  }
  return 0;
}
