import { getRequestListener } from '@hono/node-server';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { doorLists } from '@cps/common';
import { fakeCluster, fakeNode, reach } from './fakes.ts';

const setup = (nodes = [fakeNode('node-a', '127.0.0.1')]) => {
  const cluster = fakeCluster(nodes);
  return { ...cluster, http: request(getRequestListener(cluster.app.fetch)) };
};

const problem = 'application/problem+json';

describe('POST /api/tasks', () => {
  it('fills the defaults, answers 202 with Location at once, and places the task in the background', async () => {
    const { http, tasks } = setup();
    const res = await http.post('/api/tasks').send({ name: 'demo' }).expect(202);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body).toMatchObject({ name: 'demo', state: 'pending', request: { vcpus: 1, memoryMiB: 256, diskMiB: 64, image: 'tiny' } });
    expect(res.body.id).toMatch(/^t-[0-9a-f]{8}$/);
    expect(res.headers.location).toBe(`/api/tasks/${res.body.id}`);
    await reach(tasks, res.body.id, 'running');
    const got = await http.get(res.headers.location!).expect(200);
    expect(got.body.state).toBe('running');
    expect(got.body.console.vncUrl).toBe(`/console/${res.body.id}`);
  });

  it('keeps what the request gives', async () => {
    const { http } = setup();
    const res = await http.post('/api/tasks').send({ name: 'big', vcpus: 4, memoryMiB: 2048, diskMiB: 1024, image: 'debian-12' }).expect(202);
    expect(res.body.request).toEqual({ vcpus: 4, memoryMiB: 2048, diskMiB: 1024, image: 'debian-12' });
  });

  it('accepts any printable text as a name and returns it unchanged', async () => {
    const { http } = setup();
    const name = `</script><script>alert(1)</script> "é" ✓`.slice(0, 64);
    const res = await http.post('/api/tasks').send({ name }).expect(202);
    expect(res.body.name).toBe(name);
  });

  const hostile: [string, string | object, string?][] = [
    ['a 10 kB name', { name: 'x'.repeat(10_000) }],
    ['an empty name', { name: '' }],
    ['a NUL in the name', { name: 'a\u0000b' }],
    ['a newline in the name', { name: 'a\nb' }],
    ['a C1 control in the name', { name: 'a\u0085b' }],
    ['a line separator in the name', { name: 'a\u2028b' }],
    ['DEL in the name', { name: 'a\u007fb' }],
    ['a lone surrogate in the name (the provisioner refuses it)', { name: 'a\uD800b' }],
    ['U+FFFF in the name (XML cannot carry it)', { name: 'a\uFFFFb' }],
    ['no name', { vcpus: 1 }],
    ['a markup body', '</script><script>alert(1)</script>'],
    ['markup as an image id', { name: 'x', image: '</script><script>' }],
    ['a path as an image id', { name: 'x', image: '../../etc/passwd' }],
    ['vcpus as a string', { name: 'x', vcpus: '2' }],
    ['a fractional memory size', { name: 'x', memoryMiB: 256.5 }],
    ['a name that is a number', { name: 42 }],
    ['a name that is an object', { name: { toString: 'x' } }],
    ['an extra field', { name: 'x', owner: 'root' }],
    ['a __proto__ key', '{"name":"x","__proto__":{"admin":true}}'],
    ['zero vcpus', { name: 'x', vcpus: 0 }],
    ['negative disk', { name: 'x', diskMiB: -1 }],
    ['a huge number', { name: 'x', memoryMiB: 1e300 }],
    ['a number past float range', '{"name":"x","vcpus":1e400}'],
    ['an integer past 2^53', '{"name":"x","diskMiB":9007199254740993}'],
    ['malformed JSON', '{"name": "x",'],
    ['an empty body', ''],
    ['JSON null', 'null'],
    ['a JSON array', '[{"name":"x"}]'],
    ['a JSON string', '"x"'],
  ];

  it.each(hostile)('refuses %s with a validation problem and leaves the store unchanged', async (_what, body) => {
    const { http, tasks } = setup();
    const res = await http
      .post('/api/tasks')
      .set('content-type', 'application/json')
      .send(typeof body === 'string' ? body : JSON.stringify(body))
      .expect(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ type: 'urn:cps:problem:validation-failed', status: 400 });
    expect(typeof res.body.detail).toBe('string');
    expect(tasks.list()).toEqual([]);
  });

  it('refuses a body without a JSON content type', async () => {
    const { http, tasks } = setup();
    for (const type of ['application/octet-stream', 'application/jsonx', 'application/xml']) {
      const req = http.post('/api/tasks');
      if (type) req.set('content-type', type);
      const res = await req.send(Buffer.from('{"name":"x"}')).expect(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.type).toBe('urn:cps:problem:validation-failed');
      expect(res.body.errors).toEqual([{ location: 'header/content-type', message: 'must be application/json' }]);
    }
    expect(tasks.list()).toEqual([]);
  });

  it('refuses a body a cross-site form could send (CORS-simple content types) at the door', async () => {
    const { http, tasks } = setup();
    for (const type of [undefined, 'text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const req = http.post('/api/tasks');
      if (type) req.set('content-type', type);
      const res = await req.send(Buffer.from('{"name":"x"}')).expect(403);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.type).toBe('urn:cps:problem:cross-site-request');
      expect(res.body.detail).toContain('send JSON (content-type: application/json)');
    }
    expect(tasks.list()).toEqual([]);
  });

  it('refuses invalid UTF-8', async () => {
    const { http, tasks } = setup();
    const res = await http.post('/api/tasks').set('content-type', 'application/json').send(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d])).expect(400);
    expect(res.body.type).toBe('urn:cps:problem:validation-failed');
    expect(tasks.list()).toEqual([]);
  });

  it('names every field that is wrong', async () => {
    const { http } = setup();
    const res = await http.post('/api/tasks').send({ name: '', vcpus: 0, memoryMiB: 'lots' }).expect(400);
    const locations = res.body.errors.map((e: { location: string }) => e.location);
    expect(locations).toEqual(expect.arrayContaining(['body/name', 'body/vcpus', 'body/memoryMiB']));
  });

  it('refuses a body over 192 KiB unread', async () => {
    const { http, tasks } = setup();
    const res = await http.post('/api/tasks').set('content-type', 'application/json').send(JSON.stringify({ name: 'x'.repeat(200_000) })).expect(413);
    expect(res.body.type).toBe('urn:cps:problem:payload-too-large');
    expect(tasks.list()).toEqual([]);
  });
});

