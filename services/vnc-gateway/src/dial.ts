import { connect, type Socket } from 'node:net';
import { ProblemError } from '@cps/common';
import { isLoopbackTarget } from './console-target.ts';

export type DialVnc = (host: string, port: number) => Promise<Socket>;

/**
 * Opens the TCP connection to a guest's VNC server. Resolves once connected, with the socket not
 * yet flowing: the server's banner waits in the socket until the bridge reads it.
 */
export function dialTcp(timeoutMs = 5000): DialVnc {
  return (host, port) =>
    new Promise((resolve, reject) => {
      // Checked here too, so no caller can make this function dial off the machine.
      if (!isLoopbackTarget({ host, port })) {
        reject(new ProblemError('upstream-failed', `refusing to dial ${host}:${port}: not a loopback address`));
        return;
      }
      const socket = connect({ host, port });
      const fail = (err: Error) => {
        socket.destroy();
        reject(new ProblemError('upstream-failed', `the guest's VNC server at ${host}:${port} is unreachable: ${err.message}`));
      };
      socket.setTimeout(timeoutMs, () => fail(new Error(`no answer within ${timeoutMs} ms`)));
      socket.once('error', fail);
      socket.once('connect', () => {
        socket.setTimeout(0);
        socket.off('error', fail);
        socket.setNoDelay(true);
        resolve(socket);
      });
    });
}

export type DialSerial = (socketPath: string) => Promise<Socket>;

/** Connects to a guest's serial socket (QEMU listens; one client at a time). */
export function dialUnix(timeoutMs = 5000): DialSerial {
  return (path) =>
    new Promise((resolve, reject) => {
      const socket = connect({ path });
      const fail = (err: NodeJS.ErrnoException) => {
        socket.destroy();
        reject(new ProblemError('upstream-failed', `the guest's serial socket ${path} is unreachable: ${err.code ?? err.message}`));
      };
      socket.setTimeout(timeoutMs, () => fail(new Error(`no answer within ${timeoutMs} ms`)));
      socket.once('error', fail);
      socket.once('connect', () => {
        socket.setTimeout(0);
        socket.off('error', fail);
        resolve(socket);
      });
    });
}
