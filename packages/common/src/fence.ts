import { Hono, type Context, type MiddlewareHandler } from 'hono';
import type { Caller } from './member-gate.ts';
import type { Logger } from './logger.ts';
import { nodeIdPattern } from './names.ts';
import { ProblemError } from './problem.ts';

/**
 * A host's fence against old heads (docs/head.md "Epochs and fencing"): @cps/head's FenceGuard,
 * one per node, shared by its provisioner and storage. Named here as an interface so the services'
 * apps take any fence (and @cps/common need not depend on @cps/head).
 */
export interface EpochFence {
  /** Lets a command of `epoch` through (persisting a newer one first) or throws `stale-epoch`. */
  admit(epoch: number, head?: string): Promise<void>;
  /** The fence as it is on disk now. */
  current(): Promise<FenceState>;
}

export interface FenceState {
  highestEpoch: number;
  head?: string;
}

/** The headers every command of a head carries (openapi: components/parameters CpsEpoch, CpsHead). */
export const fenceHeaders = { epoch: 'CPS-Epoch', head: 'CPS-Head' } as const;

export interface CommandEpoch {
  epoch: number;
  head: string;
}

// One decimal integer, no sign, no leading zero, no exponent, at most 16 digits (then checked
// against 2^53: past it two epochs could read as one). A repeated header arrives joined by ", ",
// and so fails here too.
const epochText = /^[1-9][0-9]{0,15}$/;

/**
 * The two headers of a request, parsed as hostile bytes: both absent is `undefined` (the command is
 * not a head's); one without the other, or either malformed, is a `bad-request` problem.
 */
export function commandEpochOf(header: (name: string) => string | undefined): CommandEpoch | undefined {
  const rawEpoch = header(fenceHeaders.epoch);
  const rawHead = header(fenceHeaders.head);
  if (rawEpoch === undefined && rawHead === undefined) return undefined;
  if (rawEpoch === undefined || rawHead === undefined) {
    throw new ProblemError('bad-request', `${fenceHeaders.epoch} and ${fenceHeaders.head} go together: send both or neither`);
  }
  const epoch = Number(rawEpoch);
  if (!epochText.test(rawEpoch) || !Number.isSafeInteger(epoch)) {
    throw new ProblemError('bad-request', `${fenceHeaders.epoch} ${JSON.stringify(rawEpoch.slice(0, 40))} is not one positive decimal integer`);
  }
  if (!nodeIdPattern.test(rawHead)) {
    throw new ProblemError('bad-request', `${fenceHeaders.head} ${JSON.stringify(rawHead.slice(0, 80))} is not a node id`);
  }
  return { epoch, head: rawHead };
}

const changes = new Set(['PUT', 'POST', 'DELETE', 'PATCH']);

/**
 * Reads the head's epoch on every route that changes something (PUT, POST, DELETE: exactly the
 * operations the contract gives the CPS-Epoch header) and lets the command run only once the fence
 * has admitted it. A command without the headers is let through: a local tool, today's tests, and
 * a single node or a LAN with no head yet (no DNS, HELLO not carrying one) send none; it is logged at
 * debug. A member's certificate must be the head's node it names, so no member speaks for another.
 */
export function fenceCommands(fence: EpochFence, log: Logger): MiddlewareHandler {
  return async function fenceCommand(c, next) {
    if (!changes.has(c.req.method)) return next();
    const sent = commandEpochOf((name) => c.req.header(name));
    if (!sent) {
      log.debug({ event: 'fence.unfenced', method: c.req.method, path: c.req.path }, 'fence: a command without an epoch (no head), let through');
      return next();
    }
    refuseImpostor(c, sent);
    try {
      await fence.admit(sent.epoch, sent.head);
    } catch (e) {
      if (e instanceof ProblemError && e.problemType === 'stale-epoch') {
        log.warn({ event: 'fence.command-refused', method: c.req.method, path: c.req.path, ...sent, ...e.extensions }, 'fence: a command of an older head refused; nothing done');
      }
      throw e;
    }
    return next();
  };
}

/** `GET /fence`, and `POST /fence`: a new head shows this host its epoch and nothing else changes. */
export function fenceRoutes(fence: EpochFence) {
  const app = new Hono();
  app.get('/fence', async (c) => c.json(await fence.current()));
  app.post('/fence', async (c) => {
    const sent = commandEpochOf((name) => c.req.header(name));
    if (!sent) throw new ProblemError('bad-request', `POST /fence needs ${fenceHeaders.epoch} and ${fenceHeaders.head}`);
    refuseImpostor(c, sent);
    // fenceCommands has admitted it already when it runs before; a second admit of the same epoch is a read.
    await fence.admit(sent.epoch, sent.head);
    return c.json(await fence.current());
  });
  return app;
}

function refuseImpostor(c: Context, sent: CommandEpoch): void {
  const caller = (c.env as { caller?: Caller } | undefined)?.caller;
  if (caller?.kind === 'member' && caller.nodeId !== sent.head) {
    throw new ProblemError('bad-request', `${fenceHeaders.head} names ${sent.head}, but the certificate is ${caller.nodeId}'s`);
  }
}
