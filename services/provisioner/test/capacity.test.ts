import { describe, expect, it } from 'vitest';
import { ProblemError } from '@cps/common';
import { admit, freeOf, lendable } from '../src/capacity.ts';

const node = (cpus: number, memoryMiB: number) => ({ cpus, memoryKiB: memoryMiB * 1024, arch: 'x86_64' });

describe('lendable', () => {
  it.each([
    // cpus, memMiB, diskAvail, share, expected
    [2, 24576, 10000, {}, { vcpus: 1, memoryMiB: 23552, diskMiB: 9000 }],
    [1, 1024, 1000, {}, { vcpus: 1, memoryMiB: 512, diskMiB: 900 }],
    [8, 2048, 0, {}, { vcpus: 7, memoryMiB: 1024, diskMiB: 0 }],
    [8, 4096, 100, { vcpus: 2, memoryMiB: 512, diskMiB: 50 }, { vcpus: 2, memoryMiB: 512, diskMiB: 50 }],
    [8, 4096, 100, { vcpus: 0 }, { vcpus: 0, memoryMiB: 3072, diskMiB: 90 }],
  ])('%i cpus, %i MiB, %i MiB disk, share %j', (cpus, mem, disk, share, want) => {
    expect(lendable(node(cpus, mem), disk, share)).toEqual(want);
  });
});

describe('freeOf', () => {
  it('subtracts what guests hold and never goes below zero', () => {
    const total = { vcpus: 2, memoryMiB: 1000, diskMiB: 5000 };
    expect(freeOf(total, { vcpus: 1, memoryMiB: 256 }, 10000)).toEqual({ vcpus: 1, memoryMiB: 744, diskMiB: 5000 });
    expect(freeOf(total, { vcpus: 4, memoryMiB: 4096 }, 1000)).toEqual({ vcpus: 0, memoryMiB: 0, diskMiB: 900 });
  });
});

describe('admit', () => {
  const free = { vcpus: 1, memoryMiB: 512, diskMiB: 100 };
  it('admits what fits, exactly too', () => {
    expect(() => admit({ vcpus: 1, memoryMiB: 512 }, free)).not.toThrow();
  });
  it('names every resource that is short', () => {
    try {
      admit({ vcpus: 2, memoryMiB: 1024 }, free);
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ProblemError);
      expect((e as ProblemError).problemType).toBe('insufficient-capacity');
      expect((e as Error).message).toMatch(/vcpus: want 2, free 1/);
      expect((e as Error).message).toMatch(/memoryMiB: want 1024, free 512/);
      expect((e as ProblemError).extensions.short).toEqual(['vcpus', 'memoryMiB']);
    }
  });
  it('names only the short one', () => {
    expect(() => admit({ vcpus: 1, memoryMiB: 513 }, free)).toThrow(/^not enough free capacity on this peer \(memoryMiB: want 513, free 512\)$/);
  });
});
