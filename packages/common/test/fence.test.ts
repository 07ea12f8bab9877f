import { readFileSync } from 'node:fs';
import { specFiles } from '@cps/openapi';
import { Hono } from 'hono';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { commandEpochOf, fenceCommands, nodeIdPattern, ProblemError, problemErrorHandler, type EpochFence } from '../src/index.ts';

const headers = (h: Record<string, string>) => (name: string) => new Headers(h).get(name) ?? undefined;
// The bytes as sent, without fetch's Headers (which trims and refuses non-Latin-1): what a raw socket could carry.
const raw = (h: Record<string, string>) => (name: string) => Object.entries(h).find(([k]) => k.toLowerCase() === name.toLowerCase())?.[1];

describe('commandEpochOf: the CPS-Epoch and CPS-Head headers, as hostile bytes', () => {
  it('reads both, and neither as no epoch at all', () => {
    expect(commandEpochOf(headers({ 'CPS-Epoch': '7', 'CPS-Head': 'ws-a.lan' }))).toEqual({ epoch: 7, head: 'ws-a.lan' });
    expect(commandEpochOf(headers({ 'cps-epoch': '9007199254740991', 'cps-head': 'b' }))).toEqual({ epoch: 2 ** 53 - 1, head: 'b' });
    expect(commandEpochOf(headers({}))).toBeUndefined();
  });

  it.each([
    ['1e3'], ['-1'], ['0'], ['007'], ['+5'], ['5.0'], ['0x10'], [' 5'], ['5 '], [''], ['five'], ['Infinity'], ['NaN'],
    ['99999999999999999999'], ['9007199254740993'], ['1, 2'], ['1,2'], ['٣'],
  ])('refuses CPS-Epoch %j as a bad request', (epoch) => {
    const e = (() => {
      try {
        return commandEpochOf(raw({ 'CPS-Epoch': epoch, 'CPS-Head': 'a' }));
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(ProblemError);
    expect((e as ProblemError).problemType).toBe('bad-request');
  });

  it.each([[''], ['-a'], ['a b'], ['a/../b'], ['a, b'], ['x'.repeat(65)], ['ä'], [' a'], ['a\n']])('refuses CPS-Head %j as a bad request', (head) => {
    expect(() => commandEpochOf(raw({ 'CPS-Epoch': '3', 'CPS-Head': head }))).toThrow(/not a node id/);
  });

  it('refuses one header without the other', () => {
    expect(() => commandEpochOf(headers({ 'CPS-Epoch': '3' }))).toThrow(/go together/);
    expect(() => commandEpochOf(headers({ 'CPS-Head': 'a' }))).toThrow(/go together/);
  });

  it('refuses a header sent twice (fetch joins the values)', () => {
    const h = new Headers();
    h.append('CPS-Epoch', '3');
    h.append('CPS-Epoch', '4');
    h.set('CPS-Head', 'a');
    expect(() => commandEpochOf((n) => h.get(n) ?? undefined)).toThrow(ProblemError);
  });
});

describe('fenceCommands: which requests the fence sees', () => {
  // Records what it was asked; the real fence (FenceGuard) is tested with this middleware in @cps/head.
  const recording = () => {
    const seen: string[] = [];
    const fence: EpochFence = {
      admit: async (epoch, head) => void seen.push(`admit ${epoch} ${head}`),
      current: async () => ({ highestEpoch: 0 }),
    };
    const app = new Hono<{ Bindings: { caller?: { kind: 'member'; nodeId: string } } }>();
    app.onError(problemErrorHandler());
    app.use(fenceCommands(fence, pino({ level: 'silent' })));
    for (const m of ['get', 'put', 'post', 'delete', 'patch'] as const) app[m]('/x', (c) => (seen.push(`${c.req.method} ran`), c.body(null, 204)));
    return { app, seen };
  };
  const epoch = { 'CPS-Epoch': '4', 'CPS-Head': 'a' };

  it('admits every PUT, POST, DELETE and PATCH before its handler, and never a GET', async () => {
    const { app, seen } = recording();
    for (const method of ['PUT', 'POST', 'DELETE', 'PATCH', 'GET']) expect((await app.request('/x', { method, headers: epoch })).status).toBe(204);
    expect(seen).toEqual(['admit 4 a', 'PUT ran', 'admit 4 a', 'POST ran', 'admit 4 a', 'DELETE ran', 'admit 4 a', 'PATCH ran', 'GET ran']);
  });

  it('lets a command without the headers through, and runs no handler for malformed ones', async () => {
    const { app, seen } = recording();
    expect((await app.request('/x', { method: 'PUT' })).status).toBe(204);
    const r = await app.request('/x', { method: 'PUT', headers: { 'CPS-Epoch': '1e3', 'CPS-Head': 'a' } });
    expect(r.status).toBe(400);
    expect(r.headers.get('content-type')).toBe('application/problem+json');
    expect((await r.json()).type).toBe('urn:cps:problem:bad-request');
    expect(seen).toEqual(['PUT ran']);
  });

  it("refuses a member's certificate speaking for another node's head", async () => {
    const { app, seen } = recording();
    const r = await app.request('/x', { method: 'DELETE', headers: epoch }, { caller: { kind: 'member', nodeId: 'b' } });
    expect(r.status).toBe(400);
    expect((await r.json()).detail).toBe("CPS-Head names a, but the certificate is b's");
    expect((await app.request('/x', { method: 'DELETE', headers: epoch }, { caller: { kind: 'member', nodeId: 'a' } })).status).toBe(204);
    expect(seen).toEqual(['admit 4 a', 'DELETE ran']);
  });
});

describe('the contract and the middleware agree on what is fenced', () => {
  type Op = { operationId: string; parameters?: Array<{ $ref?: string }>; responses: Record<string, unknown> };
  type Spec = { paths: Record<string, Record<string, Op>>; components: { schemas: Record<string, { pattern?: string }> } };
  const spec = (file: string) => parseYaml(readFileSync(file, 'utf8')) as Spec;

  it.each([['provisioner', specFiles.provisioner], ['storage', specFiles.storage]])('%s: every PUT, POST, DELETE, PATCH takes CPS-Epoch and CPS-Head and may answer 409; no GET does', (_, file) => {
    const s = spec(file);
    let fenced = 0;
    for (const [path, item] of Object.entries(s.paths)) {
      for (const [method, op] of Object.entries(item)) {
        if (method === 'parameters') continue;
        const refs = (op.parameters ?? []).map((p) => p.$ref);
        const takes = refs.some((r) => r?.startsWith('#/components/parameters/CpsEpoch')) && refs.some((r) => r?.startsWith('#/components/parameters/CpsHead'));
        if (['put', 'post', 'delete', 'patch'].includes(method)) {
          // A new command route: give it both `$ref: "#/components/parameters/CpsEpoch"` and `CpsHead`, and
          // `"409": { $ref: "#/components/responses/Conflict" }`: the middleware fences it whatever its contract says.
          expect(takes, `${method} ${path} takes no CPS-Epoch/CPS-Head`).toBe(true);
          expect(op.responses['409'], `${method} ${path} lists no 409 (components/responses/Conflict)`).toBeDefined();
          fenced++;
        } else expect(takes, `${method} ${path}`).toBe(false);
      }
    }
    expect(fenced).toBeGreaterThanOrEqual(9);
    expect(s.components.schemas.NodeId!.pattern).toBe(nodeIdPattern.source);
  });
});
