import { describe, expect, it } from 'vitest';
import { fakeCluster, fakeNode } from './fakes.ts';

const request = { vcpus: 1, memoryMiB: 128, diskMiB: 16, image: `img-${'a'.repeat(24)}` };
const disks = (id: string) => ({
  disks: [{ path: `/var/lib/cps/disks/${id}/root.qcow2`, format: 'qcow2' as const, device: 'disk' as const }],
  boot: { kind: 'kernel' as const, kernel: '/img/vmlinuz', initrd: '/img/initrd.img' },
});

describe('placement: an image the chosen node fetched from a peer', () => {
  it('shows in the task history with its size, time and source', async () => {
    const b = fakeNode('node-b', '10.1.0.6', { disksAnswer: (id) => ({ ...disks(id), imagePull: { imageId: request.image, fromNode: 'node-a', sizeBytes: 3 * 1048576, ms: 1500 } }) });
    const { tasks, placer } = fakeCluster([b]);
    const { id } = tasks.create('fetched', request);
    await placer.place(id);
    const t = tasks.require(id);
    expect(t.state).toBe('running');
    const line = t.history.find((h) => h.message?.includes('fetched from'));
    expect(line).toMatchObject({ state: 'starting', message: `image ${request.image} fetched from node-a: 3.0 MiB in 1.5 s, verified by SHA-256` });
  });

  it('an image that was already there adds no line', async () => {
    const b = fakeNode('node-b', '10.1.0.6', { disksAnswer: disks });
    const { tasks, placer } = fakeCluster([b]);
    const { id } = tasks.create('present', request);
    await placer.place(id);
    expect(tasks.require(id).history.map((h) => h.message).join('\n')).not.toMatch(/fetched/);
  });
});
