import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { QemuProcesses } from '../src/qemuProcess.ts';

// A fake /run/libvirt/qemu and /proc.
function host() {
  const root = mkdtempSync(join(tmpdir(), 'cps-qemu-proc-'));
  const run = join(root, 'run');
  const proc = join(root, 'proc');
  mkdirSync(run);
  mkdirSync(proc);
  return {
    processes: new QemuProcesses(run, proc),
    pidFile: (domain: string, text: string) => writeFileSync(join(run, `${domain}.pid`), text),
    process: (pid: number, comm: string, state = 'S') => {
      mkdirSync(join(proc, String(pid)), { recursive: true });
      writeFileSync(join(proc, String(pid), 'comm'), `${comm}\n`);
      writeFileSync(join(proc, String(pid), 'stat'), `${pid} (${comm}) ${state} 1 2 3 4`);
    },
    exit: (pid: number) => rmSync(join(proc, String(pid)), { recursive: true }),
  };
}

describe('QemuProcesses', () => {
  it('knows a QEMU is alive, then dead once its process is gone', () => {
    const h = host();
    h.pidFile('cps-a', '4242\n');
    h.process(4242, 'qemu-system-x86');
    expect(h.processes.check('cps-a')).toBe('alive');
    expect(h.processes.check('cps-a')).toBe('alive');
    h.exit(4242);
    expect(h.processes.check('cps-a')).toBe('dead');
  });

  it('counts a zombie as dead, and reads the state past a command name with ") "', () => {
    const h = host();
    h.pidFile('cps-a', '7');
    h.process(7, 'qemu) S (x');
    expect(h.processes.check('cps-a')).toBe('alive');
    h.process(7, 'qemu) S (x', 'Z');
    expect(h.processes.check('cps-a')).toBe('dead');
  });

  it.each([
    ['no pid file', undefined, undefined],
    ['a pid file of garbage', '12; rm -rf /', undefined],
    ['an empty pid file', '', undefined],
    ['a pid of another program (a container sees another pid namespace)', '99', 'bash'],
    ['a pid with no process', '98', undefined],
  ])('says unknown for %s, never dead', (_, text, comm) => {
    const h = host();
    if (text !== undefined) h.pidFile('cps-a', text);
    if (comm) h.process(99, comm);
    expect(h.processes.check('cps-a')).toBe('unknown');
    expect(h.processes.check('cps-a')).toBe('unknown');
  });

  it('follows the guest into a new QEMU (a restore) named by the pid file', () => {
    const h = host();
    h.pidFile('cps-a', '20');
    h.process(20, 'qemu-system-x86');
    expect(h.processes.check('cps-a')).toBe('alive');
    h.exit(20);
    expect(h.processes.check('cps-a')).toBe('dead');
    h.pidFile('cps-a', '21');
    h.process(21, 'qemu-system-x86');
    expect(h.processes.check('cps-a')).toBe('alive');
    h.exit(21);
    expect(h.processes.check('cps-a')).toBe('dead');
  });

  it('looks a domain up afresh after it was forgotten (a new guest of the same name)', () => {
    const h = host();
    h.pidFile('cps-a', '10');
    h.process(10, 'qemu-system-x86');
    expect(h.processes.check('cps-a')).toBe('alive');
    h.exit(10);
    h.processes.keepOnly([]);
    h.pidFile('cps-a', '11');
    h.process(11, 'qemu-system-x86');
    expect(h.processes.check('cps-a')).toBe('alive');
  });
});
