export * from './problem.ts';
export * from './logger.ts';
export * from './config.ts';
export * from './contract.ts';
export * from './serve.ts';
export * from './health.ts';
export * from './sse.ts';
export * from './names.ts';
