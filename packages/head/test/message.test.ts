import dnsPacket from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { addRr, deleteRrset, formatLease, layoutOf, parseLease, queryMessage, rrsetAbsent, rrsetEquals, signRequest, updateMessage } from '../src/index.ts';

const key = { name: 'k1', secret: Buffer.alloc(32, 7) };

describe('UPDATE messages (RFC 2136)', () => {
  const msg = updateMessage(0x1234, 'cps.test', [rrsetAbsent('head.cps.test', 'TXT')], [
    deleteRrset('head.cps.test', 'TXT'),
    addRr('head.cps.test', 'TXT', 5, ['cps-lease v=1 holder=a epoch=1 expires=9']),
    deleteRrset('head.cps.test', 'A'),
    addRr('head.cps.test', 'A', 5, '10.0.0.5'),
  ]);

  it('holds zone, prerequisites and updates with the classes of §2.4/§2.5, each record read back exactly', () => {
    const l = layoutOf(msg);
    expect(l.id).toBe(0x1234);
    expect(msg.readUInt16BE(2) >> 11).toBe(5); // opcode UPDATE, QR 0
    expect(l.counts).toEqual([1, 1, 4, 0]);
    const txt = Buffer.concat([Buffer.from([40]), Buffer.from('cps-lease v=1 holder=a epoch=1 expires=9')]);
    expect(l.records.map(({ section, name, type, class: c, ttl, rdata }) => ({ section, name, type, class: c, ttl, rdata: rdata.toString('hex') }))).toEqual([
      { section: 'answer', name: 'head.cps.test', type: 16, class: 254, ttl: 0, rdata: '' }, // TXT NONE: RRset does not exist
      { section: 'authority', name: 'head.cps.test', type: 16, class: 255, ttl: 0, rdata: '' }, // TXT ANY: delete the RRset
      { section: 'authority', name: 'head.cps.test', type: 16, class: 1, ttl: 5, rdata: txt.toString('hex') },
      { section: 'authority', name: 'head.cps.test', type: 1, class: 255, ttl: 0, rdata: '' },
      { section: 'authority', name: 'head.cps.test', type: 1, class: 1, ttl: 5, rdata: '0a000005' },
    ]);
  });

  it('dns-packet decodes what it can express of it (the zone section; class NONE as UNKNOWN_254)', () => {
    const m = updateMessage(7, 'cps.test', [rrsetAbsent('head.cps.test', 'TXT')], [addRr('head.cps.test', 'TXT', 5, ['x'])]);
    const p = dnsPacket.decode(m);
    expect(p).toMatchObject({ id: 7, opcode: 'UPDATE', type: 'query' });
    expect(p.questions).toEqual([{ name: 'cps.test', type: 'SOA', class: 'IN' }]);
    expect(p.answers).toMatchObject([{ name: 'head.cps.test', type: 'TXT', class: 'UNKNOWN_254', ttl: 0 }]);
    expect(p.authorities).toMatchObject([{ type: 'TXT', class: 'IN', ttl: 5, data: [Buffer.from('x')] }]);
  });

  it('a value-dependent prerequisite carries the exact TXT and TTL 0 (§2.4.2)', () => {
    const m = updateMessage(1, 'cps.test', [rrsetEquals('head.cps.test', 'TXT', ['old text'])], []);
    expect(layoutOf(m).records).toMatchObject([{ section: 'answer', class: 1, ttl: 0, type: 16, rdata: Buffer.from('\x08old text') }]);
  });

  it('a signed message has its TSIG record last, as RFC 8945 §4.2 wants', () => {
    const { signed } = signRequest(msg, key, 1_700_000_000);
    const l = layoutOf(signed);
    expect(l.counts).toEqual([1, 1, 4, 1]);
    expect(l.records.at(-1)).toMatchObject({ section: 'additional', start: msg.length, end: signed.length, name: 'k1', type: 250, class: 255, ttl: 0 });
    // What dns-packet itself makes of our TSIG record.
    const q = signRequest(queryMessage(3, 'head.cps.test', 'TXT'), key, 1_700_000_000).signed;
    expect(dnsPacket.decode(q).additionals).toMatchObject([{ name: 'k1', type: 'TSIG', class: 'ANY', ttl: 0 }]);
  });

  it('layoutOf refuses what is not exactly one message', () => {
    const q = queryMessage(9, 'head.cps.test', 'TXT');
    expect(layoutOf(q).end).toBe(q.length);
    expect(() => layoutOf(Buffer.concat([q, Buffer.from([0])]))).toThrow(/after the last record/);
    expect(() => layoutOf(q.subarray(0, q.length - 1))).toThrow();
    expect(() => layoutOf(Buffer.alloc(5))).toThrow(/header/);
  });
});

describe('the lease TXT', () => {
  it('has one spelling, and reads back', () => {
    const l = { holder: 'ws-1.lab', epoch: 42, expiresAt: 1_764_000_000_000 };
    expect(formatLease(l)).toBe('cps-lease v=1 holder=ws-1.lab epoch=42 expires=1764000000000');
    expect(parseLease(formatLease(l))).toEqual(l);
  });

  it.each([
    'cps-lease v=1 holder=a epoch=01 expires=1', // a second spelling of 1
    'cps-lease v=1 holder=a epoch=1 expires=1 ', // trailing space
    'cps-lease v=1  holder=a epoch=1 expires=1',
    'cps-lease v=2 holder=a epoch=1 expires=1',
    'cps-lease v=1 holder=-a epoch=1 expires=1',
    'cps-lease v=1 holder=a b epoch=1 expires=1',
    'cps-lease v=1 holder=a epoch=-1 expires=1',
    'cps-lease v=1 holder=a epoch=1e3 expires=1',
    'cps-lease v=1 holder=a epoch=1 expires=10000000000000000',
    'v=spf1 -all',
    '',
  ])('is not a lease: %j', (text) => {
    expect(parseLease(text)).toBeUndefined();
  });

  it.each([
    { holder: 'a b', epoch: 1, expiresAt: 1 },
    { holder: '', epoch: 1, expiresAt: 1 },
    { holder: 'a', epoch: 1.5, expiresAt: 1 },
    { holder: 'a', epoch: -1, expiresAt: 1 },
    { holder: 'a', epoch: 1, expiresAt: Number.NaN },
  ])('refuses to write %j', (l) => {
    expect(() => formatLease(l)).toThrow();
  });
});
