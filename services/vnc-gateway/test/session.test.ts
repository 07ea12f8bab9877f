import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { ConsoleSession, wsReason } from '../src/session.ts';
import { canTransition, type SessionState } from '../src/session-state.ts';
import { memoryLogger } from './fakes.ts';

describe('canTransition', () => {
  const states: SessionState[] = ['connecting', 'open', 'closing', 'closed'];
  const allowed = new Set(['connecting>open', 'connecting>closing', 'open>closing', 'closing>closed']);
  for (const from of states)
    for (const to of states)
      it(`${from} → ${to}: ${allowed.has(`${from}>${to}`) ? 'allowed' : 'refused'}`, () =>
        expect(canTransition(from, to)).toBe(allowed.has(`${from}>${to}`)));
});

describe('wsReason', () => {
  it('keeps short reasons and cuts long ones to a valid close frame', () => {
    expect(wsReason('bye')).toBe('bye');
    for (const long of ['x'.repeat(500), 'é'.repeat(200), '€'.repeat(100) + 'x', '😀'.repeat(60)]) {
      const r = wsReason(long);
      expect(Buffer.byteLength(r)).toBeLessThanOrEqual(123);
      expect(r).not.toContain('\uFFFD');
      expect(r.endsWith('...')).toBe(true);
    }
  });
});

/** A TCP socket stand-in whose write() answers as the test says. */
class FakeTcp extends EventEmitter {
  written: Buffer[] = [];
  writeOk = true;
  paused = false;
  destroyed = false;
  ended = false;
  write(b: Buffer) {
    this.written.push(b);
    return this.writeOk;
  }
  end() {
    this.ended = true;
  }
  destroy() {
    if (this.destroyed) return;
    this.destroyed = true;
    queueMicrotask(() => this.emit('close'));
  }
  pause() {
    this.paused = true;
  }
  resume() {
    this.paused = false;
  }
  isPaused() {
    return this.paused;
  }
}

/** A server-side WebSocket stand-in: records sends, pauses and the close. */
class FakeWs extends EventEmitter {
  sent: Array<{ data: Buffer; cb: () => void }> = [];
  bufferedAmount = 0;
  paused = false;
  closedWith?: [number, string];
  send(data: Buffer, _opts: unknown, cb: () => void) {
    this.sent.push({ data, cb });
  }
  pause() {
    this.paused = true;
  }
  resume() {
    this.paused = false;
  }
  close(code: number, reason: string) {
    this.closedWith ??= [code, reason];
  }
}

function session() {
  const tcp = new FakeTcp();
  const ws = new FakeWs();
  const { log, lines } = memoryLogger();
  const s = new ConsoleSession(tcp as unknown as Socket, { taskId: 't-1', target: { host: '127.0.0.1', port: 5900 }, log });
  return { s, tcp, ws, lines, attach: () => s.attach(ws as unknown as WebSocket) };
}

describe('ConsoleSession', () => {
  it('stops reading the browser while the guest socket is full, and resumes on drain', () => {
    const { tcp, ws, attach } = session();
    attach();
    tcp.writeOk = false;
    ws.emit('message', Buffer.from('abc'), true);
    expect(ws.paused).toBe(true);
    tcp.emit('drain');
    expect(ws.paused).toBe(false);
  });

  it('stops reading the guest while the WebSocket holds too much, and resumes once it drains', () => {
    const { tcp, ws, attach, s } = session();
    attach();
    ws.bufferedAmount = 2 << 20;
    tcp.emit('data', Buffer.alloc(10));
    expect(tcp.paused).toBe(true);
    ws.bufferedAmount = 1 << 20; // still above the low mark
    ws.sent[0]!.cb();
    expect(tcp.paused).toBe(true);
    ws.bufferedAmount = 0;
    ws.sent[0]!.cb();
    expect(tcp.paused).toBe(false);
    expect(s.stalls).toEqual({ toGuest: 0, fromGuest: 1 });
    expect(s.bytes.fromGuest).toBe(10);
  });

  it('tells the browser why when the guest broke off during the handshake', async () => {
    const { s, tcp, ws, attach, lines } = session();
    // A net.Socket emits 'error' and then destroys itself.
    tcp.emit('error', Object.assign(new Error('reset'), { code: 'ECONNRESET' }));
    tcp.destroy();
    expect(s.state).toBe('closing');
    await new Promise((r) => setImmediate(r));
    expect(s.state).toBe('closing'); // the WebSocket handshake is still under way
    attach();
    expect(ws.closedWith).toEqual([1011, 'VNC connection error: ECONNRESET']);
    ws.emit('close', 1011, Buffer.from(''));
    expect(s.state).toBe('closed');
    expect(lines().filter((l) => l.msg === 'console session closed')).toHaveLength(1);
    expect(lines().some((l) => l.msg === 'console session open')).toBe(false);
  });

  it('closes the guest side when the handshake is aborted', async () => {
    const { s, tcp } = session();
    s.abort('the client left during the handshake');
    expect(tcp.destroyed).toBe(true);
    await new Promise((r) => setImmediate(r));
    expect(s.state).toBe('closed');
  });

  it('ignores bytes that arrive after closing starts, and logs the close once', async () => {
    const { s, tcp, ws, attach, lines } = session();
    attach();
    ws.emit('close', 1000, Buffer.from('bye'));
    expect(s.state).toBe('closing');
    ws.emit('message', Buffer.from('late'), true);
    expect(tcp.written).toHaveLength(0);
    tcp.destroy();
    tcp.emit('error', new Error('after the fact'));
    await new Promise((r) => setImmediate(r));
    expect(s.state).toBe('closed');
    expect(lines().filter((l) => l.msg === 'console session closed')).toEqual([
      expect.objectContaining({ closedBy: 'client', code: 1000, reason: 'bye', bytesToGuest: 0 }),
    ]);
  });
});
