import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { loadConfig, portsFrom, portsSchema } from '../src/index.ts';

describe('loadConfig', () => {
  it('gives the one-node defaults', () => {
    expect(portsFrom(loadConfig(portsSchema, {}))).toEqual({
      coordinator: 8080, discovery: 8081, provisioner: 8082, storage: 8083, vncGateway: 8084,
    });
  });

  it('names the bad variable', () => {
    expect(() => loadConfig(portsSchema, { CPS_STORAGE_PORT: 'eighty' })).toThrow(/CPS_STORAGE_PORT/);
    expect(() => loadConfig(z.object({ A: z.string().min(3) }), { A: 'x' })).toThrow(/A:/);
  });
});
