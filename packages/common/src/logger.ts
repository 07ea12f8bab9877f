import { pino, type Logger } from 'pino';

/** One JSON event per line on stdout; `cps up` prefixes and pretty-prints them. */
export function createLogger(service: string, level = process.env.CPS_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name: service, level, base: { service } });
}

export type { Logger };
