// Submit → the guest's first serial line, through the provisioner's API (PUT /vms, in this process,
// on the machine's libvirt with real QEMU), against a bare `virsh create` of the very domain XML the
// provisioner made. The task's disk is made beforehand for both (storage is not in this figure).
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createLogger } from '@cps/common';
import { until, type BenchContext } from '../lib/context.ts';
import { notMeasured, ratioVerdict, type CaseResult } from '../lib/result.ts';
import { median } from '../lib/stats.ts';
import { makeDataDir } from '../../tests/helpers/hosts-data.ts';
import { accelReader } from '../../services/provisioner/src/accel.ts';
import { createApp } from '../../services/provisioner/src/app.ts';
import { connectLibvirt, type Hypervisor } from '../../services/provisioner/src/hypervisor.ts';
import { probeMemoryCapMode } from '../../services/provisioner/src/memoryCap.ts';

const run = promisify(execFile);
const uri = process.env.CPS_LIBVIRT_URI ?? 'qemu:///system';
const title = 'submit → first serial line (provisioner API) vs bare virsh create';

const firstLine = (file: string) => () => existsSync(file) && readFileSync(file, 'utf8').includes('\n');

export async function submitCases(ctx: BenchContext): Promise<CaseResult[]> {
  const tiny = join(ctx.sourceDataDir, 'images', 'tiny');
  if (!existsSync(join(tiny, 'vmlinuz'))) return [notMeasured('submit-serial', title, `the tiny image in ${tiny} (scripts/build-tiny-image.sh)`, '≤ 1.25x')];
  // A data dir of the bench's own; libvirt's QEMU must traverse to it.
  const dataDir = join(ctx.tmp, 'submit');
  mkdirSync(dataDir, { recursive: true });
  chmodSync(ctx.tmp, 0o755);
  chmodSync(dataDir, 0o755);
  makeDataDir(dataDir, ctx.sourceDataDir);
  const meta = JSON.parse(readFileSync(join(dataDir, 'images', 'tiny', 'image.json'), 'utf8')) as { cmdline: string };
  const log = createLogger('provisioner', 'warn');
  const hv = await connectLibvirt(uri);
  let lastXml = '';
  const seen: Hypervisor = new Proxy(hv, {
    get: (t, k) => (k === 'create' ? (xml: string) => ((lastXml = xml), t.create(xml)) : Reflect.get(t, k, t)),
  });
  const app = createApp({ hypervisor: seen, dataDir, accelerator: accelReader(dataDir, log), memoryCap: probeMemoryCapMode(), log });
  const made: string[] = [];
  const ours: number[] = [];
  const ref: number[] = [];
  const timeoutMs = 120_000;
  // Full runs boot one pair untimed first (a cold QEMU and page cache would favour whoever goes second).
  const warm = ctx.quick ? 0 : 1;
  try {
    for (let r = 0; r < ctx.rounds + warm; r++) {
      const taskId = `t-bench${(process.pid * 100 + r).toString(16)}`;
      const disk = join(dataDir, 'disks', taskId, 'root.qcow2');
      mkdirSync(join(dataDir, 'disks', taskId), { recursive: true });
      await run('qemu-img', ['create', '-q', '-f', 'qcow2', disk, '64M']);
      const spec = {
        name: 'bench',
        vcpus: 1,
        memoryMiB: 256,
        disks: [{ path: disk, format: 'qcow2', device: 'disk' }],
        boot: { kind: 'kernel', kernel: join(dataDir, 'images', 'tiny', 'vmlinuz'), initrd: join(dataDir, 'images', 'tiny', 'initrd.img'), cmdline: meta.cmdline },
      };
      const viaApi = async () => {
        made.push(`cps-${taskId}`);
        const t = ctx.now();
        const res = await app.request(`/vms/${taskId}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(spec) });
        if (res.status !== 201) throw new Error(`PUT /vms answered ${res.status}: ${await res.text()}`);
        await until(ctx, 'the guest\'s first serial line', firstLine(join(dataDir, 'logs', `${taskId}.serial`)), timeoutMs);
        ours.push(ctx.now() - t);
        await hv.remove(`cps-${taskId}`);
      };
      const byHand = async () => {
        if (!lastXml) return; // the first round's API run gives the XML
        const name = `bench-ref-${taskId}`;
        const serial = join(dataDir, 'logs', `ref-${taskId}.serial`);
        const xml = lastXml
          .replace(/<name>[^<]*<\/name>/, `<name>${name}</name>`)
          .replace(/<uuid>[^<]*<\/uuid>/, '')
          .replace(/[^'"<>]*\.serial/g, serial)
          .replace(new RegExp(`cps-${taskId}`, 'g'), name);
        const file = join(ctx.tmp, `${name}.xml`);
        writeFileSync(file, xml, { mode: 0o600 });
        made.push(name);
        const t = ctx.now();
        await run('virsh', ['-c', uri, 'create', file], { timeout: 60_000 });
        await until(ctx, 'the bare guest\'s first serial line', firstLine(serial), timeoutMs);
        ref.push(ctx.now() - t);
        rmSync(file, { force: true });
        await hv.remove(name);
      };
      // The first round has to go through the API first (the XML comes from it); later ones alternate.
      const steps = r % 2 === 0 ? [viaApi, byHand] : [byHand, viaApi];
      for (const step of steps) await step();
      if (r === 0 && ref.length === 0) await byHand();
      if (r < warm) {
        ours.pop();
        ref.pop();
        continue;
      }
      ctx.log(`  submit round ${r + 1 - warm}: API ${Math.round(ours.at(-1)!)} ms, virsh create ${Math.round(ref.at(-1)!)} ms`);
    }
  } finally {
    for (const name of made) await hv.remove(name).catch(() => undefined);
    await hv.close();
  }
  const o = median(ours);
  const b = median(ref);
  return [
    {
      id: 'submit-serial',
      title,
      ratio: o / b,
      goal: '≤ 1.25x',
      goalRatio: { limit: 1.25, better: 'lower' },
      verdict: ratioVerdict(o / b, 1.25, 'lower'),
      ours: { what: 'PUT /vms → first line on ttyS0', value: o, unit: 'ms' },
      reference: { what: 'virsh create → first line', value: b, unit: 'ms' },
      rounds: ctx.rounds,
      notes: [`${ctx.machine.accelerator.toUpperCase()} guest (tiny, 256 MiB, 1 vCPU) on ${uri}; the provisioner's app in this process, not a whole node (no PEP, no storage)`],
    },
  ];
}
