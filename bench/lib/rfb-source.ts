// A synthetic RFB server that is never the bottleneck: it greets with the RFB 3.8 banner, then
// either streams raw-encoded FramebufferUpdates as fast as the socket takes them, or echoes.
// (A TCG guest's own VNC server caps any proxy at ~7.75 MB/s: it would measure the guest.)
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';

export const BANNER = Buffer.from('RFB 003.008\n');

/** One FramebufferUpdate with one 256×64 raw rectangle at 32 bpp: 65,552 bytes. */
export function framebufferUpdate(width = 256, height = 64): Buffer {
  const b = Buffer.alloc(4 + 12 + width * height * 4);
  b.writeUInt8(0, 0); // FramebufferUpdate
  b.writeUInt16BE(1, 2); // one rectangle
  b.writeUInt16BE(width, 8);
  b.writeUInt16BE(height, 10);
  b.writeInt32BE(0, 12); // raw encoding
  for (let i = 16; i < b.length; i++) b[i] = i & 0xff;
  return b;
}

/**
 * Stream mode: after the banner the client sends 8 bytes, the number of bytes it wants (big-endian);
 * the server sends whole updates until at least that many went out, and keeps the connection open
 * (websockify drops what it still holds when its target closes: the client ends the session).
 */
function streamTo(s: Socket): void {
  const update = framebufferUpdate();
  let asked = Buffer.alloc(0);
  s.on('data', (d: Buffer) => {
    if (asked.length >= 8) return;
    asked = Buffer.concat([asked, d]);
    if (asked.length < 8) return;
    let left = Number(asked.readBigUInt64BE(0));
    const pump = () => {
      while (left > 0) {
        left -= update.length;
        if (!s.write(update)) return void s.once('drain', pump);
      }
    };
    pump();
  });
}

export interface RfbSource {
  streamPort: number;
  echoPort: number;
  close(): Promise<void>;
}

async function listen(onConnect: (s: Socket) => void): Promise<Server> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    s.on('error', () => {});
    s.setNoDelay(true);
    s.write(BANNER);
    onConnect(s);
  });
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return Object.assign(server, { sockets });
}

export async function startRfbSource(): Promise<RfbSource> {
  const stream = await listen(streamTo);
  const echo = await listen((s) => s.pipe(s));
  const port = (sv: Server) => (sv.address() as { port: number }).port;
  const closeOne = (sv: Server) =>
    new Promise<void>((r) => {
      for (const s of (sv as Server & { sockets: Set<Socket> }).sockets) s.destroy();
      sv.close(() => r());
    });
  return { streamPort: port(stream), echoPort: port(echo), close: async () => void (await Promise.all([closeOne(stream), closeOne(echo)])) };
}
