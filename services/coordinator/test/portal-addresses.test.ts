import { afterEach, describe, expect, it, vi } from 'vitest';
// @ts-expect-error the portal's browser modules are plain JS without types
import { addressLine, askAddresses, keepAddresses } from '../src/portal/modules/addresses.js';

const ADDR = { interface: 'enp1s0', family: 'ipv4', address: '10.0.2.15', prefix: 24 };
const running = (id: string, extra: object = {}) => ({ id, state: 'running', history: [], ...extra });

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('the portal\'s guest addresses', () => {
  it('shows them as one line, and nothing for a task without', () => {
    expect(addressLine(running('t-1', { addresses: [ADDR, { ...ADDR, family: 'ipv6', address: 'fec0::1', prefix: 64 }] }))).toBe('10.0.2.15/24, fec0::1/64');
    expect(addressLine(running('t-1'))).toBe('');
    expect(addressLine(running('t-1', { addresses: 'x' }))).toBe('');
  });

  it('keeps the addresses of a running task over a newer copy without them, not over a stop', () => {
    const old = running('t-1', { addresses: [ADDR] });
    expect(keepAddresses(running('t-1'), old).addresses).toEqual([ADDR]);
    expect(keepAddresses({ id: 't-1', state: 'stopping' }, old).addresses).toBeUndefined();
  });

  it('asks for a running task without addresses, then again later while it has none; not for others', async () => {
    vi.useFakeTimers();
    let answer: object = running('t-1');
    const fetch = vi.fn(async () => Response.json(answer));
    vi.stubGlobal('fetch', fetch);
    const found = vi.fn();
    const rows = new Map<string, object>([['t-1', running('t-1')]]);
    askAddresses(running('t-1'), found, (id: string) => rows.get(id));
    askAddresses(running('t-1'), found, (id: string) => rows.get(id)); // within 20 s: not asked again
    askAddresses({ id: 't-2', state: 'placing' }, found, () => undefined);
    askAddresses(running('t-3', { addresses: [ADDR] }), found, () => undefined);
    await vi.advanceTimersByTimeAsync(0);
    expect(fetch).toHaveBeenCalledTimes(1);
    expect(found).not.toHaveBeenCalled();
    answer = running('t-1', { addresses: [ADDR] });
    await vi.advanceTimersByTimeAsync(20_000);
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(found).toHaveBeenCalledWith(answer);
    // Found: no more asking.
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fetch).toHaveBeenCalledTimes(2);
  });
});
