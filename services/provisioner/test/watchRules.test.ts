import { describe, expect, it } from 'vitest';
import type { Intended } from '../src/expectations.ts';
import type { DomainState } from '../src/hypervisor.ts';
import { unexpectedChanges, type Seen } from '../src/watchRules.ts';

const t0 = new Date('2026-11-25T20:00:00.000Z');
const t1 = new Date('2026-11-25T20:00:00.500Z');
const snap = (entries: Record<string, DomainState>, at = t0) =>
  new Map<string, Seen>(Object.entries(entries).map(([id, state]) => [id, { state, at }]));
const kinds = (before: Record<string, DomainState>, now: Record<string, DomainState>, intended: Record<string, Intended> = {}) =>
  unexpectedChanges(snap(before), snap(now, t1), (id) => intended[id], t1).map((e) => `${e.taskId}:${e.kind}`);

describe('unexpectedChanges', () => {
  it.each([
    ['nothing changed', { a: 'running' }, { a: 'running' }, {}, []],
    ['a guest vanished unasked', { a: 'running' }, {}, {}, ['a:vanished']],
    ['a paused guest vanished unasked', { a: 'paused' }, {}, { a: 'paused' }, ['a:vanished']],
    ['a guest went after DELETE / checkpoint / shutdown', { a: 'running' }, {}, { a: 'gone' }, []],
    ['a guest crashed', { a: 'running' }, { a: 'crashed' }, {}, ['a:crashed']],
    ['a guest crashed while shutting down', { a: 'running' }, { a: 'crashed' }, { a: 'gone' }, ['a:crashed']],
    ['a guest shut itself down', { a: 'running' }, { a: 'shutdown' }, {}, ['a:shutdown']],
    ['a guest is off unasked', { a: 'running' }, { a: 'shutoff' }, { a: 'running' }, ['a:shutdown']],
    ['a guest shuts down as asked', { a: 'running' }, { a: 'shutdown' }, { a: 'gone' }, []],
    ['a guest paused unasked', { a: 'running' }, { a: 'paused' }, { a: 'running' }, ['a:paused']],
    ['a guest paused as asked', { a: 'running' }, { a: 'paused' }, { a: 'paused' }, []],
    // libvirt pauses a guest it saves (a checkpoint) or shuts down before it is gone.
    ['a guest paused on its way out (a checkpoint saving it)', { a: 'running' }, { a: 'paused' }, { a: 'gone' }, []],
    ['a guest resumed', { a: 'paused' }, { a: 'running' }, {}, []],
    ['a new guest appears running', {}, { a: 'running' }, {}, []],
    ['a new guest appears crashed', {}, { a: 'crashed' }, {}, ['a:crashed']],
    ['two at once', { a: 'running', b: 'running', c: 'running' }, { b: 'crashed', c: 'running' }, {}, ['a:vanished', 'b:crashed']],
  ] as const)('%s', (_, before, now, intended, want) => {
    expect(kinds(before, now, intended)).toEqual(want);
  });

  it('says when the guest was last seen well and when it was noticed', () => {
    const [e] = unexpectedChanges(snap({ a: 'running' }), snap({}, t1), () => undefined, t1);
    expect(e).toMatchObject({ kind: 'vanished', taskId: 'a', at: t1, lastSeenAt: t0.toISOString() });
    expect(e!.detail).toMatch(/no one here asked/);
  });
});
