export * from './lease-store.ts';
export * from './dns/wire.ts';
export * from './dns/message.ts';
export * from './dns/tsig.ts';
export * from './dns/transport.ts';
export * from './dns/client.ts';
export * from './dns/lease-record.ts';
export * from './dns/dns-lease-store.ts';
