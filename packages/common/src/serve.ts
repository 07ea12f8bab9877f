import { serve, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';
import type { Logger } from 'pino';

export interface Served {
  server: ServerType;
  port: number;
  close(): Promise<void>;
}

/** Serves a Hono app and resolves once it listens; the caller decides what a signal means. */
export function serveApp(
  app: Hono<any, any, any>,
  opts: { port: number; hostname?: string; log: Logger },
  setup?: (server: ServerType) => void,
): Promise<Served> {
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: opts.port, hostname: opts.hostname ?? '0.0.0.0' }, (info) => {
      opts.log.info({ port: info.port, address: info.address }, 'listening');
      resolve({
        server,
        port: info.port,
        close: () =>
          new Promise<void>((res) => {
            (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
            server.close(() => res());
          }),
      });
    });
    setup?.(server);
    server.once('error', reject);
  });
}

/** Runs `stop` once on SIGINT/SIGTERM, then exits; a second signal exits at once. */
export function onShutdown(log: Logger, stop: () => Promise<void> | void): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) process.exit(130);
    stopping = true;
    log.info({ signal }, 'shutting down');
    Promise.resolve()
      .then(stop)
      .then(
        () => process.exit(0),
        (err) => {
          log.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
  };
  process.once('SIGINT', () => handler('SIGINT'));
  process.once('SIGTERM', () => handler('SIGTERM'));
}
