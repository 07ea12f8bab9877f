import { X509Certificate } from 'node:crypto';
import type { Io } from '../io.ts';
import { CommandError } from '../task/client.ts';
import { colonHex, presentedChain, readCaFile, trustFor, type CoordinatorTrust } from './coordinator-trust.ts';

export interface Pin {
  ca: string;
  caSha256: string;
}

/** A fingerprint as people paste it (AB:CD:…, any case) as the 64 hex digits we compare. */
export function normalSha256(raw: string): string {
  const hex = raw.replace(/:/g, '').toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new CommandError(`'${raw}' is not a SHA-256 fingerprint (64 hex digits, colons allowed)`);
  return hex;
}

const isSelfSignedCa = (pem: string): boolean => {
  const c = new X509Certificate(pem);
  return c.ca && c.checkIssued(c) && c.verify(c.publicKey);
};

/**
 * The trust `cps login` signs in with, and the CA it pins beside the token: `--ca FILE`; else
 * what every command would trust (CPS_CA, the CA pinned before, this node's data dir); else the
 * system store, if it trusts the coordinator for its name; else the CA the coordinator presents,
 * once the user confirmed its fingerprint (typed yes, or `--ca-sha256` given): trust on first use.
 */
export async function trustToSignIn(io: Io, url: string, o: { caFile?: string; caSha256?: string }): Promise<{ trust: CoordinatorTrust; pin?: Pin }> {
  if (new URL(url).protocol === 'http:') return { trust: { kind: 'plain' } };
  const expected = o.caSha256 === undefined ? undefined : normalSha256(o.caSha256);
  const pinned = (caPem: string, caSha256: string, source: string) => {
    if (expected && expected !== caSha256) {
      throw new CommandError(`${source} has SHA-256 ${colonHex(caSha256)}, but --ca-sha256 says ${colonHex(expected)}: nothing was sent`);
    }
    return { trust: { kind: 'pinned' as const, caPem, caSha256, source }, pin: { ca: caPem, caSha256 } };
  };
  if (o.caFile) {
    const c = readCaFile(o.caFile);
    return pinned(c.caPem, c.caSha256, `the CA in ${o.caFile}`);
  }
  const known = trustFor(io.env, url);
  if (known.kind === 'pinned') return pinned(known.caPem, known.caSha256, known.source);

  const shown = await presentedChain(url);
  if (shown.systemTrusted && !expected) return { trust: { kind: 'system' } };
  if (!isSelfSignedCa(shown.rootPem)) {
    throw new CommandError(`the coordinator at ${url} presents a certificate this system does not trust (${shown.systemError ?? 'untrusted'}) and whose chain ends at "${shown.rootSubject}", not at a CA it sent: there is nothing to pin. Pass the CA with --ca FILE.`);
  }
  if (expected) {
    if (expected !== shown.rootSha256) {
      throw new CommandError(
        `the coordinator at ${url} presents a CA with SHA-256 ${colonHex(shown.rootSha256)}, but --ca-sha256 says ${colonHex(expected)}: ` +
          'this is another cluster, or someone is in between. Nothing was sent.',
      );
    }
  } else {
    io.err(
      `The coordinator at ${url} presents a certificate from the CA "${shown.rootSubject}", which this machine does not know yet.\n` +
        `  SHA-256 fingerprint: ${colonHex(shown.rootSha256)}\n` +
        'Check it on a member of the cluster: openssl x509 -noout -fingerprint -sha256 -in /var/lib/cps/tls/ca.pem (cps doctor there shows its first 16 hex digits).',
    );
    if (!io.confirm) throw new CommandError('no terminal to confirm the CA on: pass --ca-sha256 with the fingerprint above (checked on a member), or --ca FILE');
    if (!(await io.confirm(`Trust this CA for ${url}?`))) throw new CommandError('the CA was not trusted; nothing was sent');
  }
  return pinned(shown.rootPem, shown.rootSha256, 'the CA you confirmed at cps login');
}
