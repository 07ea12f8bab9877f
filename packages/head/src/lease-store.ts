/**
 * The head's lease: who holds the term, its epoch, and until when (unix ms, by the holder's
 * clock when it wrote it). Kept in DNS by `DnsLeaseStore`; the election logic sees only this.
 */
export interface Lease {
  holder: string;
  epoch: number;
  expiresAt: number;
}

/** Why a store could not answer; the election treats each as "do not know" and changes nothing. */
export interface StoreFailure {
  result: 'refused' | 'failed' | 'unverified' | 'unreachable';
  detail: string;
  /** For DNS: the answer's RCODE and TSIG error, when there was a believable answer. */
  rcode?: string;
  tsigError?: string;
}

/**
 * A read. `token` is the record exactly as read (undefined: there was none); a write passes it
 * back and happens only if the record is still exactly that (compare-and-swap).
 * `foreign`: a record is there that is no lease of ours; nothing overwrites it.
 */
export type LeaseRead =
  | { result: 'read'; lease: Lease | undefined; token: string | undefined }
  | { result: 'foreign'; text: string }
  | StoreFailure;

/** A write. `lost`: the record was no longer `token` (someone else wrote first); nothing changed. */
export type LeaseWrite = { result: 'done'; token: string } | { result: 'lost'; detail: string; rcode?: string } | StoreFailure;

export interface LeaseStore {
  read(): Promise<LeaseRead>;
  /** Claim or renew: the lease becomes `next` and the name points at this node, if still `token`. */
  claim(token: string | undefined, next: Lease): Promise<LeaseWrite>;
  /** Hands the term back: the lease is kept (its epoch stays known) but ends now; the name points nowhere. */
  release(token: string, ended: Lease): Promise<LeaseWrite>;
}
