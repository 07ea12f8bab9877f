import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@cps/common';
import { createApp } from '../src/app.ts';
import type { GuestNetwork } from '../src/domainXml.ts';
import { connectLibvirt, type Hypervisor } from '../src/hypervisor.ts';
import { specDigest, type VmSpec } from '../src/vms.ts';

// The guest's network through the API, on libvirt's test driver: the default, the spec's own
// choice, and the idempotent PUT that must treat "omitted" as "the default".
let hv: Hypervisor;
const dataDir = mkdtempSync(join(tmpdir(), 'cps-prov-net-'));
const made = new Set<string>();
const newTask = () => {
  const id = `t-${randomBytes(4).toString('hex')}`;
  made.add(id);
  return id;
};
const appWith = (guestNetwork?: GuestNetwork) =>
  createApp({
    hypervisor: hv,
    dataDir,
    accelerator: async () => 'tcg',
    share: { vcpus: 8, memoryMiB: 4096, diskMiB: 100 },
    log: createLogger('provisioner-test', 'silent'),
    ...(guestNetwork ? { guestNetwork } : {}),
  });

const spec = (over: Record<string, unknown> = {}) => ({
  name: 'net',
  vcpus: 1,
  memoryMiB: 64,
  disks: [],
  boot: { kind: 'kernel', kernel: join(dataDir, 'images/tiny/vmlinuz'), initrd: join(dataDir, 'images/tiny/initrd.img') },
  ...over,
});
const put = (app: ReturnType<typeof createApp>, taskId: string, body: unknown) =>
  app.request(`/vms/${taskId}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', isArray: (n) => n === 'interface' });
async function interfaces(taskId: string): Promise<Record<string, unknown>[]> {
  const status = await hv.inspect(`cps-${taskId}`);
  if (!status) throw new Error(`no domain for ${taskId}`);
  return parser.parse(status.xml).domain.devices.interface ?? [];
}

beforeAll(async () => {
  hv = await connectLibvirt('test:///default');
});
afterEach(async () => {
  for (const id of made) await hv.remove(`cps-${id}`);
  made.clear();
});
afterAll(async () => {
  await hv.close();
});

describe('guest network', () => {
  it('gives a guest user-mode NAT by default: one virtio NIC of type user, no bridge', async () => {
    const app = appWith();
    const id = newTask();
    expect((await put(app, id, spec())).status).toBe(201);
    const nics = await interfaces(id);
    expect(nics).toHaveLength(1);
    expect(nics[0]).toMatchObject({ '@type': 'user', model: { '@type': 'virtio' } });
    expect(nics[0]).not.toHaveProperty('source');
  });

  it('gives a guest no NIC at all with network none', async () => {
    const id = newTask();
    expect((await put(appWith(), id, spec({ network: 'none' }))).status).toBe(201);
    expect(await interfaces(id)).toEqual([]);
    expect((await hv.inspect(`cps-${id}`))!.xml).not.toContain('<interface');
  });

  it('takes the default from the provisioner (CPS_GUEST_NETWORK), and the spec over it', async () => {
    const app = appWith('none');
    const a = newTask();
    expect((await put(app, a, spec())).status).toBe(201);
    expect(await interfaces(a)).toEqual([]);
    const b = newTask();
    expect((await put(app, b, spec({ network: 'user' }))).status).toBe(201);
    expect(await interfaces(b)).toHaveLength(1);
  });

  it.each([
    ['user', undefined, 'user'],
    ['user', 'user', undefined],
    ['none', undefined, 'none'],
    ['none', 'none', undefined],
  ] as const)('with default %s, a PUT naming %s and one naming %s are the same spec (200)', async (def, first, second) => {
    const app = appWith(def);
    const id = newTask();
    expect((await put(app, id, spec(first ? { network: first } : {}))).status).toBe(201);
    const again = await put(app, id, spec(second ? { network: second } : {}));
    expect(again.status).toBe(200);
  });

  it.each([
    ['user', undefined, 'none'],
    ['user', 'none', undefined],
    ['none', undefined, 'user'],
    ['none', 'user', undefined],
  ] as const)('with default %s, a PUT naming %s and one naming %s differ (409)', async (def, first, second) => {
    const app = appWith(def);
    const id = newTask();
    expect((await put(app, id, spec(first ? { network: first } : {}))).status).toBe(201);
    const r = await put(app, id, spec(second ? { network: second } : {}));
    expect(r.status).toBe(409);
    expect((await r.json()).type).toBe('urn:cps:problem:conflict');
  });

  it('compares against the default the guest was made with: a changed default is a different spec', async () => {
    const id = newTask();
    expect((await put(appWith('user'), id, spec())).status).toBe(201);
    expect((await put(appWith('none'), id, spec())).status).toBe(409);
  });

  it('digests network none as no field, so guests made before networks were in the API still match', () => {
    const s = spec() as VmSpec;
    expect(specDigest({ ...s, network: 'none' })).toBe(specDigest(s));
    expect(specDigest({ ...s, network: 'user' })).not.toBe(specDigest(s));
  });

  it.each([
    ['an unknown kind', 'bridge'],
    ['a libvirt network name', 'default'],
    ['upper case', 'USER'],
    ['empty', ''],
    ['markup', `user'/><interface type='bridge'>`],
    ['a number', 1],
    ['null', null],
    ['an object', { type: 'user' }],
    ['an array', ['user']],
  ])('rejects a network that is %s (400 validation-failed), and makes no guest', async (_, network) => {
    const id = newTask();
    const r = await put(appWith(), id, spec({ network }));
    expect(r.status).toBe(400);
    expect((await r.json()).type).toBe('urn:cps:problem:validation-failed');
    expect(await hv.inspect(`cps-${id}`)).toBeUndefined();
  });
});
