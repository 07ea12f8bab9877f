import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, fenceDir } from '@cps/common';
import { FenceGuard } from '@cps/head/election/fence-guard.ts';
import { provisionerClient, viaApp } from '@cps/openapi';
import { createApp } from '../src/app.ts';
import { connectLibvirt, type Hypervisor } from '../src/hypervisor.ts';

// libvirt's test driver: a real in-process hypervisor with fake guests.
let hv: Hypervisor;
let app: ReturnType<typeof createApp>;
/** The node's storage's guard: a second process on the same fence folder. */
let storage: FenceGuard;
const dataDir = mkdtempSync(join(tmpdir(), 'cps-prov-fence-'));
const made: string[] = [];
const newTask = () => {
  const id = `t-${randomBytes(4).toString('hex')}`;
  made.push(id);
  return id;
};
const spec = {
  name: 'fenced',
  vcpus: 1,
  memoryMiB: 128,
  disks: [],
  boot: { kind: 'kernel', kernel: join(dataDir, 'images/tiny/vmlinuz'), initrd: join(dataDir, 'images/tiny/initrd.img'), cmdline: 'console=ttyS0' },
};
const head = (epoch: number, node: string) => ({ 'CPS-Epoch': String(epoch), 'CPS-Head': node });
const put = (id: string, h: Record<string, string>) =>
  app.request(`/vms/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json', ...h }, body: JSON.stringify(spec) });

beforeAll(async () => {
  hv = await connectLibvirt('test:///default');
  app = createApp({
    hypervisor: hv,
    dataDir,
    accelerator: async () => 'tcg',
    share: { vcpus: 4, memoryMiB: 1024, diskMiB: 100 },
    fence: await FenceGuard.open(fenceDir(dataDir)),
    log: createLogger('provisioner-test', 'silent'),
  });
  storage = await FenceGuard.open(fenceDir(dataDir));
});

afterAll(async () => {
  for (const id of made) await hv.remove(`cps-${id}`);
  await hv.close();
});

describe('provisioner: a command of an older head changes nothing', () => {
  it('refuses destroy, suspend and create of the old head once the node has seen a newer epoch, and obeys the new one', async () => {
    const kept = newTask();
    expect((await put(kept, head(2, 'n1'))).status).toBe(201);

    // The new head shows the node's storage its epoch; the provisioner shares that fence.
    await storage.admit(3, 'n2');

    const refused = await app.request(`/vms/${kept}`, { method: 'DELETE', headers: head(2, 'n1') });
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({
      type: 'urn:cps:problem:stale-epoch',
      detail: 'epoch 2 (from n1) is older than epoch 3, the highest this host has seen',
      epoch: 2,
      highestEpoch: 3,
    });
    expect((await app.request(`/vms/${kept}/suspend`, { method: 'POST', headers: head(2, 'n1') })).status).toBe(409);
    const notMade = newTask();
    expect((await put(notMade, head(2, 'n1'))).status).toBe(409);

    // libvirt shows no change the old head asked for.
    expect((await hv.inspect(`cps-${kept}`))?.state).toBe('running');
    expect(await hv.inspect(`cps-${notMade}`)).toBeUndefined();
    expect((await (await app.request(`/vms/${kept}`)).json()).state).toBe('running');

    expect((await app.request(`/vms/${kept}/suspend`, { method: 'POST', headers: head(3, 'n2') })).status).toBe(200);
    expect((await hv.inspect(`cps-${kept}`))?.state).toBe('paused');
    expect((await app.request(`/vms/${kept}`, { method: 'DELETE', headers: head(3, 'n2') })).status).toBe(204);
    expect(await hv.inspect(`cps-${kept}`)).toBeUndefined();
  });

  it('GET /fence through the typed client shows the highest epoch and its head; POST /fence raises it', async () => {
    const client = provisionerClient(viaApp(app));
    const raised = await client.POST('/fence', { params: { header: { 'CPS-Epoch': 4, 'CPS-Head': 'n3' } } });
    expect(raised.data).toEqual({ highestEpoch: 4, head: 'n3' });
    const { data } = await client.GET('/fence');
    expect(data).toEqual({ highestEpoch: 4, head: 'n3' });
    expect(storage.highest).toBe(3); // not read yet by the other process…
    await expect(storage.admit(3, 'n2')).rejects.toMatchObject({ problemType: 'stale-epoch' }); // …and obeyed at its next command
  });
});
