import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portsInUse } from '../src/up/services.ts';

let server: Server;
let taken: number;
let free: number;

beforeAll(async () => {
  server = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  taken = (server.address() as AddressInfo).port;
  const other = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => other.once('listening', r));
  free = (other.address() as AddressInfo).port;
  await new Promise((r) => other.close(r));
});
afterAll(() => void server.close());

describe('portsInUse', () => {
  it('names the service whose port already answers', async () => {
    const ports = { coordinator: free, discovery: taken, provisioner: free, storage: free, vncGateway: free };
    expect(await portsInUse(ports)).toEqual([{ svc: 'discovery', port: taken }]);
    expect(await portsInUse({ ...ports, discovery: free })).toEqual([]);
  });
});
