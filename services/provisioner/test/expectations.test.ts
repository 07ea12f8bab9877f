import { describe, expect, it } from 'vitest';
import { Expectations } from '../src/expectations.ts';

describe('Expectations.whileStarting', () => {
  it('marks the guest starting while the start runs, and running once it did', async () => {
    const e = new Expectations();
    let during: string | undefined;
    await e.whileStarting('t-1', async () => {
      during = e.get('t-1');
    });
    expect(during).toBe('starting');
    expect(e.get('t-1')).toBe('running');
  });

  it('puts back the mark from before when the start failed (or none, if there was none)', async () => {
    const e = new Expectations();
    e.mark('t-1', 'gone');
    const fail = () => Promise.reject(new Error('libvirt said no'));
    await expect(e.whileStarting('t-1', fail)).rejects.toThrow('libvirt said no');
    expect(e.get('t-1')).toBe('gone');
    await expect(e.whileStarting('t-2', fail)).rejects.toThrow();
    expect(e.get('t-2')).toBeUndefined();
  });
});
