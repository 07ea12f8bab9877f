import type { Duplex } from 'node:stream';
import { hostPort, isProblemBody, ProblemError, serviceUrl, type memberClientTls } from '@cps/common';
import type { CoordinatorClient } from '@cps/openapi';
import { createWebSocketStream, WebSocket, type ClientOptions } from 'ws';
import type { VncTarget } from './console-target.ts';
import type { ConsoleKind, PeerClosed } from './session.ts';
import { hopTicketHeader } from './tickets.ts';

/**
 * The hop between peers: a gateway asked for the console of a task that runs on another peer
 * carries the browser's WebSocket on to that peer's gateway, at its member-only `/hop/{taskId}`
 * over the cluster's mutual TLS. A hop is only ever served locally, so two gateways can never
 * bounce a console between them.
 */
export const hopPath = (taskId: string, kind: ConsoleKind = 'vnc') => `/hop/${encodeURIComponent(taskId)}${kind === 'serial' ? '/serial' : ''}`;

/** Where a console is: on this peer (its VNC server or serial socket), or behind another peer's gateway. */
export type ConsoleRoute<T = VncTarget> = { kind: 'local'; target: T } | { kind: 'peer'; gateway: string };

/** The base URL (`https://host:port`) of the gateway of the peer that runs a task, if known. */
export type LocatePeer = (taskId: string) => Promise<string | undefined>;

/** Opens a byte stream to a task's console (its screen by default) through a peer's gateway. */
export type DialPeer = (gateway: string, taskId: string, kind?: ConsoleKind, ticket?: string) => Promise<Duplex>;

/** Local first; only a task unknown here, and not already hopped, is looked for elsewhere. */
export function consoleRoutes<T>(local: (taskId: string) => Promise<T>, locate?: LocatePeer) {
  return async (taskId: string, opts: { hopped: boolean }): Promise<ConsoleRoute<T>> => {
    try {
      return { kind: 'local', target: await local(taskId) };
    } catch (err) {
      if (!locate || opts.hopped || !(err instanceof ProblemError) || err.problemType !== 'not-found') throw err;
      const gateway = await locate(taskId).catch(() => undefined);
      if (!gateway) throw err;
      return { kind: 'peer', gateway };
    }
  };
}

/** `https://host:port` of a peer's gateway, or undefined if the parts do not make a plain origin. */
export function gatewayOrigin(address: string, port: number): string | undefined {
  try {
    const u = new URL(serviceUrl(address, port));
    if (u.username || u.password || u.pathname !== '/' || u.search || u.hash || !u.port || u.host !== hostPort(address, port).toLowerCase()) return undefined;
    return u.origin;
  } catch {
    return undefined;
  }
}

/** Asks a coordinator where a running task lives (GET /api/tasks/{taskId} → node). */
export function coordinatorLocator(coordinator: CoordinatorClient): LocatePeer {
  return async (taskId) => {
    const r = await coordinator.GET('/api/tasks/{taskId}', { params: { path: { taskId } } });
    const node = r.data?.state === 'running' ? r.data.node : undefined;
    return node?.ports ? gatewayOrigin(node.address, node.ports.vncGateway) : undefined;
  };
}

const maxProblemBytes = 64 << 10;

/** TLS options of this node as a client, for the hop. */
export type HopTls = ReturnType<typeof memberClientTls>;

/** Opens the peer gateway's hop WebSocket as a member; its refusal becomes ours, with its detail. */
export function dialPeerGateway(tls?: HopTls, timeoutMs = 5000): DialPeer {
  return (gateway, taskId, kind = 'vnc', ticket) =>
    new Promise((resolve, reject) => {
      const url = new URL(hopPath(taskId, kind), gateway);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      // ws hands the TLS options to https.request; its typing of checkServerIdentity is not node:tls's.
      // The browser's ticket goes on: the far gateway checks it too and knows whose console it is.
      const headers = ticket ? { [hopTicketHeader]: ticket } : {};
      const ws = new WebSocket(url, { ...(tls ?? {}), headers, handshakeTimeout: timeoutMs, perMessageDeflate: false } as unknown as ClientOptions);
      ws.on('error', (err) => reject(new ProblemError('upstream-failed', `the gateway at ${gateway} is unreachable: ${err.message}`)));
      ws.once('open', () => {
        const stream: Duplex & PeerClosed = createWebSocketStream(ws);
        // The far gateway's close (idle, a slow viewer, the guest gone) is what the browser should read.
        ws.once('close', (code: number, reason: Buffer) => (stream.peerClose = { code, reason: reason.toString() }));
        // ws's stream ends its readable side when the peer closes but stays open for writing; the
        // session waits for 'close', so once everything the peer sent has been read, let it go.
        stream.once('end', () => stream.destroy());
        resolve(stream);
      });
      ws.once('unexpected-response', (_req, res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          body += d;
          if (body.length > maxProblemBytes) res.destroy();
        });
        res.on('close', () => {
          ws.terminate();
          reject(peerRefusal(gateway, res.statusCode ?? 0, body));
        });
      });
    });
}

function peerRefusal(gateway: string, status: number, body: string): ProblemError {
  let detail = `answered ${status}`;
  try {
    const p: unknown = JSON.parse(body);
    if (isProblemBody(p) && typeof p.detail === 'string') detail = p.detail;
  } catch {
    // not problem+json: the status says enough
  }
  // The far gateway's cap and ticket refusals are the user's to read as such, not a failure.
  const type = status === 404 ? 'not-found' : status === 409 ? 'conflict' : status === 429 ? 'console-limit' : status === 403 ? 'console-ticket-refused' : 'upstream-failed';
  return new ProblemError(type, `the gateway at ${gateway}: ${detail}`);
}
