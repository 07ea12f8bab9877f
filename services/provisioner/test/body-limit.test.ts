import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '@cps/common';
import { createApp } from '../src/app.ts';
import { connectLibvirt, type Hypervisor } from '../src/hypervisor.ts';

// The case: a chunked 50 MB PUT /vms was parsed whole. Now it is cut off at the limit.
let hv: Hypervisor;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  hv = await connectLibvirt('test:///default');
  app = createApp({
    hypervisor: hv,
    dataDir: mkdtempSync(join(tmpdir(), 'cps-prov-limit-')),
    accelerator: async () => 'tcg',
    share: { vcpus: 3, memoryMiB: 1024, diskMiB: 100 },
    log: createLogger('provisioner-test', 'silent'),
  });
});
afterAll(async () => {
  await hv.close();
});

describe('PUT /vms body limit', () => {
  it('answers a chunked 50 MB body 413 payload-too-large after reading little more than the limit', async () => {
    const chunk = 64 * 1024;
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled >= 50 << 20) return controller.close();
        pulled += chunk;
        controller.enqueue(new Uint8Array(chunk).fill(0x20));
      },
    });
    const res = await app.request('/vms/t-0000abcd', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toBe('application/problem+json');
    expect((await res.json()).type).toBe('urn:cps:problem:payload-too-large');
    expect(pulled).toBeLessThanOrEqual(4 * chunk);
    expect(await hv.inspect('cps-t-0000abcd')).toBeUndefined();
  });
});
