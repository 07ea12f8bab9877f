import { connect } from 'node:net';

/**
 * How a DNS message reaches the server and its answer comes back: one request, one answer.
 * The real one is TCP; a simulator passes an in-memory server instead.
 */
export type DnsTransport = (request: Buffer) => Promise<Buffer>;

export interface TcpServer {
  host: string;
  port: number;
  /** Gives up when the connection is silent this long (the socket's own idle timer). */
  timeoutMs?: number;
}

/**
 * DNS over TCP (RFC 1035 §4.2.2, RFC 7766): each message is preceded by its 2-byte length.
 * TCP always, never UDP: an UPDATE with its TSIG and a lease TXT is small, but TCP needs no
 * truncation fallback (one code path), and an off-path host cannot slip in a spoofed answer
 * (TSIG would catch it, but then the claim would fail rather than learn the truth).
 */
export function tcpTransport(server: TcpServer): DnsTransport {
  const timeoutMs = server.timeoutMs ?? 5_000;
  return (request) =>
    new Promise<Buffer>((resolve, reject) => {
      const socket = connect({ host: server.host, port: server.port });
      const chunks: Buffer[] = [];
      let have = 0;
      const fail = (e: Error) => {
        socket.destroy();
        reject(e);
      };
      socket.setTimeout(timeoutMs, () => fail(new Error(`no answer from ${server.host}:${server.port} within ${timeoutMs} ms`)));
      socket.on('error', fail);
      socket.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(request.length);
        socket.write(Buffer.concat([len, request]));
      });
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        have += chunk.length;
        if (have < 2) return;
        const all = Buffer.concat(chunks);
        const want = all.readUInt16BE(0);
        if (all.length < 2 + want) return;
        socket.destroy();
        resolve(all.subarray(2, 2 + want));
      });
      socket.on('end', () => fail(new Error(`${server.host}:${server.port} closed the connection before a whole answer`)));
    });
}
