import { describe, expect, it } from 'vitest';
import type { Vm } from '../src/vms.ts';
import { vmFor } from '../src/vncSecret.ts';

const vm = { taskId: 't-1', domain: 'cps-t-1', name: 'x', state: 'running', vcpus: 1, memoryMiB: 128, accelerator: 'tcg', console: { vnc: { host: '127.0.0.1', port: 5900, password: 'sEcr3t!x' }, serialSocket: '/var/lib/cps/serial/t-1.sock' } } as Vm;

describe("a guest's VNC password stays on its node", () => {
  it("this node's own services (its certificate) see it", () => {
    expect(vmFor({ kind: 'member', nodeId: 'node-a' }, 'node-a')(vm).console.vnc.password).toBe('sEcr3t!x');
    expect(vmFor({ kind: 'member', nodeId: 'node-a' }, 'node-a')(vm).console.serialSocket).toBe('/var/lib/cps/serial/t-1.sock');
  });
  it('a member on another node gets the guest without it', () => {
    const shown = vmFor({ kind: 'member', nodeId: 'node-b' }, 'node-a')(vm);
    expect(shown.console.vnc).toEqual({ host: '127.0.0.1', port: 5900 });
    expect(JSON.stringify(shown)).not.toContain('sEcr3t!x');
    expect(shown.console).toEqual({ vnc: { host: '127.0.0.1', port: 5900 } }); // nor the serial socket
    expect(vm.console.vnc.password).toBe('sEcr3t!x'); // the original is not changed
  });
  it('a stranger (a public route, were one to return a guest) gets none either', () => {
    expect(vmFor({ kind: 'stranger' }, 'node-a')(vm).console.vnc.password).toBeUndefined();
    expect(vmFor({ kind: 'stranger' }, 'node-a')(vm).console.serialSocket).toBeUndefined();
  });
});
