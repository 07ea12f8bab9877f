import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addRr, DnsClient, DnsLeaseStore, formatLease, layoutOf, queryMessage, readAnswer, rrsetAbsent, signRequest, tcpTransport, updateMessage, type DnsTransport, type Lease, type TsigKey } from '../src/index.ts';
import { startBind, type Bind } from './bind.ts';

// Every test here talks to a real BIND9 (named) that this file starts with a TSIG key it makes.
let bind: Bind;
beforeAll(async () => {
  bind = await startBind();
});
afterAll(async () => {
  await bind?.stop();
});

let n = 0;
/** A fresh name per test, so tests do not see each other's records. */
const freshName = () => `h${++n}.${bind.zone}`;

function storeFor(name: string, address: string, o: { key?: TsigKey; now?: () => number; transport?: DnsTransport } = {}) {
  const transport = o.transport ?? tcpTransport({ host: '127.0.0.1', port: bind.port });
  const client = new DnsClient({ transport, key: o.key ?? bind.key, now: o.now ?? (() => Date.now()) });
  return new DnsLeaseStore({ client, zone: bind.zone, name, address });
}

const lease = (holder: string, epoch: number, expiresAt: number): Lease => ({ holder, epoch, expiresAt });
const quoted = (l: Lease) => `"${formatLease(l)}"`;

async function readToken(s: DnsLeaseStore): Promise<string | undefined> {
  const r = await s.read();
  if (r.result !== 'read') throw new Error(`read: ${JSON.stringify(r)}`);
  return r.token;
}

