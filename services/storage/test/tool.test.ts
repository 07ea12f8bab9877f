import { describe, expect, it } from 'vitest';
import { KeyedLock } from '../src/keyed-lock.ts';
import { runTool } from '../src/tool.ts';

describe('runTool', () => {
  it('passes arguments literally, never through a shell', async () => {
    const hostile = '$(touch /tmp/cps-storage-pwned); `id`; ../../etc/passwd';
    const { stdout } = await runTool('echo', [hostile]);
    expect(stdout).toBe(`${hostile}\n`);
  });

  it('turns a non-zero exit into tool-failed carrying stderr', async () => {
    const err = await runTool('sh', ['-c', 'echo "disk is on fire" >&2; exit 3']).catch((e: unknown) => e);
    expect(err).toMatchObject({ problemType: 'tool-failed', message: 'sh -c exited with status 3: disk is on fire' });
  });

  it('names a missing program', async () => {
    await expect(runTool('/nonexistent/qemu-img', ['create'])).rejects.toMatchObject({
      problemType: 'tool-failed',
      message: '/nonexistent/qemu-img is not installed (or not on PATH)',
    });
  });

  it('kills a tool that outlives its timeout', async () => {
    await expect(runTool('sleep', ['30'], { timeoutMs: 200 })).rejects.toMatchObject({
      problemType: 'tool-failed',
      message: 'sleep 30 did not finish within 200 ms',
    });
  });
});

describe('KeyedLock', () => {
  it('runs work for one key in order, other keys alongside, and forgets idle keys', async () => {
    const lock = new KeyedLock();
    const log: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const a1 = lock.run('a', async () => {
      await gate;
      log.push('a1');
    });
    const a2 = lock.run('a', async () => {
      log.push('a2');
    });
    await lock.run('b', async () => {
      log.push('b');
    });
    expect(log).toEqual(['b']);
    release();
    await Promise.all([a1, a2]);
    expect(log).toEqual(['b', 'a1', 'a2']);
    await new Promise((r) => setImmediate(r));
    expect(lock.size).toBe(0);
  });

  it('keeps going after a failure', async () => {
    const lock = new KeyedLock();
    const failed = lock.run('a', async () => {
      throw new Error('boom');
    });
    const next = lock.run('a', async () => 'ok');
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('ok');
  });
});
