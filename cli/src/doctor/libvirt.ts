import type { Check } from './types.ts';
import { whyFailed } from './types.ts';

const uri = (env: NodeJS.ProcessEnv) => env.CPS_LIBVIRT_URI ?? 'qemu:///system';
const timeoutMs = 10_000;
const startHint = 'start the daemons: mkdir -p /var/log/libvirt /run/libvirt && virtlogd -d && libvirtd -d';

export const checkVirsh: Check = async (d) => {
  const r = await d.run('virsh', ['-c', uri(d.env), 'version'], { timeoutMs });
  if (r.code === 0) {
    const hv = /Running hypervisor:\s*(.+)/.exec(r.stdout)?.[1]?.trim();
    return { name: 'libvirt', status: 'ok', detail: `${uri(d.env)} answers${hv ? ` (${hv})` : ''}` };
  }
  if (r.error?.includes('not found')) return { name: 'libvirt', status: 'FAIL', detail: 'virsh is not installed', hint: 'apt-get install libvirt-clients libvirt-daemon-system' };
  return { name: 'libvirt', status: 'FAIL', detail: `${uri(d.env)} does not answer: ${whyFailed(r, timeoutMs)}`, hint: startHint };
};

/** The services talk to libvirt through the native binding, which can fail where virsh works (a stale build). */
export const checkLibvirtBinding: Check = async (d) => {
  const name = 'libvirt-node';
  if (!d.libvirtBinding) return { name, status: 'warn', detail: 'not checked' };
  let timer: NodeJS.Timeout | undefined;
  try {
    const version = await Promise.race([
      d.libvirtBinding(uri(d.env)),
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs))),
    ]);
    return { name, status: 'ok', detail: `@unraid/libvirt connects to ${uri(d.env)} (${version})` };
  } catch (err) {
    return {
      name,
      status: 'FAIL',
      detail: `@unraid/libvirt cannot connect to ${uri(d.env)}: ${(err as Error).message.split('\n')[0]}`,
      hint: 'if virsh works, rebuild the binding: npm rebuild @unraid/libvirt (needs libvirt-dev)',
    };
  } finally {
    clearTimeout(timer);
  }
};

/** Without virtlogd every domain start waits ~50 s and then fails, so it gets its own line. */
export const checkVirtlogd: Check = async (d) => {
  if (await d.exists('/run/libvirt/virtlogd-sock')) return { name: 'virtlogd', status: 'ok', detail: 'virtlogd socket present' };
  const r = await d.run('pgrep', ['-x', 'virtlogd'], { timeoutMs: 5_000 });
  if (r.code === 0) return { name: 'virtlogd', status: 'ok', detail: `virtlogd running (pid ${r.stdout.trim().split('\n').join(', ')})` };
  return { name: 'virtlogd', status: 'FAIL', detail: 'virtlogd is not running: guests will fail to start', hint: 'virtlogd -d' };
};
