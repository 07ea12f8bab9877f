import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import type { ProvisionerSchemas } from '@cps/openapi';
import { Hono } from 'hono';
import { pino, type Logger } from 'pino';

type Vm = ProvisionerSchemas['Vm'];

export function vm(taskId: string, vnc: { host: string; port: number }, state: Vm['state'] = 'running'): Vm {
  return {
    taskId,
    domain: `cps-${taskId}`,
    name: taskId,
    state,
    vcpus: 1,
    memoryMiB: 128,
    accelerator: 'tcg',
    console: { vnc },
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
