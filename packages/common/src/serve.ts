import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { X509Certificate } from 'node:crypto';
import { createServer as createNetServer, type Socket } from 'node:net';
import { createSecureContext, type SecureContext } from 'node:tls';
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
  /**
   * With `tls`: who may speak plain HTTP to this port. `loopback`: a user on this machine only;
   * from any other address a GET or HEAD is redirected (308) to the same URL on https, anything
   * else is refused (426 `https-required`), a WebSocket upgrade too. `any` (the default, for the
   * internal services, whose only public route is /healthz and whose member routes refuse plain
   * HTTP anyway): plain HTTP from anywhere. The public ports pass CPS_PLAIN_HTTP_FROM (default
   * loopback, `publicDoorOptions`).
   */
  plainHttpFrom?: PlainHttpFrom;
  /**
   * With `tls`: a certificate the admin provides for the public door (CPS_PUBLIC_TLS_CERT/KEY),
   * shown to clients that ask for one of the names it holds (TLS SNI). Every other client, and so
   * every member that reaches the node by its address, gets the node certificate; client
   * certificates are still verified against the cluster CA either way.
   */
  publicCert?: PublicCert;
}

export type PlainHttpFrom = 'loopback' | 'any';

export interface PublicCert {
  cert: string;
  key: string;
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
  const plainFrom = opts.plainHttpFrom ?? 'any';
  const gated: GatedApp = {
    fetch(req, env) {
      // Before the member gate: over plain HTTP from afar, nothing is answered but the way to https.
      if (plainFrom === 'loopback' && !isEncrypted(env.incoming) && !isLoopbackAddress(env.incoming.socket.remoteAddress)) {
        return toHttps(req, env.incoming, opts.log);
      }
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
  const secure = createHttpsServer(
    { ca: opts.tls.ca, cert: opts.tls.cert, key: opts.tls.key, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.2', ...(opts.publicCert ? { SNICallback: publicCertBySni(opts.tls, opts.publicCert) } : {}) },
    listener,
  );
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

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6: a client on this machine. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}

const isEncrypted = (incoming: IncomingMessage): boolean => (incoming.socket as { encrypted?: boolean }).encrypted === true;

/** The answer to plain HTTP from afar: GET/HEAD go to the same URL on https; the rest are refused. */
function toHttps(req: Request, incoming: IncomingMessage, log: Logger): Response {
  const url = new URL(req.url);
  const upgrade = /\bwebsocket\b/i.test(incoming.headers.upgrade ?? '');
  log.info({ method: req.method, path: url.pathname.slice(0, 200), from: incoming.socket.remoteAddress, upgrade }, 'plain HTTP from afar: pointed to https');
  if ((req.method === 'GET' || req.method === 'HEAD') && !upgrade) {
    url.protocol = 'https:';
    return new Response(null, { status: 308, headers: { location: url.href } });
  }
  const detail = `plain HTTP is answered only on this machine (loopback); send ${upgrade ? 'the WebSocket (wss://)' : `${req.method} ${url.pathname.slice(0, 200)}`} over https://${url.host} instead`;
  return problemOf(new ProblemError('https-required', detail), incoming.url);
}

/**
 * The admin's certificate for the names it holds, the node certificate for everything else: a
 * browser that asks for the head's DNS name sees the certificate it can check, a member that
 * reaches a node by address the one signed by the cluster CA.
 */
function publicCertBySni(tls: ClusterTls, pub: PublicCert): (servername: string, cb: (err: Error | null, ctx?: SecureContext) => void) => void {
  const names = new X509Certificate(pub.cert);
  const base = { ca: tls.ca, minVersion: 'TLSv1.2' as const };
  const publicCtx = createSecureContext({ ...base, cert: pub.cert, key: pub.key });
  const nodeCtx = createSecureContext({ ...base, cert: tls.cert, key: tls.key });
  return (servername, cb) => cb(null, servername && names.checkHost(servername) !== undefined ? publicCtx : nodeCtx);
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
