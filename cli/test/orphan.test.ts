import { getRequestListener } from '@hono/node-server';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '@cps/common';
import { discoveryClient, provisionerClient, storageClient, viaApp } from '@cps/openapi';
import { afterEach, describe, expect, it } from 'vitest';
import { createApp } from '../../services/coordinator/src/app.ts';
import { Accounts } from '../../services/coordinator/src/accounts/accounts.ts';
import { MemoryAccountStore } from '../../services/coordinator/src/accounts/memory-store.ts';
import { Placer } from '../../services/coordinator/src/placement.ts';
import { Orphans } from '../../services/coordinator/src/reconcile/orphans.ts';
import { Tasks } from '../../services/coordinator/src/tasks/tasks.ts';
import { fakeDiscovery, fakeNode, fastPolling } from '../../services/coordinator/test/fakes.ts';
import { memoryIo } from '../src/io.ts';
import { run } from '../src/main.ts';

// cps orphan against the real coordinator app (accounts, the orphan routes), over a socket.
let server: Server | undefined;
let home: string | undefined;
afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  if (home) rmSync(home, { recursive: true, force: true });
});

async function coordinatorWithOrphan() {
  const log = createLogger('cli-orphan-test', 'silent');
  const node = fakeNode('node-a', '127.0.0.1');
  node.vms.set('t-orphan1', 0);
  node.disks.add('t-orphan1');
  const tasks = new Tasks();
  const clientsFor = () => ({ storage: storageClient(viaApp(node.storage)), provisioner: provisionerClient(viaApp(node.provisioner)) });
  const placer = new Placer({ tasks, discovery: discoveryClient(viaApp(fakeDiscovery([node]).app)), clientsFor, log, ...fastPolling });
  const orphans = new Orphans(() => new Date('2026-12-02T10:00:00Z'));
  orphans.foundOn(node.info, [{ taskId: 't-orphan1', domain: 'cps-t-orphan1', name: 'left behind', state: 'running', vcpus: 1, memoryMiB: 256, accelerator: 'tcg', console: { vnc: { host: '127.0.0.1', port: 5900 } } }]);
  const accounts = new Accounts({ store: new MemoryAccountStore(), now: () => new Date() });
  const admin = (await accounts.ensureFirstAdmin())!.user;
  await accounts.createUser({ name: 'alice', password: 'alice-password-1' });
  const tokens = { admin: (await accounts.createToken(admin.id, 't')).value, alice: (await accounts.createToken((accounts.byName('alice'))!.id, 't')).value };
  const app = createApp({ log, tasks, placer, localStorage: storageClient(viaApp(node.storage)), clientsFor, accounts, orphans });
  server = createServer((req, res) => void getRequestListener(app.fetch)(req, res));
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  home = mkdtempSync(join(tmpdir(), 'cps-orphan-'));
  const cps = async (who: keyof typeof tokens, argv: string[]) => {
    const io = memoryIo({ HOME: home!, CPS_TOKEN: tokens[who] });
    const code = await run([...argv, '--url', url], io);
    return { code, out: io.stdout.join('\n'), err: io.stderr.join('\n') };
  };
  return { cps, node, tasks, orphans };
}

describe('cps orphan', () => {
  it('lists the orphans to an admin, and refuses a user', async () => {
    const { cps } = await coordinatorWithOrphan();
    const list = await cps('admin', ['orphan', 'list']);
    expect(list).toMatchObject({ code: 0, err: '' });
    expect(list.out.split('\n')).toEqual(['ID         NODE    NAME         STATE    SINCE', 't-orphan1  node-a  left behind  running  2026-12-02T10:00:00.000Z']);
    expect(JSON.parse((await cps('admin', ['orphan', 'list', '--json'])).out)[0]).toMatchObject({ taskId: 't-orphan1', node: { nodeId: 'node-a' } });
    const refused = await cps('alice', ['orphan', 'list']);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/alice is not an admin/);
  });

  it('adopts one for a named user', async () => {
    const { cps, tasks } = await coordinatorWithOrphan();
    const r = await cps('admin', ['orphan', 'adopt', 't-orphan1', '--owner', 'alice']);
    expect(r).toMatchObject({ code: 0, err: '' });
    // The name is the host's (read again at adoption), not the list's.
    expect(r.out).toBe('adopted t-orphan1 (t-orphan1), running on node-a, owned by alice; stop it with cps task stop t-orphan1');
    expect(tasks.require('t-orphan1').owner?.name).toBe('alice');
    expect((await cps('admin', ['orphan', 'list'])).out).toBe('No orphans');
  });

  it('stops one: its guest and disks go', async () => {
    const { cps, node } = await coordinatorWithOrphan();
    const r = await cps('admin', ['orphan', 'stop', 't-orphan1']);
    expect(r).toMatchObject({ code: 0, out: 'orphan t-orphan1 destroyed, its disks discarded' });
    expect(node.vms.has('t-orphan1')).toBe(false);
    expect(node.disks.has('t-orphan1')).toBe(false);
  });

  it('says what is wrong with its arguments', async () => {
    const { cps } = await coordinatorWithOrphan();
    for (const argv of [['orphan', 'adopt'], ['orphan', 'stop', 'BAD ID'], ['orphan', 'frobnicate']]) {
      const r = await cps('admin', argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toMatch(/orphan/);
    }
    const gone = await cps('admin', ['orphan', 'stop', 't-nothing']);
    expect(gone.code).toBe(1);
    expect(gone.err).toMatch(/no orphan guest t-nothing/);
  });
});
