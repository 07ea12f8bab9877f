/**
 * Follows what a browser sends a guest's VNC server (RFB, RFC 6143 plus the extensions noVNC
 * speaks), for two things: ClientInit's shared-flag is forced to 1, so no viewer can ask the server
 * for exclusive access and have it drop the others; and which bytes are the user's input (keys,
 * pointer, clipboard, power actions), which keeps a console from counting as idle. It never holds
 * bytes back; a message type it does not know makes it stop parsing and count everything as input.
 */
export class RfbClientScanner {
  private phase: 'version' | 'security' | 'vnc-auth' | 'init' | 'messages' | 'opaque' = 'version';
  private version = Buffer.alloc(0);
  /** Bytes still to skip of the message being read, and whether it is input. */
  private skip = 0;
  private skipIsInput = false;
  /** A message header arriving across chunks. */
  private head = Buffer.alloc(0);
  private authLeft = 16;

  /** The fixed part's length of the message that starts at `head` (or at chunk[i] when none). */
  private headerNeed(chunk: Buffer, i: number): number | undefined {
    const h = this.head;
    const type = h.length > 0 ? h[0]! : chunk[i]!;
    const sub = h.length >= 2 ? h[1] : h.length === 1 ? chunk[i] : chunk[i + 1];
    return headerLength(type, sub);
  }

  /** Rewrites `chunk` where needed (a copy) and says whether it carried input. */
  scan(chunk: Buffer): { out: Buffer; input: boolean } {
    let out = chunk;
    let input = false;
    let i = 0;
    while (i < chunk.length) {
      switch (this.phase) {
        case 'version': {
          const take = Math.min(12 - this.version.length, chunk.length - i);
          this.version = Buffer.concat([this.version, chunk.subarray(i, i + take)]);
          i += take;
          if (this.version.length === 12) {
            const minor = Number(/^RFB 003\.(\d{3})\n$/.exec(this.version.toString('latin1'))?.[1] ?? NaN);
            // 3.3: the server picks the type and, for None, there is nothing more before ClientInit.
            this.phase = Number.isNaN(minor) ? 'opaque' : minor < 7 ? 'init' : 'security';
          }
          break;
        }
        case 'security':
          this.phase = chunk[i] === 2 ? 'vnc-auth' : 'init';
          i++;
          break;
        case 'vnc-auth': {
          const take = Math.min(this.authLeft, chunk.length - i);
          this.authLeft -= take;
          i += take;
          if (this.authLeft === 0) this.phase = 'init';
          break;
        }
        case 'init':
          if (chunk[i] !== 1) {
            if (out === chunk) out = Buffer.from(chunk);
            out[i] = 1;
          }
          i++;
          this.phase = 'messages';
          break;
        case 'messages': {
          if (this.skip > 0) {
            const take = Math.min(this.skip, chunk.length - i);
            this.skip -= take;
            input ||= this.skipIsInput;
            i += take;
            break;
          }
          const need = this.headerNeed(chunk, i);
          if (need === undefined) {
            this.phase = 'opaque';
            break;
          }
          const take = Math.min(need - this.head.length, chunk.length - i);
          this.head = Buffer.concat([this.head, chunk.subarray(i, i + take)]);
          i += take;
          // QEMU's messages are known only once their subtype is: read on for the rest.
          if (this.head.length < need || this.head.length < (this.headerNeed(chunk, i) ?? 0)) break;
          const m = bodyOf(this.head);
          this.head = Buffer.alloc(0);
          if (m === undefined) {
            this.phase = 'opaque';
            break;
          }
          input ||= m.input;
          this.skip = m.body;
          this.skipIsInput = m.input;
          break;
        }
        case 'opaque':
          return { out, input: true };
      }
    }
    return { out, input };
  }
}

const KEY = 4;
const POINTER = 5;
const CUT_TEXT = 6;
const QEMU = 255;

/** Bytes of the fixed part of a client message of `type` (its subtype is known for QEMU's), or undefined if unknown. */
function headerLength(type: number, sub: number | undefined): number | undefined {
  switch (type) {
    case 0: return 20; // SetPixelFormat
    case 2: return 4; // SetEncodings: + 4 per encoding
    case 3: return 10; // FramebufferUpdateRequest
    case KEY: return 8;
    case POINTER: return 6;
    case CUT_TEXT: return 8; // + length
    case 150: return 10; // EnableContinuousUpdates
    case 248: return 9; // ClientFence: + length
    case 250: return 4; // xvp (reboot, shutdown)
    case 251: return 8; // SetDesktopSize: + 16 per screen
    case QEMU:
      if (sub === undefined) return 2; // read the subtype first
      return sub === 0 ? 12 : sub === 1 ? 4 : undefined; // extended key event; audio (+6 for set-format)
    default: return undefined;
  }
}

/** What follows a complete fixed part, and whether the message is the user's input. */
function bodyOf(h: Buffer): { body: number; input: boolean } | undefined {
  switch (h[0]) {
    case 2: return { body: 4 * h.readUInt16BE(2), input: false };
    case CUT_TEXT: return { body: Math.abs(h.readInt32BE(4)), input: true };
    case 248: return { body: h[8]!, input: false };
    case 251: return { body: 16 * h[6]!, input: false };
    case KEY: case POINTER: case 250: return { body: 0, input: true };
    case QEMU:
      if (h.length === 2) return undefined; // unreachable: the subtype is known by now
      if (h[1] === 0) return { body: 0, input: true };
      return { body: h.readUInt16BE(2) === 2 ? 6 : 0, input: false };
    default: return { body: 0, input: false };
  }
}
