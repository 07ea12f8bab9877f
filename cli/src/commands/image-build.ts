import type { CoordinatorSchemas } from '@cps/openapi';
import { parse, UsageError, urlOption } from '../args.ts';
import type { Io } from '../io.ts';
import { coordinatorAt } from '../task/connect.ts';
import { call } from '../task/client.ts';

type ImageBuild = CoordinatorSchemas['ImageBuild'];

export const imageBuildHelp = `Usage: cps image build RECIPE [--url URL] [--json]

Builds an image from Debian's packages on the coordinator's node (admins only), printing the
build's progress lines until it ends. Recipes: debian-12-server (Debian 12, cloud kernel,
cloud-init, qemu-guest-agent, OpenSSH, a serial console). A build whose inputs (the recipe and
the mirror's package lists) have not changed is not redone: it ends in seconds. Exit status 1
when the build fails (nothing of it is kept).

Options:
  --url URL        the coordinator (default: $CPS_URL or http://localhost:8080)
  --json           print the finished build as JSON
`;

/** How long between two looks at a running build: its steps take seconds to minutes. */
const pollMs = 1000;

/** `wait` is the pause between polls (injected: tests end it at once). */
export async function imageBuild(args: string[], io: Io, wait: (ms: number) => Promise<void> = (ms) => new Promise((r) => setTimeout(r, ms))): Promise<number> {
  const { values, positionals } = parse(args, { url: { type: 'string' }, json: { type: 'boolean' } }, 1);
  if (values.help) return io.out(imageBuildHelp), 0;
  const recipe = positionals[0];
  if (!recipe) throw new UsageError('a RECIPE is required, e.g. cps image build debian-12-server');
  if (!/^[a-z0-9][a-z0-9.-]{0,63}$/.test(recipe)) throw new UsageError(`'${recipe}' is not a recipe name (lower-case letters, digits, . and -)`);
  const url = urlOption(values.url, io.env);
  const client = coordinatorAt(io.env, url);

  let status = 0;
  let b: ImageBuild = await call(url, async () => {
    const r = await client.POST('/api/images/builds', { body: { recipe } });
    status = r.response.status;
    return r;
  });
  if (status === 200) io.err(`a build of ${recipe} was already running; following it`);
  let printed = 0;
  const show = () => {
    for (const line of b.lines.slice(printed)) io.err(line);
    printed = b.lines.length;
  };
  show();
  while (b.state === 'running') {
    await wait(pollMs);
    b = await call(url, () => client.GET('/api/images/builds/{recipe}', { params: { path: { recipe } } }));
    show();
  }
  if (values.json) io.out(JSON.stringify(b, null, 2));
  if (b.state === 'failed') {
    io.err(`build of ${recipe} failed: ${b.error ?? 'no reason given'}`);
    return 1;
  }
  if (!values.json) io.out(`${recipe} ${b.cached ? 'was up to date' : 'built'}; use it with cps task submit --image ${recipe}`);
  return 0;
}