describe('the lease in a real BIND9', () => {
  it('a first claim is visible with dig: the A record users resolve and the lease TXT', async () => {
    const name = freshName();
    const a = storeFor(name, '10.0.0.1');
    expect(await a.read()).toEqual({ result: 'read', lease: undefined, token: undefined });
    const l = lease('ws-a', 1, 1_800_000_000_000);
    expect(await a.claim(undefined, l)).toEqual({ result: 'done', token: formatLease(l) });
    expect(bind.dig(name, 'A')).toEqual(['10.0.0.1']);
    expect(bind.dig(name, 'TXT')).toEqual([quoted(l)]);
    expect(await a.read()).toEqual({ result: 'read', lease: l, token: formatLease(l) });
  });

  it('renew: the holder moves its expiry forward on the record it read', async () => {
    const name = freshName();
    const a = storeFor(name, '10.0.0.1');
    await a.claim(undefined, lease('ws-a', 3, 1000));
    const renewed = await a.claim(await readToken(a), lease('ws-a', 3, 16_000));
    expect(renewed.result).toBe('done');
    expect(bind.dig(name, 'TXT')).toEqual([quoted(lease('ws-a', 3, 16_000))]);
    expect(bind.dig(name, 'A')).toEqual(['10.0.0.1']);
  });

  it('two claimers racing from the same read of an empty name: exactly one wins, dig shows the winner', async () => {
    for (let round = 0; round < 5; round++) {
      const name = freshName();
      const a = storeFor(name, '10.0.0.1');
      const b = storeFor(name, '10.0.0.2');
      const [ta, tb] = [await readToken(a), await readToken(b)];
      const [ra, rb] = await Promise.all([a.claim(ta, lease('ws-a', 1, 5000)), b.claim(tb, lease('ws-b', 1, 5000))]);
      const results = [ra.result, rb.result].sort();
      expect(results).toEqual(['done', 'lost']);
      expect([ra, rb].find((r) => r.result === 'lost')).toMatchObject({ rcode: 'YXRRSET' });
      expect(bind.dig(name, 'A')).toEqual([ra.result === 'done' ? '10.0.0.1' : '10.0.0.2']);
    }
  });

  it('two claimers racing to take over the same expired lease: exactly one wins', async () => {
    const name = freshName();
    await storeFor(name, '10.0.0.9').claim(undefined, lease('ws-old', 4, 1));
    const a = storeFor(name, '10.0.0.1');
    const b = storeFor(name, '10.0.0.2');
    const [ta, tb] = [await readToken(a), await readToken(b)];
    expect(ta).toBe(tb);
    const [ra, rb] = await Promise.all([a.claim(ta, lease('ws-a', 5, 9000)), b.claim(tb, lease('ws-b', 5, 9000))]);
    expect([ra.result, rb.result].sort()).toEqual(['done', 'lost']);
    expect([ra, rb].find((r) => r.result === 'lost')).toMatchObject({ rcode: 'NXRRSET' });
    const winner = ra.result === 'done' ? 'ws-a' : 'ws-b';
    expect(bind.dig(name, 'TXT')).toEqual([quoted(lease(winner, 5, 9000))]);
  });

  it('a claimer with a stale read loses (NXRRSET) and changes nothing', async () => {
    const name = freshName();
    const a = storeFor(name, '10.0.0.1');
    const b = storeFor(name, '10.0.0.2');
    await a.claim(undefined, lease('ws-a', 1, 1000));
    const stale = await readToken(b);
    await a.claim(await readToken(a), lease('ws-a', 1, 2000));
    expect(await b.claim(stale, lease('ws-b', 2, 9000))).toMatchObject({ result: 'lost', rcode: 'NXRRSET' });
    expect(bind.dig(name, 'TXT')).toEqual([quoted(lease('ws-a', 1, 2000))]);
    expect(bind.dig(name, 'A')).toEqual(['10.0.0.1']);
  });

  it('a record changed behind our back (nsupdate) makes the renewal fail instead of overwriting it', async () => {
    const name = freshName();
    const a = storeFor(name, '10.0.0.1');
    await a.claim(undefined, lease('ws-a', 1, 1000));
    const token = await readToken(a);
    const nsupdate = bind.nsupdate([`update delete ${name} TXT`, `update add ${name} 60 TXT "maintenance by the admin"`]);
    expect(nsupdate.status, nsupdate.output).toBe(0);
    expect(await a.claim(token, lease('ws-a', 1, 2000))).toMatchObject({ result: 'lost', rcode: 'NXRRSET' });
    expect(bind.dig(name, 'TXT')).toEqual(['"maintenance by the admin"']);
    // And the record is seen for what it is: not a lease, so nothing claims over it.
    expect(await a.read()).toEqual({ result: 'foreign', text: 'maintenance by the admin' });
  });

  it('a TXT added beside ours (two records now) also makes the next write fail', async () => {
    const name = freshName();
    const a = storeFor(name, '10.0.0.1');
    await a.claim(undefined, lease('ws-a', 1, 1000));
    const token = await readToken(a);
    expect(bind.nsupdate([`update add ${name} 60 TXT "second"`]).status).toBe(0);
    expect(await a.claim(token, lease('ws-a', 1, 2000))).toMatchObject({ result: 'lost', rcode: 'NXRRSET' });
    expect((await a.read()).result).toBe('foreign');
  });

  it('release: the name points nowhere; the lease stays with its epoch, ended', async () => {
    const name = freshName();
    const a = storeFor(name, '10.0.0.1');
    await a.claim(undefined, lease('ws-a', 7, 50_000));
    expect(await a.release((await readToken(a))!, lease('ws-a', 7, 20_000))).toMatchObject({ result: 'done' });
    expect(bind.dig(name, 'A')).toEqual([]);
    expect(bind.dig(name, 'TXT')).toEqual([quoted(lease('ws-a', 7, 20_000))]);
  });

  it('a wrong secret is refused (NOTAUTH/BADSIG), an unknown key too (NOTAUTH/BADKEY), a clock an hour off (BADTIME); nothing changes', async () => {
    const name = freshName();
    await storeFor(name, '10.0.0.1').claim(undefined, lease('ws-a', 1, 1000));
    const before = bind.dig(name, 'TXT');
    const wrongSecret = storeFor(name, '10.0.0.66', { key: { name: bind.key.name, secret: Buffer.alloc(32, 1) } });
    const unknownKey = storeFor(name, '10.0.0.66', { key: { name: 'not-a-key-named-knows', secret: bind.key.secret } });
    const lateClock = storeFor(name, '10.0.0.66', { now: () => Date.now() - 3_600_000 });
    for (const [s, tsigError] of [[wrongSecret, 'BADSIG'], [unknownKey, 'BADKEY'], [lateClock, 'BADTIME']] as const) {
      expect(await s.claim(formatLease(lease('ws-a', 1, 1000)), lease('ws-x', 9, 9))).toMatchObject({ result: 'refused', rcode: 'NOTAUTH', tsigError });
      expect(await s.read()).toMatchObject({ result: 'refused', tsigError });
    }
    expect(bind.dig(name, 'TXT')).toEqual(before);
    expect(bind.dig(name, 'A')).toEqual(['10.0.0.1']);
  });

  it('an update outside the zone is refused as NOTZONE → failed', async () => {
    const s = storeFor('head.elsewhere.test', '10.0.0.1');
    expect(await s.claim(undefined, lease('ws-a', 1, 1))).toMatchObject({ result: 'failed', rcode: 'NOTZONE' });
  });

  it('no server: unreachable, not a throw', async () => {
    const s = storeFor(freshName(), '10.0.0.1', { transport: tcpTransport({ host: '127.0.0.1', port: 1, timeoutMs: 1000 }) });
    expect(await s.read()).toMatchObject({ result: 'unreachable' });
    expect(await s.claim(undefined, lease('ws-a', 1, 1))).toMatchObject({ result: 'unreachable' });
  });
});