describe('tasks', () => {
  it('lists tasks newest first', async () => {
    const { http } = setup();
    const a = (await http.post('/api/tasks').send({ name: 'a' })).body.id;
    const b = (await http.post('/api/tasks').send({ name: 'b' })).body.id;
    const res = await http.get('/api/tasks').expect(200);
    expect(res.body.items.map((t: { id: string }) => t.id)).toEqual([b, a]);
  });

  it('answers 404 problems for unknown tasks and 400 for ids the contract refuses', async () => {
    const { http } = setup();
    for (const path of ['/api/tasks/t-00000000', '/api/tasks/t-00000000/serial']) {
      const res = await http.get(path).expect(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ type: 'urn:cps:problem:not-found', detail: 'no task t-00000000' });
    }
    await http.delete('/api/tasks/t-00000000').expect(404);
    const bad = await http.get('/api/tasks/Bad_Id').expect(400);
    expect(bad.body.type).toBe('urn:cps:problem:validation-failed');
    expect((await http.get('/api/nothing').expect(404)).body.type).toBe('urn:cps:problem:route-not-found');
  });

  it('stops a task with 202, then it is stopped; stopping again is fine', async () => {
    const { http, tasks } = setup();
    const { id } = (await http.post('/api/tasks').send({ name: 'demo' })).body;
    await reach(tasks, id, 'running');
    const res = await http.delete(`/api/tasks/${id}`).expect(202);
    expect(res.body.state).toBe('stopping');
    await reach(tasks, id, 'stopped');
    const again = await http.delete(`/api/tasks/${id}`).expect(202);
    expect(again.body.state).toBe('stopped');
  });

  it("proxies the guest's serial log as text", async () => {
    const { http, tasks } = setup();
    const { id } = (await http.post('/api/tasks').send({ name: 'demo' })).body;
    await reach(tasks, id, 'running');
    const res = await http.get(`/api/tasks/${id}/serial`).expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toContain('cps-guest: up');
  });

  it('answers a conflict for the serial log of a task with no guest', async () => {
    const { http, tasks } = setup([]);
    const { id } = (await http.post('/api/tasks').send({ name: 'demo' })).body;
    await reach(tasks, id, 'queued');
    const res = await http.get(`/api/tasks/${id}/serial`).expect(409);
    expect(res.body.type).toBe('urn:cps:problem:conflict');
  });
});

