import { createHmac, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import type { ProvisionerSchemas } from '@cps/openapi';
import { Hono } from 'hono';
import { pino, type Logger } from 'pino';

type Vm = ProvisionerSchemas['Vm'];

export function vm(taskId: string, vnc: { host: string; port: number }, state: Vm['state'] = 'running', serialSocket?: string): Vm {
  return {
    taskId,
    domain: `cps-${taskId}`,
    name: taskId,
    state,
    vcpus: 1,
    memoryMiB: 128,
    accelerator: 'tcg',
    console: { vnc, ...(serialSocket ? { serialSocket } : {}) },
  };
}

/** A provisioner that knows only the guests in `vms` (mutable, so a test can add one). */
export function fakeProvisioner(vms: Map<string, Vm>) {
  const app = new Hono();
  app.get('/vms/:taskId', (c) => {
    const v = vms.get(c.req.param('taskId'));
    if (!v) return c.body(JSON.stringify({ type: 'urn:cps:problem:not-found', title: 'No such resource', status: 404 }), 404, { 'content-type': 'application/problem+json' });
    return c.json(v);
  });
  return app;
}

export interface FakeVnc {
  port: number;
  server: Server;
  sockets: Socket[];
  /** Resolves when the n-th connection (0-based) has closed on the server side. */
  closed(n: number): Promise<void>;
  close(): Promise<void>;
}

/** A VNC server stand-in: sends the RFB 3.8 banner, then echoes every byte. */
export async function fakeVncServer(onConnect?: (s: Socket) => void): Promise<FakeVnc> {
  const sockets: Socket[] = [];
  const closings: Promise<void>[] = [];
  const server = createServer((s) => {
    sockets.push(s);
    closings.push(new Promise((res) => s.once('close', () => res())));
    s.on('error', () => {});
    s.write('RFB 003.008\n');
    if (onConnect) onConnect(s);
    else s.pipe(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    port,
    server,
    sockets,
    async closed(n) {
      while (!closings[n]) await new Promise((r) => setTimeout(r, 10));
      await closings[n];
    },
    close: () =>
      new Promise((res) => {
        for (const s of sockets) s.destroy();
        server.close(() => res());
      }),
  };
}

/** A logger whose JSON lines a test can read back. */
export function memoryLogger(): { log: Logger; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, cb) {
      out.push(...String(chunk).split('\n').filter(Boolean));
      cb();
    },
  });
  return { log: pino({ level: 'debug', base: { service: 'vnc-gateway' } }, sink), lines: () => out.map((l) => JSON.parse(l)) };
}

/** A guest's serial socket stand-in (QEMU listens; it serves one client at a time, like QEMU's). */
export interface FakeSerial {
  path: string;
  /** Every connection the gateway made, in order. */
  clients: Socket[];
  /** What clients sent, all together. */
  received: () => string;
  /** Connections made while another was still open (the gateway must hold one per task). */
  overlapping: () => number;
  /** The guest prints to whoever is connected. */
  print(text: string | Buffer): void;
  close(): Promise<void>;
}

export async function fakeSerialGuest(path: string, opts: { echo?: boolean } = {}): Promise<FakeSerial> {
  const clients: Socket[] = [];
  let received = '';
  let overlapping = 0;
  const server = createServer((s) => {
    s.on('error', () => {});
    // QEMU's socket chardev serves one client; a second at once is counted, so a test can fail on it.
    if (clients.some((c) => !c.destroyed)) overlapping++;
    clients.push(s);
    s.on('data', (d: Buffer) => {
      received += d.toString('latin1');
      if (opts.echo !== false) s.write(d);
    });
  });
  server.listen(path);
  await once(server, 'listening');
  return {
    path,
    clients,
    received: () => received,
    overlapping: () => overlapping,
    print(text) {
      for (const c of clients) if (!c.destroyed) c.write(text);
    },
    close: () =>
      new Promise((res) => {
        for (const c of clients) c.destroy();
        server.close(() => res());
      }),
  };
}

/** Time moved by hand: a clock and timers for the gateway's idle and linger logic. */
export function manualTime(start = 0) {
  let t = start;
  const pending = new Set<{ at: number; fn: () => void }>();
  return {
    now: () => new Date(t),
    timers: {
      setTimeout(fn: () => void, ms: number) {
        const h = { at: t + ms, fn };
        pending.add(h);
        return h;
      },
      clearTimeout(h: unknown) {
        pending.delete(h as { at: number; fn: () => void });
      },
    },
    advance(ms: number) {
      t += ms;
      for (;;) {
        const due = [...pending].filter((h) => h.at <= t).sort((a, b) => a.at - b.at)[0];
        if (!due) break;
        pending.delete(due);
        due.fn();
      }
    },
  };
}

/** The tests' console-ticket key (a gateway's `ticketKey`); a real node derives it from the CA key. */
export const testTicketKey = new Uint8Array(randomBytes(32));

export interface TestTicket {
  kind?: 'vnc' | 'serial';
  now?: Date;
  ttlSec?: number;
  user?: { id: string; name: string };
  key?: Uint8Array;
  id?: string;
}

/**
 * A console ticket, signed here by hand as HS256 over the claims the coordinator puts in (so it is
 * synchronous, and proves the gateway accepts any signer of the right claims and key, not only jose).
 */
export function ticket(taskId: string, t: TestTicket = {}): string {
  const iat = Math.floor((t.now ?? new Date()).getTime() / 1000);
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const user = t.user ?? { id: 'u-00000000000000aa', name: 'alice' };
  const body = `${b64({ alg: 'HS256', typ: 'cps-console+jwt' })}.${b64({ task: taskId, kind: t.kind ?? 'vnc', name: user.name, sub: user.id, jti: t.id ?? randomBytes(9).toString('base64url'), iat, exp: iat + (t.ttlSec ?? 40) })}`;
  return `${body}.${createHmac('sha256', t.key ?? testTicketKey).update(body).digest('base64url')}`;
}

/** `path?ticket=…` for the console (or, with kind serial, the serial console) of `taskId`. */
export const ticketed = (path: string, taskId: string, t: TestTicket = {}): string => `${path}?ticket=${ticket(taskId, t)}`;

/**
 * The gateway's app with a stand-in for the coordinator's ticket route in front (POST
 * /api/tasks/{id}/console-ticket, answered as the coordinator answers), so the pages can be tested
 * on the gateway alone; the real route and the portal origin are in services/coordinator/test and
 * tests/e2e.
 */
export function withTicketDesk(app: Hono<any, any, any>, opts: TestTicket = {}): Hono<any, any, any> {
  const front = new Hono();
  front.post('/api/tasks/:taskId/console-ticket', async (c) => {
    const { kind } = (await c.req.json()) as { kind: 'vnc' | 'serial' };
    const taskId = c.req.param('taskId');
    const t = ticket(taskId, { ...opts, kind });
    const url = kind === 'vnc' ? `/console/${taskId}/websockify?ticket=${t}` : `/serial/${taskId}/socket?ticket=${t}`;
    return c.json({ ticket: t, expiresAt: new Date(Date.now() + 40_000).toISOString(), url }, 201);
  });
  front.route('/', app);
  return front;
}