describe('answers are believed only with the server MAC', () => {
  const real = () => tcpTransport({ host: '127.0.0.1', port: bind.port });

  it('a forged NOERROR for a claim (unsigned, or with a made-up MAC) is not believed: the claim is not done', async () => {
    const name = freshName();
    await storeFor(name, '10.0.0.1').claim(undefined, lease('ws-a', 1, 1000));
    // A man in the middle who drops the update and answers "done" itself.
    const unsigned: DnsTransport = async (req) => {
      const ans = Buffer.from(req.subarray(0, 12 + req.subarray(12).indexOf(0) + 1 + 4));
      ans.writeUInt16BE(0x8000 | (5 << 11), 2);
      ans.writeUInt16BE(1, 4);
      ans.fill(0, 6, 12);
      return ans;
    };
    expect(await storeFor(name, '10.0.0.66', { transport: unsigned }).claim(undefined, lease('ws-x', 9, 9))).toMatchObject({ result: 'unverified' });
    // One who forwards the update but answers with the server's answer to an earlier request.
    let earlier: Buffer | undefined;
    const recorder: DnsTransport = async (req) => (earlier = await real()(req));
    await storeFor(name, '10.0.0.1', { transport: recorder }).read();
    const replay: DnsTransport = async (req) => {
      const old = Buffer.from(earlier!);
      old.writeUInt16BE(req.readUInt16BE(0), 0); // even with the new message's ID in the header
      return old;
    };
    expect(await storeFor(name, '10.0.0.66', { transport: replay }).read()).toMatchObject({ result: 'unverified', detail: expect.stringMatching(/MAC/) });
    expect(bind.dig(name, 'A')).toEqual(['10.0.0.1']);
  });

  it('a real answer verifies; each kind of tampering with it is refused', async () => {
    const name = freshName();
    await storeFor(name, '10.0.0.1').claim(undefined, lease('ws-a', 1, 1000));
    const { raw, id, mac } = await rawExchange(name);
    const now = Date.now() / 1000;
    const ok = readAnswer(raw, id, bind.key, mac, now);
    expect(ok).toMatchObject({ kind: 'answer', rcode: 'NOERROR' });
    if (ok.kind !== 'answer') return;
    expect(ok.packet.answers).toMatchObject([{ type: 'TXT', data: [Buffer.from(formatLease(lease('ws-a', 1, 1000)))] }]);

    const tsigStart = layoutOf(raw).records.at(-1)!.start;
    const stripped = Buffer.from(raw.subarray(0, tsigStart));
    stripped.writeUInt16BE(stripped.readUInt16BE(10) - 1, 10);
    const flipped = Buffer.from(raw);
    flipped[tsigStart - 3]! ^= 0x01; // a byte of the TXT answer
    const badMac = Buffer.from(raw);
    badMac[raw.length - 10]! ^= 0x80; // inside the MAC
    const other = { name: bind.key.name, secret: Buffer.alloc(32, 9) };
    expect(readAnswer(stripped, id, bind.key, mac, now)).toMatchObject({ kind: 'unverified', reason: 'the answer is not signed' });
    expect(readAnswer(flipped, id, bind.key, mac, now)).toMatchObject({ kind: 'unverified', reason: 'the MAC does not match' });
    expect(readAnswer(badMac, id, bind.key, mac, now)).toMatchObject({ kind: 'unverified', reason: 'the MAC does not match' });
    expect(readAnswer(raw, id, other, mac, now)).toMatchObject({ kind: 'unverified', reason: 'the MAC does not match' });
    expect(readAnswer(raw, id, bind.key, Buffer.alloc(32), now)).toMatchObject({ kind: 'unverified', reason: 'the MAC does not match' });
    expect(readAnswer(raw, id, { name: 'another-key', secret: bind.key.secret }, mac, now)).toMatchObject({ kind: 'unverified', reason: expect.stringMatching(/not ours/) });
    expect(readAnswer(raw, id ^ 1, bind.key, mac, now)).toMatchObject({ kind: 'unverified', reason: expect.stringMatching(/not \d+/) });
    expect(readAnswer(raw, id, bind.key, mac, now + 301)).toMatchObject({ kind: 'unverified', reason: expect.stringMatching(/from our clock/) });
  });

  it('fuzz: random bytes, every truncation and every single-byte change of a real answer never throw and are never believed as another answer', async () => {
    const name = freshName();
    await storeFor(name, '10.0.0.1').claim(undefined, lease('ws-a', 1, 1000));
    const { raw, id, mac } = await rawExchange(name);
    const now = Date.now() / 1000;
    const original = readAnswer(raw, id, bind.key, mac, now);
    if (original.kind !== 'answer') throw new Error('no real answer');
    const canon = (x: { packet: { answers?: unknown[]; rcode?: string } }) => JSON.stringify(x.packet.answers).toLowerCase();
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 2000; i++) {
      const junk = Buffer.from(Array.from({ length: Math.floor(rand() * 300) }, () => Math.floor(rand() * 256)));
      if (rand() < 0.5 && junk.length >= 2) junk.writeUInt16BE(id, 0);
      expect(readAnswer(junk, id, bind.key, mac, now).kind).not.toBe('answer');
    }
    for (let len = 0; len < raw.length; len++) expect(readAnswer(raw.subarray(0, len), id, bind.key, mac, now).kind).not.toBe('answer');
    for (let at = 0; at < raw.length; at++) {
      for (const x of [0x01, 0x20, 0x80, 0xff]) {
        const m = Buffer.from(raw);
        m[at]! ^= x;
        const r = readAnswer(m, id, bind.key, mac, now);
        // Only the case of TSIG's own key and algorithm names is not signed (they are digested
        // in lower case, RFC 8945 §4.3.3); whatever still verifies must say the same.
        if (r.kind === 'answer') expect(canon(r)).toBe(canon(original));
      }
    }
  });
});

