import type { Lease, LeaseRead, LeaseStore, LeaseWrite, StoreFailure } from '../lease-store.ts';
import type { DnsClient, Exchange } from './client.ts';
import { formatLease, parseLease } from './lease-record.ts';
import { addRr, deleteRrset, queryMessage, rrsetAbsent, rrsetEquals, updateMessage } from './message.ts';

export interface DnsLeaseStoreOptions {
  client: DnsClient;
  /** The zone the server is primary for, e.g. "cps.lan". */
  zone: string;
  /** The name users type, inside the zone, e.g. "head.cps.lan": its A record and lease TXT. */
  name: string;
  /** This node's IPv4 address, published as the name's A record while it holds the lease. */
  address: string;
  /** TTL of both records; short, so resolvers follow a new head soon. */
  ttlSec?: number;
}

/**
 * What an UPDATE's answer means (RFC 2136 §2.2, RFC 8945 §5.2):
 * NOERROR → done; YXRRSET/NXRRSET (and YXDOMAIN/NXDOMAIN) → a prerequisite failed: the record is
 * not what we read, someone else wrote first → lost; NOTAUTH/REFUSED, or a TSIG error
 * (BADKEY, BADSIG, BADTIME) → refused; anything else (SERVFAIL, FORMERR, NOTZONE…) → failed.
 */
export function updateOutcome(x: Exchange): { result: 'done' } | { result: 'lost'; detail: string; rcode: string } | StoreFailure {
  switch (x.kind) {
    case 'unreachable':
      return { result: 'unreachable', detail: x.error };
    case 'unverified':
      return { result: 'unverified', detail: x.reason };
    case 'auth-refused':
      return { result: 'refused', detail: `${x.rcode}/${x.tsigError}: the server did not accept our key`, rcode: x.rcode, tsigError: x.tsigError };
    case 'answer':
      if (x.rcode === 'NOERROR') return { result: 'done' };
      if (['YXRRSET', 'NXRRSET', 'YXDOMAIN', 'NXDOMAIN'].includes(x.rcode)) return { result: 'lost', detail: `${x.rcode}: the lease is no longer what we read`, rcode: x.rcode };
      if (x.rcode === 'NOTAUTH' || x.rcode === 'REFUSED') return { result: 'refused', detail: `${x.rcode}: the server refuses this update`, rcode: x.rcode };
      return { result: 'failed', detail: `${x.rcode}`, rcode: x.rcode };
  }
}

const printableAscii = /^[\x20-\x7e]*$/;

/**
 * The lease kept in DNS with RFC 2136 UPDATEs signed with TSIG. Each write is a compare-and-swap:
 * its prerequisite is the lease TXT exactly as last read (RFC 2136 §2.4.2), or no TXT at all for
 * a first claim (§2.4.3); the server applies the whole update or none of it (§3.4), so of two
 * claimers that read the same record exactly one wins, and a record changed behind our back
 * makes the write fail instead of being overwritten.
 */
export class DnsLeaseStore implements LeaseStore {
  private readonly ttl: number;

  constructor(private readonly o: DnsLeaseStoreOptions) {
    this.ttl = o.ttlSec ?? 5;
  }

  async read(): Promise<LeaseRead> {
    const x = await this.o.client.exchange((id) => queryMessage(id, this.o.name, 'TXT'));
    if (x.kind !== 'answer') return updateOutcome(x) as StoreFailure;
    if (x.rcode === 'NXDOMAIN') return { result: 'read', lease: undefined, token: undefined };
    if (x.rcode !== 'NOERROR') return { result: x.rcode === 'REFUSED' || x.rcode === 'NOTAUTH' ? 'refused' : 'failed', detail: x.rcode, rcode: x.rcode };
    const wanted = this.o.name.toLowerCase().replace(/\.$/, '');
    const txts = (x.packet.answers ?? []).filter((a) => a.type === 'TXT' && a.name.toLowerCase() === wanted);
    if (txts.length === 0) return { result: 'read', lease: undefined, token: undefined };
    const strings = txts.map((a) => (a.type === 'TXT' ? (Array.isArray(a.data) ? a.data : [a.data]) : []));
    const text = strings.map((s) => s.map((p) => p.toString()).join('')).join(' | ');
    // Only one record of exactly one string can be ours, and only that can be compared exactly.
    if (strings.length !== 1 || strings[0]!.length !== 1 || !printableAscii.test(text)) return { result: 'foreign', text };
    const lease = parseLease(text);
    return lease ? { result: 'read', lease, token: text } : { result: 'foreign', text };
  }

  claim(token: string | undefined, next: Lease): Promise<LeaseWrite> {
    return this.write(token, next, true);
  }

  release(token: string, ended: Lease): Promise<LeaseWrite> {
    return this.write(token, ended, false);
  }

  private async write(token: string | undefined, next: Lease, publishAddress: boolean): Promise<LeaseWrite> {
    const { name, zone, address } = this.o;
    const text = formatLease(next);
    const prereq = token === undefined ? rrsetAbsent(name, 'TXT') : rrsetEquals(name, 'TXT', [token]);
    const updates = [deleteRrset(name, 'TXT'), addRr(name, 'TXT', this.ttl, [text]), deleteRrset(name, 'A')];
    if (publishAddress) updates.push(addRr(name, 'A', this.ttl, address));
    const x = await this.o.client.exchange((id) => updateMessage(id, zone, [prereq], updates));
    const out = updateOutcome(x);
    return out.result === 'done' ? { result: 'done', token: text } : out;
  }
}
