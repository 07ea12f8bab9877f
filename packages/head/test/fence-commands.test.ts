import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { fenceCommands, fenceRoutes, problemErrorHandler, problemNotFound } from '@cps/common';
import { Hono } from 'hono';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { FenceGuard } from '../src/index.ts';

/** A host's routes behind the fence, on a real FenceGuard; each handler records what the disk held when it ran. */
async function host(dir = join(mkdtempSync(join(tmpdir(), 'cps-fence-mw-')), 'fence')) {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({ write: (chunk, _e, cb) => (lines.push(...String(chunk).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>)), cb()) });
  const log = pino({ level: 'debug' }, sink);
  const guard = await FenceGuard.open(dir, log);
  const ran: Array<{ what: string; marks: string[] }> = [];
  const app = new Hono();
  app.onError(problemErrorHandler(log));
  app.notFound(problemNotFound);
  app.use(fenceCommands(guard, log));
  app.route('/', fenceRoutes(guard));
  app.put('/vms/:id', (c) => (ran.push({ what: `create ${c.req.param('id')}`, marks: readdirSync(dir) }), c.body(null, 201)));
  app.delete('/vms/:id', (c) => (ran.push({ what: `destroy ${c.req.param('id')}`, marks: readdirSync(dir) }), c.body(null, 204)));
  return { app, guard, dir, ran, lines };
}

const from = (epoch: number | string, head = 'n1') => ({ headers: { 'CPS-Epoch': String(epoch), 'CPS-Head': head } });

describe('fenceCommands with a FenceGuard: a host obeys no older head', () => {
  it('persists a newer epoch before the command runs, lets the same epoch through, and refuses an older one naming both', async () => {
    const h = await host();
    expect((await h.app.request('/vms/t1', { method: 'PUT', ...from(3, 'n1') })).status).toBe(201);
    expect(h.ran).toEqual([{ what: 'create t1', marks: ['epoch-3.json'] }]);
    expect((await h.app.request('/vms/t1', { method: 'DELETE', ...from(3, 'n1') })).status).toBe(204);
    expect((await h.app.request('/vms/t2', { method: 'PUT', ...from(5, 'n2') })).status).toBe(201);
    expect(h.ran.at(-1)).toEqual({ what: 'create t2', marks: ['epoch-3.json', 'epoch-5.json'] });

    const r = await h.app.request('/vms/t2', { method: 'DELETE', ...from(3, 'n1') });
    expect(r.status).toBe(409);
    expect(r.headers.get('content-type')).toBe('application/problem+json');
    expect(await r.json()).toEqual({
      type: 'urn:cps:problem:stale-epoch',
      title: 'The command carries an older epoch than this host has seen',
      status: 409,
      detail: 'epoch 3 (from n1) is older than epoch 5, the highest this host has seen',
      instance: '/vms/t2',
      epoch: 3,
      highestEpoch: 5,
    });
    expect(h.ran.map((x) => x.what)).toEqual(['create t1', 'destroy t1', 'create t2']); // the refused one never ran
    expect(h.lines.find((l) => l.event === 'fence.command-refused')).toMatchObject({ method: 'DELETE', path: '/vms/t2', epoch: 3, head: 'n1', highestEpoch: 5 });
  });

  it.each(['1e3', '-1', '0', '99999999999999999999', '1, 2', '3.0', ''])('answers CPS-Epoch %j with 400 and runs nothing', async (epoch) => {
    const h = await host();
    const r = await h.app.request('/vms/t1', { method: 'PUT', ...from(epoch) });
    expect(r.status).toBe(400);
    expect((await r.json()).type).toBe('urn:cps:problem:bad-request');
    expect(h.ran).toEqual([]);
    expect(readdirSync(h.dir)).toEqual([]);
  });

  it('two CPS-Epoch headers are one malformed value', async () => {
    const h = await host();
    const headers = new Headers({ 'CPS-Head': 'n1' });
    headers.append('CPS-Epoch', '7');
    headers.append('CPS-Epoch', '8');
    expect((await h.app.request('/vms/t1', { method: 'PUT', headers })).status).toBe(400);
    expect(h.ran).toEqual([]);
  });

  it('lets a command without headers through unfenced, logged at debug', async () => {
    const h = await host();
    await h.guard.admit(9, 'n2');
    expect((await h.app.request('/vms/t1', { method: 'PUT' })).status).toBe(201);
    expect(h.lines.find((l) => l.event === 'fence.unfenced')).toMatchObject({ level: 20, method: 'PUT', path: '/vms/t1' });
  });

  it('GET /fence shows the fence; POST /fence raises it and changes nothing else; a restart keeps it', async () => {
    const h = await host();
    expect(await (await h.app.request('/fence')).json()).toEqual({ highestEpoch: 0 });
    const raised = await h.app.request('/fence', { method: 'POST', ...from(4, 'n3') });
    expect(raised.status).toBe(200);
    expect(await raised.json()).toEqual({ highestEpoch: 4, head: 'n3' });
    expect((await h.app.request('/fence', { method: 'POST', ...from(4, 'n3') })).status).toBe(200); // again: already there
    expect((await (await h.app.request('/fence', { method: 'POST', ...from(2, 'n1') })).json()).type).toBe('urn:cps:problem:stale-epoch');
    expect((await h.app.request('/fence', { method: 'POST' })).status).toBe(400); // the headers are required here
    expect(h.ran).toEqual([]);

    const restarted = await host(h.dir);
    expect(await (await restarted.app.request('/fence')).json()).toEqual({ highestEpoch: 4, head: 'n3' });
    expect((await restarted.app.request('/vms/t1', { method: 'PUT', ...from(3, 'n1') })).status).toBe(409);
    expect(restarted.ran).toEqual([]);
  });

  it("one node's two services on one fence: what one admitted, the other obeys", async () => {
    const provisioner = await host();
    const storage = await host(provisioner.dir);
    expect((await provisioner.app.request('/fence', { method: 'POST', ...from(6, 'n2') })).status).toBe(200);
    expect((await storage.app.request('/vms/t1', { method: 'DELETE', ...from(5, 'n1') })).status).toBe(409);
    expect(await (await storage.app.request('/fence')).json()).toEqual({ highestEpoch: 6, head: 'n2' });
    expect(storage.ran).toEqual([]);
  });
});
