import { formatLease, parseLease } from '../dns/lease-record.ts';
import type { Lease, LeaseRead, LeaseStore, LeaseWrite } from '../lease-store.ts';

/**
 * The lease record in memory, with the DNS store's compare-and-swap and text format, for the
 * simulator (issue 11 item 5) and for table tests. One `MemoryLeaseRecord` is the shared "zone";
 * each node gets its own `store(address)`. `down` makes every call fail as DNS being away would.
 * Tested against the same scenarios as the real one (test/elector.test.ts runs both).
 */
export class MemoryLeaseRecord {
  text: string | undefined;
  address: string | undefined;
  down = false;

  store(address: string): LeaseStore {
    return {
      read: async (): Promise<LeaseRead> => {
        if (this.down) return { result: 'unreachable', detail: 'DNS is down' };
        if (this.text === undefined) return { result: 'read', lease: undefined, token: undefined };
        const lease = parseLease(this.text);
        return lease ? { result: 'read', lease, token: this.text } : { result: 'foreign', text: this.text };
      },
      claim: async (token, next) => this.write(token, next, address),
      release: async (token, ended) => this.write(token, ended, undefined),
    };
  }

  private write(token: string | undefined, next: Lease, address: string | undefined): LeaseWrite {
    if (this.down) return { result: 'unreachable', detail: 'DNS is down' };
    if (this.text !== token) return { result: 'lost', detail: token === undefined ? 'YXRRSET' : 'NXRRSET', rcode: token === undefined ? 'YXRRSET' : 'NXRRSET' };
    this.text = formatLease(next);
    this.address = address;
    return { result: 'done', token: this.text };
  }
}
