import { Hono } from 'hono';
import { ProblemError, type Caller } from '@cps/common';
import type { CoordinatorSchemas } from '@cps/openapi';
import type { HeadView } from '../head/head-view.ts';
import type { SqliteReplicaStore } from '../registry/replica-store.ts';

export interface ReplicaRoutesDeps {
  replica: Pick<SqliteReplicaStore, 'snapshot' | 'revision'>;
  headView: Pick<HeadView, 'isHead' | 'head' | 'commandEpoch'>;
  /** The largest snapshot this node sends (bytes of JSON); a larger one is refused, loudly. */
  maxBytes: number;
}

const revParam = (raw: string | undefined, name: string): number | undefined => {
  if (raw === undefined) return undefined;
  if (!/^\d{1,15}$/.test(raw)) throw new ProblemError('validation-failed', `${name} must be a non-negative integer`);
  return Number(raw);
};

/**
 * GET /internal/registry: the head's registry for the followers' replicas (replica/). Members only:
 * the door refuses anyone without a cluster certificate before the app; this checks again, so a
 * route mounted behind another door (or none, in a test) still never hands hashes to a user.
 */
export function replicaRoutes({ replica, headView, maxBytes }: ReplicaRoutesDeps) {
  const app = new Hono();
  // Every follower asks every second: the text of the last snapshot is kept, and made again only
  // when the registry (its rev) or the term has moved on. The rev a text was read at is the rev of
  // its rows (one transaction), so serving it while the rev is unchanged serves the registry as is.
  let last: { rev: number; epoch: number | undefined; text: string } | undefined;
  app.get('/internal/registry', (c) => {
    const caller = (c.env as { caller?: Caller } | undefined)?.caller;
    if (caller?.kind !== 'member') throw new ProblemError('member-certificate-required', 'GET /internal/registry answers members of this cluster only');
    const since = revParam(c.req.query('since'), 'since');
    const sinceEpoch = revParam(c.req.query('epoch'), 'epoch');
    if (!headView.isHead()) {
      const head = headView.head();
      throw new ProblemError('not-head', `this coordinator follows${head ? ` ${head.nodeId}` : ''}; ask the head`, head ? { head: head.nodeId } : {});
    }
    const epoch = headView.commandEpoch()?.epoch;
    // The cheap answer first: a follower that is up to date costs one row read.
    const rev = replica.revision().rev;
    if (since !== undefined && since === rev && sinceEpoch === epoch) return c.body(null, 204);
    if (!last || last.rev !== rev || last.epoch !== epoch) {
      last = undefined;
      const snap = replica.snapshot();
      const body: CoordinatorSchemas['RegistrySnapshot'] = { rev: snap.rev, ...(epoch !== undefined ? { epoch } : {}), tables: snap.tables };
      last = { rev: snap.rev, epoch, text: JSON.stringify(body) };
    }
    const { text } = last;
    if (since !== undefined && since === last.rev && sinceEpoch === epoch) return c.body(null, 204);
    if (Buffer.byteLength(text) > maxBytes) {
      throw new ProblemError('internal', `the registry snapshot is ${Buffer.byteLength(text)} bytes, more than the ${maxBytes} this node sends (replicaMaxBytes): the followers keep what they had`);
    }
    return c.body(text, 200, { 'content-type': 'application/json' });
  });
  return app;
}
