import { serve, type ServerType } from '@hono/node-server';
import { problemErrorHandler, problemNotFound, ProblemError } from '@cps/common';
import type { CoordinatorSchemas } from '@cps/openapi';
import { Hono } from 'hono';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { memoryIo } from '../src/io.ts';
import { run } from '../src/main.ts';

type Task = CoordinatorSchemas['Task'];
type State = CoordinatorSchemas['TaskState'];

/** A coordinator that moves a task one state further on each GET, as a real one does over time. */
function fakeCoordinator() {
  const tasks = new Map<string, Task>();
  const bodies: unknown[] = [];
  let n = 0;
  const at = () => new Date(Date.UTC(2026, 0, 1, 0, 0, n++)).toISOString();
  const move = (t: Task, state: State, message?: string) => {
    t.state = state;
    t.updatedAt = at();
    t.history.push({ state, at: t.updatedAt, ...(message ? { message } : {}) });
  };
  const next: Partial<Record<State, State>> = { pending: 'placing', placing: 'starting', starting: 'running', stopping: 'stopped' };
  const app = new Hono();
  app.onError(problemErrorHandler());
  app.notFound(problemNotFound);
  app.get('/api/tasks', (c) => c.json({ items: [...tasks.values()].reverse() }));
  app.post('/api/tasks', async (c) => {
    const body = (await c.req.json()) as CoordinatorSchemas['TaskRequest'];
    bodies.push(body);
    if (body.image === 'nope') throw new ProblemError('image-not-found', "no image 'nope' on this node");
    const id = `t-${String(++n).padStart(4, '0')}`;
    const t: Task = {
      id,
      name: body.name,
      state: 'pending',
      request: { vcpus: body.vcpus ?? 1, memoryMiB: body.memoryMiB ?? 256, diskMiB: body.diskMiB ?? 64, image: body.image ?? 'tiny' },
      createdAt: at(),
      updatedAt: at(),
      history: [],
    };
    move(t, 'pending');
    tasks.set(id, t);
    return c.json(t, 202);
  });
  const find = (id: string) => {
    const t = tasks.get(id);
    if (!t) throw new ProblemError('not-found', `no task ${id}`);
    return t;
  };
  app.get('/api/tasks/:id', (c) => {
    const t = find(c.req.param('id'));
    if (t.name === 'doomed' && t.state === 'placing') {
      move(t, 'failed', 'guest did not start');
      t.error = { type: 'urn:cps:problem:hypervisor-error', title: 'libvirt refused the operation', status: 502, detail: 'no memory' };
    } else if (t.name === 'stuck') {
      // never moves
    } else if (next[t.state]) {
      // Two steps at once on "placing": the CLI must still print the state it never saw.
      if (t.state === 'placing') move(t, 'starting', 'on node-a');
      move(t, next[t.state]!);
      if (t.state === 'running') {
        t.node = { nodeId: 'node-a', address: '127.0.0.1' };
        // As the real coordinator says it: a path on the portal's origin.
        t.console = { vncUrl: `/console/${t.id}` };
      }
    }
    return c.json(t);
  });
  app.delete('/api/tasks/:id', (c) => {
    const t = find(c.req.param('id'));
    move(t, 'stopping');
    return c.json(t, 202);
  });
  return { app, tasks, bodies };
}

let server: ServerType;
let url: string;
let fake: ReturnType<typeof fakeCoordinator>;

beforeAll(async () => {
  await new Promise<void>((resolve) => {
    server = serve({ fetch: (req) => fake.app.fetch(req), port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
      url = `http://127.0.0.1:${info.port}`;
      resolve();
    });
  });
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));
beforeEach(() => {
  fake = fakeCoordinator();
});

async function cps(...argv: string[]) {
  const io = memoryIo();
  const code = await run([...argv, '--url', url, '--interval', '10'], io);
  return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
}

describe('cps task submit', () => {
  it('sends the request with defaults and says the id', async () => {
    const r = await cps('task', 'submit', '--name', 'x');
    expect(r).toMatchObject({ code: 0, err: '' });
    expect(r.out).toMatch(/^task t-\d{4} submitted \(pending\)$/);
    expect(fake.bodies).toEqual([{ name: 'x', vcpus: 1, memoryMiB: 256, diskMiB: 64, image: 'tiny' }]);
  });

  it('maps --vcpus/--memory/--disk/--image onto the contract', async () => {
    await cps('task', 'submit', '--name', 'big one', '--vcpus', '2', '--memory', '512', '--disk', '100', '--image', 'tiny');
    expect(fake.bodies).toEqual([{ name: 'big one', vcpus: 2, memoryMiB: 512, diskMiB: 100, image: 'tiny' }]);
  });

  it('--wait shows every state change until running', async () => {
    const r = await cps('task', 'submit', '--name', 'x', '--wait');
    expect(r.code).toBe(0);
    const states = r.out.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.trim().split(/\s+/)[1]);
    expect(states).toEqual(['pending', 'placing', 'starting', 'running']);
    expect(r.out).toMatch(/starting {2}on node-a/);
    const id = [...fake.tasks.keys()][0]!;
    expect(r.out.split('\n').slice(-3)).toEqual([`task ${id} is running on node-a`, `desktop: ${url}/console/${id}`, `serial:  ${url}/serial/${id}`]);
  });

  it('--wait exits 1 with the problem when the task fails', async () => {
    const r = await cps('task', 'submit', '--name', 'doomed', '--wait');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: task t-\d+ ended failed: libvirt refused the operation: no memory$/);
    expect(r.out).toContain('failed  guest did not start');
  });

  it('--wait gives up after --timeout', async () => {
    const r = await cps('task', 'submit', '--name', 'stuck', '--wait', '--timeout', '1');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/is still pending after 1 s \(waiting for running\)/);
  });

  it('--json prints the task', async () => {
    const r = await cps('task', 'submit', '--name', 'x', '--json', '--wait');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ name: 'x', state: 'running' });
  });

  it('prints a problem as "error: title: detail", exit 1', async () => {
    const r = await cps('task', 'submit', '--name', 'x', '--image', 'nope');
    expect(r).toMatchObject({ code: 1, out: '', err: "error: No such image: no image 'nope' on this node" });
  });
});