describe('UPDATE answers, fuzzed the same way', () => {
  it('a real YXRRSET answer is believed as such; no change to it makes it a NOERROR', async () => {
    const name = freshName();
    await storeFor(name, '10.0.0.1').claim(undefined, lease('ws-a', 1, 1000));
    const claimAgain = (id: number) => updateMessage(id, bind.zone, [rrsetAbsent(name, 'TXT')], [addRr(name, 'TXT', 5, ['x'])]);
    const { raw, id, mac } = await rawExchange(name, claimAgain);
    const now = Date.now() / 1000;
    expect(readAnswer(raw, id, bind.key, mac, now)).toMatchObject({ kind: 'answer', rcode: 'YXRRSET' });
    for (let at = 0; at < raw.length; at++) {
      for (const x of [0x01, 0x07, 0x20, 0xff]) {
        const m = Buffer.from(raw);
        m[at]! ^= x;
        const r = readAnswer(m, id, bind.key, mac, now);
        if (r.kind === 'answer') expect(r.rcode).toBe('YXRRSET');
      }
    }
    for (let len = 0; len < raw.length; len++) expect(readAnswer(raw.subarray(0, len), id, bind.key, mac, now).kind).not.toBe('answer');
  });
});

/** One signed message by hand (a TXT query by default), returning what the client needs to check the answer itself. */
async function rawExchange(name: string, build: (id: number) => Buffer = (id) => queryMessage(id, name, 'TXT')) {
  const id = 4242;
  const { signed, mac } = signRequest(build(id), bind.key, Date.now() / 1000);
  const raw = await tcpTransport({ host: '127.0.0.1', port: bind.port })(signed);
  return { raw, id, mac };
}
