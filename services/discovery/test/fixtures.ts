import type { PepAuth } from '../src/pep/codec.ts';
import type { AckNode, PepMessage, Requirements } from '../src/pep/messages.ts';

export const key: PepAuth = { kind: 'hmac', key: Buffer.from('test-cluster-key-0123456789abcdef') };
export const otherKey: PepAuth = { kind: 'hmac', key: Buffer.from('some-other-cluster-key') };
export const insecure: PepAuth = { kind: 'insecure' };

export const ports = { coordinator: 8080, discovery: 8081, provisioner: 8082, storage: 8083, vncGateway: 8084 };

export const requirements: Requirements = { vcpus: 1, memoryMiB: 256, diskMiB: 64, arch: 'x86_64', needsKvm: false, image: 'tiny' };

export const ackNode = (nodeId: string): AckNode => ({
  nodeId,
  address: '127.0.0.1',
  ports,
  uptimeSec: 12.5,
  free: { vcpus: 2, memoryMiB: 2048, diskMiB: 10_000 },
  accelerator: 'tcg',
});

const env = (sender: string, taskId: string) => ({
  sender,
  taskId,
  seq: 7,
  timestampMs: 1_790_000_000_123,
  nonce: Buffer.from('0102030405060708', 'hex'),
  flags: 0,
});

/** One valid message of every type. */
export const samples: PepMessage[] = [
  { ...env('node-a', 't-0001'), type: 'PUBLISH', body: { requirements } },
  { ...env('node-a', 't-0001'), type: 'PUBLISH', flags: 2, body: { requirements: { ...requirements, image: undefined, needsKvm: true } } },
  { ...env('node-b', 't-0001'), type: 'ACK', body: { node: ackNode('node-b') } },
  { ...env('node-a', 't-0001'), type: 'CONFIRM', body: { chosen: 'node-b', backups: [{ nodeId: 'node-c', address: '10.0.0.3' }] } },
  { ...env('node-a', 't-0001'), type: 'CONFIRM', body: { chosen: 'node-b', backups: [] } },
  { ...env('node-b', 't-0001'), type: 'REJECT', body: { to: 'node-a', reason: 'capacity gone' } },
  { ...env('node-a', 't-0001'), type: 'RELEASE', body: { to: 'node-c', reason: 'not chosen' } },
  { ...env('node-a', ''), type: 'HELLO', body: { node: { nodeId: 'node-a', address: '::1', ports, uptimeSec: 3 }, head: true, epoch: 1 } },
  { ...env('node-b', ''), type: 'HELLO', body: { node: ackNode('node-b'), head: false } },
  { ...env('node-a', ''), type: 'LEAVE', body: { nodeId: 'node-a' } },
  // Version 3: the image's digest and the deadline as time remaining.
  { ...env('node-a', 't-0002'), type: 'PUBLISH', body: { requirements: { ...requirements, imageSha256: 'ab'.repeat(32) }, ttlMs: 4800 } },
  { ...env('node-b', 't-0001'), type: 'CONFIRMED', body: { to: 'node-a' } },
  { ...env('node-b', ''), type: 'HELLO', body: { node: { ...ackNode('node-b'), load: 1.25, total: { vcpus: 4, memoryMiB: 8192, diskMiB: 100_000 } }, head: false } },
  // Version 4: the head's epoch, with the removals digest after it.
  { ...env('node-c', ''), type: 'HELLO', body: { node: ackNode('node-c'), head: true, epoch: Number.MAX_SAFE_INTEGER, removals: '0123456789abcdef' } },
];
