import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { up } from '../src/commands/up.ts';
import { memoryIo } from '../src/io.ts';
import { serviceNames } from '../src/up/services.ts';

const fake = fileURLToPath(new URL('./fixtures/fake-service.mjs', import.meta.url));
const command = (svc: string) => ({ cmd: process.execPath, args: [fake, svc] });

/** Runs `cps up` with the fake services; `stop()` plays Ctrl-C once the portal line is out. */
function start(env: Record<string, string>, base: number, extra: string[] = []) {
  const io = memoryIo({ ...env, CPS_PEP_INSECURE: '1' });
  let press: ((s: string) => void) | undefined;
  const done = up(['--ports-base', String(base), ...extra], io, { command, onStopRequest: (stop) => ((press = stop), () => (press = undefined)) });
  const text = () => io.stdout.join('\n');
  const until = async (re: RegExp) => {
    for (let i = 0; i < 400 && !re.test(text()); i++) await new Promise((r) => setTimeout(r, 25));
    return re.test(text());
  };
  return { done, text, until, ctrlC: () => press?.('SIGINT'), listening: () => press !== undefined };
}

const pidsOf = (text: string) => [...text.matchAll(/started \(pid (\d+)/g)].map((m) => Number(m[1]));
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('cps up (with fake services)', () => {
  it('waits for every service, prints the portal, streams readable logs, and stops all on Ctrl-C', async () => {
    const run = start({}, 18240);
    expect(await run.until(/portal: http:\/\/localhost:18240/)).toBe(true);
    expect(run.text()).toMatch(/^storage +│ \d\d:\d\d:\d\d\.\d{3} INFO {2}listening port=18243$/m);
    run.ctrlC();
    expect(await run.done).toBe(0);
    const out = run.text();
    for (const svc of serviceNames) expect(out).toMatch(new RegExp(`${svc} stopped \\(exit code 0\\)`));
    expect(out).toMatch(/all services stopped$/);
    expect(pidsOf(out).filter(alive)).toEqual([]);
    expect(run.listening()).toBe(false);
  });

  it('names a service that exits before it is healthy, with its last lines, and stops the rest', async () => {
    const run = start({ FAKE_STORAGE: 'crash' }, 18250);
    expect(await run.done).toBe(1);
    const out = run.text();
    expect(out).toMatch(/FAILED: storage exited \(exit code 3\) while starting; its last log lines:\nstorage +│ storage: invalid configuration: CPS_SOMETHING: required/);
    expect(out).not.toContain('portal:');
    expect(out.match(/FAILED/g)).toHaveLength(1);
    expect(out).toMatch(/all services stopped after a failure$/);
    expect(pidsOf(out).filter(alive)).toEqual([]);
  });

  it('names a service that never gets healthy within --health-timeout, and why', async () => {
    const run = start({ FAKE_PROVISIONER: 'sick' }, 18260, ['--health-timeout', '2']);
    expect(await run.done).toBe(1);
    expect(run.text()).toMatch(/FAILED: provisioner did not come up within 2 s \(HTTP 503: libvirt does not answer\)/);
  });

  it('says loudly when a service dies while running, stops the others, exits 1', async () => {
    const run = start({}, 18270);
    expect(await run.until(/portal: http:\/\/localhost:18270/)).toBe(true);
    const discovery = Number(/discovery started \(pid (\d+)/.exec(run.text())![1]);
    process.kill(discovery, 'SIGKILL');
    expect(await run.done).toBe(1);
    const out = run.text();
    expect(out).toMatch(/!!! discovery DIED \(killed by SIGKILL\) while running; stopping the others !!!/);
    expect(out).toMatch(/coordinator stopped \(exit code 0\)/);
    expect(pidsOf(out).filter(alive)).toEqual([]);
  });

  it('SIGKILLs a service that ignores SIGTERM after the grace period', async () => {
    const run = start({ FAKE_VNC_GATEWAY: 'stubborn' }, 18280);
    expect(await run.until(/portal:/)).toBe(true);
    run.ctrlC();
    expect(await run.done).toBe(0);
    expect(run.text()).toMatch(/vnc-gateway did not stop within 5 s: SIGKILL/);
    expect(run.text()).toMatch(/vnc-gateway stopped \(killed by SIGKILL\)/);
  });

  it('refuses to start when a port already answers', async () => {
    const first = start({}, 18290);
    expect(await first.until(/portal:/)).toBe(true);
    const io = memoryIo({ CPS_PEP_INSECURE: '1' });
    expect(await up(['--ports-base', '18290'], io, { command, onStopRequest: () => () => {} })).toBe(1);
    expect(io.stdout.join('\n')).toMatch(/FAILED: port 18290 \(coordinator\) is already in use/);
    first.ctrlC();
    expect(await first.done).toBe(0);
  });
});
