import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createNetServer, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { getRequestListener, serve, type ServerType } from '@hono/node-server';
import type { Hono } from 'hono';
import type { Logger } from 'pino';
import type { ClusterTls } from './cluster-tls.ts';
import { checkCaller } from './member-gate.ts';
import { ProblemError, problemContentType, type ProblemType } from './problem.ts';
import type { PublicRoutes } from './public-routes.ts';

export interface Served {
  /** The HTTP server (with TLS: the plain one; `servers` has both). */
  server: ServerType;
  servers: HttpServer[];
  port: number;
  close(): Promise<void>;
}

export interface ServeOptions {
  port: number;
  hostname?: string;
  log: Logger;
  /**
   * The cluster's TLS. With it, the port speaks TLS and plain HTTP both (told apart by the first
   * byte), and a request reaches the app only if it is from a member or for a public route.
   */
  tls?: ClusterTls;
  /** The routes strangers may reach (the contract's `x-cps-public`); with `tls` only. */
  publicRoutes?: PublicRoutes;
}

// A client that connects and says nothing holds a socket; it gets this long for its first byte.
const firstByteTimeoutMs = 10_000;

/** What a setup callback gets besides the server: the app behind the door, for upgrade requests. */
export interface GatedApp {
  fetch(req: Request, env: { incoming: IncomingMessage } & Record<string, unknown>): Response | Promise<Response>;
}

/**
 * Serves a Hono app and resolves once it listens; the caller decides what a signal means.
 * `setup` gets each server and the app behind the door: anything it routes itself (WebSocket
 * upgrades) must go through that, so the door holds for upgrades as for requests.
 */
export function serveApp(app: Hono<any, any, any>, opts: ServeOptions, setup?: (server: HttpServer, gated: GatedApp) => void): Promise<Served> {
  if (opts.tls) return serveWithTls(app, { ...opts, tls: opts.tls }, setup);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: opts.port, hostname: opts.hostname ?? '0.0.0.0' }, (info) => {
      opts.log.info({ port: info.port, address: info.address }, 'listening');
      resolve({ server, servers: [server as HttpServer], port: info.port, close: () => closeServers([server as HttpServer]) });
    });
    answerClientErrors(server as HttpServer, opts.log);
    setup?.(server as HttpServer, app);
    server.once('error', reject);
  });
}

function serveWithTls(app: Hono<any, any, any>, opts: ServeOptions & { tls: ClusterTls }, setup?: (server: HttpServer, gated: GatedApp) => void): Promise<Served> {
  const routes = opts.publicRoutes ?? { match: () => undefined, list: () => [] };
  const gated: GatedApp = {
    fetch(req, env) {
      const gate = checkCaller(env.incoming, opts.tls, routes);
      if ('refusal' in gate) {
        opts.log.warn({ method: env.incoming.method, path: env.incoming.url?.slice(0, 200), from: env.incoming.socket.remoteAddress, type: gate.refusal.problemType }, 'refused a caller that is not a member');
        return problemOf(gate.refusal, env.incoming.url);
      }
      return app.fetch(req, { ...env, caller: gate.caller });
    },
  };
  // HTTP/1.1 only here, so the incoming message is node:http's.
  const listener = getRequestListener((req, bindings) => gated.fetch(req, bindings as { incoming: IncomingMessage }));
  const plain = createHttpServer(listener);
  const secure = createHttpsServer({ ca: opts.tls.ca, cert: opts.tls.cert, key: opts.tls.key, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2' }, listener);
  const servers = [plain, secure as unknown as HttpServer];
  for (const s of servers) {
    answerClientErrors(s, opts.log);
    setup?.(s, gated);
  }
  // A TLS handshake that fails (a client that gave up, garbage) is the client's problem, not ours.
  secure.on('tlsClientError', (err) => opts.log.debug({ err: err.message }, 'TLS handshake failed'));
  const net = createNetServer((socket: Socket) => {
    socket.setTimeout(firstByteTimeoutMs, () => socket.destroy());
    socket.once('error', () => socket.destroy());
    socket.once('data', (chunk: Buffer) => {
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(chunk);
      // 0x16 opens every TLS handshake record; an HTTP request starts with a method's letter.
      (chunk[0] === 0x16 ? secure : plain).emit('connection', socket);
      process.nextTick(() => socket.resume());
    });
  });
  return new Promise((resolve, reject) => {
    net.once('error', reject);
    net.listen(opts.port, opts.hostname ?? '0.0.0.0', () => {
      const addr = net.address();
      const port = typeof addr === 'object' && addr ? addr.port : opts.port;
      opts.log.info({ port, address: opts.hostname ?? '0.0.0.0', tls: 'cluster' }, 'listening');
      resolve({
        server: plain,
        servers,
        port,
        close: async () => {
          await new Promise<void>((res) => net.close(() => res()));
          await closeServers(servers);
        },
      });
    });
  });
}

function closeServers(servers: HttpServer[]): Promise<void> {
  return Promise.all(
    servers.map(
      (s) =>
        new Promise<void>((res) => {
          s.closeAllConnections?.();
          if (!s.listening) return res();
          s.close(() => res());
        }),
    ),
  ).then(() => undefined);
}

function problemOf(err: ProblemError, url?: string): Response {
  return new Response(JSON.stringify(err.toBody(url?.split('?')[0]?.slice(0, 200))), { status: err.status, headers: { 'content-type': problemContentType } });
}

/**
 * Node answers a request it cannot parse (431 for huge headers, 400 for bad framing) itself, in
 * plain text. Ours says the same as problem+json, like every other answer of a CPS service.
 */
function answerClientErrors(server: HttpServer, log: Logger): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    log.debug({ code: err.code, err: err.message }, 'malformed request');
    if (!socket.writable || (err as { code?: string }).code === 'ECONNRESET') return void socket.destroy();
    const type: ProblemType = err.code === 'HPE_HEADER_OVERFLOW' ? 'headers-too-large' : 'bad-request';
    const status = type === 'headers-too-large' ? 431 : 400;
    const detail = type === 'headers-too-large' ? 'the request headers are larger than this server accepts (16 KiB)' : `the request is not well-formed HTTP/1.1 (${err.code ?? 'parse error'})`;
    const body = JSON.stringify(new ProblemError(type, detail).toBody());
    socket.end(`HTTP/1.1 ${status} ${type === 'headers-too-large' ? 'Request Header Fields Too Large' : 'Bad Request'}\r\ncontent-type: ${problemContentType}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
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