describe('cps task list / show / stop', () => {
  it('list prints a table, newest first, and --json the items', async () => {
    expect((await cps('task', 'list')).out).toBe('no tasks');
    await cps('task', 'submit', '--name', 'first');
    await cps('task', 'submit', '--name', 'second task', '--wait');
    const r = await cps('task', 'list');
    const lines = r.out.split('\n');
    expect(lines[0]).toMatch(/^ID +NAME +STATE +VCPUS +MEMORY +IMAGE +NODE +CREATED$/);
    expect(lines[1]).toMatch(/^t-\d+ +second task +running +1 +256 MiB +tiny +node-a +2026-/);
    expect(lines[2]).toMatch(/^t-\d+ +first +pending .* - +2026-/);
    // columns line up
    expect(lines[1]!.indexOf('running')).toBe(lines[0]!.indexOf('STATE'));
    expect(JSON.parse((await cps('task', 'list', '--json')).out)).toHaveLength(2);
  });

  it('show prints the task with its history; an unknown id is a problem', async () => {
    await cps('task', 'submit', '--name', 'x', '--wait');
    const id = [...fake.tasks.keys()][0]!;
    const r = await cps('task', 'show', id);
    expect(r.out).toMatch(new RegExp(`^id: +${id}\nname: +x\nstate: +running\n`));
    expect(r.out).toMatch(/history:\n {2}\S+ {2}pending\n/);
    // The consoles are absolute URLs on the coordinator this CLI talks to, not the bare path.
    expect(r.out).toContain(`\ndesktop:  ${url}/console/${id}\nserial:   ${url}/serial/${id}\n`);
    expect(await cps('task', 'show', 't-missing')).toMatchObject({ code: 1, err: 'error: No such resource: no task t-missing' });
  });

  it('show prints the guest\'s addresses where the task has them, none where it has not', async () => {
    await cps('task', 'submit', '--name', 'x', '--wait');
    const id = [...fake.tasks.keys()][0]!;
    expect((await cps('task', 'show', id)).out).not.toContain('address:');
    fake.tasks.get(id)!.addresses = [
      { interface: 'enp1s0', family: 'ipv4', address: '10.0.2.15', prefix: 24 },
      { interface: 'enp1s0', family: 'ipv6', address: 'fec0::5054:ff:fe12:3456', prefix: 64 },
    ];
    expect((await cps('task', 'show', id)).out).toContain('\naddress:  10.0.2.15/24 (enp1s0), fec0::5054:ff:fe12:3456/64 (enp1s0)\n');
  });

  it('stop --wait follows the task until stopped', async () => {
    await cps('task', 'submit', '--name', 'x', '--wait');
    const id = [...fake.tasks.keys()][0]!;
    const r = await cps('task', 'stop', id, '--wait');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/stopping\n {2}\S+ {2}stopped\ntask t-\d+ is stopped$/);
    expect(r.out).not.toMatch(/ {2}\S+ {2}running/);
  });

  it('stop without --wait answers at once', async () => {
    await cps('task', 'submit', '--name', 'x');
    const id = [...fake.tasks.keys()][0]!;
    expect((await cps('task', 'stop', id)).out).toBe(`task ${id} stopping`);
  });
});

describe('a coordinator that misbehaves', () => {
  it('an unreachable coordinator is one clear line', async () => {
    const gone = serve({ fetch: () => new Response(), port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => gone.once('listening', r));
    const port = (gone.address() as AddressInfo).port;
    await new Promise((r) => gone.close(r));
    const io = memoryIo();
    expect(await run(['task', 'list', '--url', `http://127.0.0.1:${port}`], io)).toBe(1);
    expect(io.stderr).toEqual([expect.stringMatching(new RegExp(`^error: cannot reach the coordinator at http://127.0.0.1:${port}: ECONNREFUSED`))]);
  });

  it('a non-problem error body is shown by status', async () => {
    const app = new Hono();
    app.get('/api/tasks', (c) => c.text('<html>proxy error</html>', 502));
    const other = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise((r) => other.once('listening', r));
    try {
      const io = memoryIo();
      expect(await run(['task', 'list', '--url', `http://127.0.0.1:${(other.address() as AddressInfo).port}`], io)).toBe(1);
      expect(io.stderr[0]).toBe('error: HTTP 502 Bad Gateway: <html>proxy error</html>');
    } finally {
      other.close();
    }
  });
});