describe('images and health', () => {
  it("lists the local storage's images in the coordinator's shape", async () => {
    const { http } = setup();
    const res = await http.get('/api/images').expect(200);
    expect(res.body).toEqual({ items: [{ id: 'tiny', name: 'tiny', kind: 'kernel', description: 'busybox </b>' }] });
  });

  it('answers upstream-failed when the storage is down', async () => {
    const { http } = setup([]);
    const res = await http.get('/api/images').expect(502);
    expect(res.body.type).toBe('urn:cps:problem:upstream-failed');
  });

  it('is healthy', async () => {
    const { http } = setup();
    const res = await http.get('/healthz').expect(200);
    expect(res.body).toMatchObject({ status: 'ok', service: 'coordinator' });
  });
});

describe('the public door', () => {
  // The node as main.ts describes it: port 8080, its LAN address, its DNS name.
  const door = doorLists({ port: 8080, advertiseAddress: '10.0.0.5', nodeId: 'node-a', publicHosts: ['cps.lab.example'] });
  const running = async () => {
    const cluster = fakeCluster([fakeNode('node-a', '127.0.0.1')], { door });
    const http = request(getRequestListener(cluster.app.fetch));
    const { id } = (await http.post('/api/tasks').set('host', 'cps.lab.example:8080').send({ name: 'demo' }).expect(202)).body;
    await reach(cluster.tasks, id, 'running');
    return { ...cluster, http, id };
  };

  it('answers nothing, not even a read or the portal, for a name that is not this node (DNS rebinding)', async () => {
    const { http, tasks, id } = await running();
    for (const path of ['/', '/api/tasks', `/api/tasks/${id}/serial`, '/api/events']) {
      const res = await http.get(path).set('host', 'evil.example:8080').set('origin', 'http://evil.example:8080').expect(403);
      expect(res.body.type).toBe('urn:cps:problem:host-not-allowed');
    }
    await http.delete(`/api/tasks/${id}`).set('host', 'evil.example:8080').set('origin', 'http://evil.example:8080').expect(403);
    expect(tasks.get(id)?.state).toBe('running');
  });

  it('keeps a page of another site from stopping a task or creating one', async () => {
    const { http, tasks, id } = await running();
    const del = await http.delete(`/api/tasks/${id}`).set('host', '10.0.0.5:8080').set('origin', 'http://evil.example').expect(403);
    expect(del.body.type).toBe('urn:cps:problem:cross-site-request');
    await http.delete(`/api/tasks/${id}`).set('host', '10.0.0.5:8080').set('sec-fetch-site', 'cross-site').expect(403);
    await http.post('/api/tasks').set('host', '10.0.0.5:8080').set('origin', 'http://evil.example').send({ name: 'x' }).expect(403);
    expect(tasks.get(id)?.state).toBe('running');
    expect(tasks.list()).toHaveLength(1);
  });

  it("lets the node's own page and the CLI stop a task", async () => {
    const { http, tasks, id } = await running();
    await http.delete(`/api/tasks/${id}`).set('host', 'cps.lab.example:8080').set('origin', 'http://cps.lab.example:8080').set('sec-fetch-site', 'same-origin').expect(202);
    await reach(tasks, id, 'stopped');
    await http.delete(`/api/tasks/${id}`).set('host', '10.0.0.5:8080').expect(202);
  });
});
