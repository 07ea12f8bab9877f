import { DnsClient, DnsLeaseStore, headDnsEnv, headDnsFrom, tcpTransport, type HeadDns } from '@cps/head';
import type { Check, CheckResult } from './types.ts';

const name = 'head DNS';

/**
 * CPS_HEAD_DNS_* (issue 11): the settings parse, the key file is a TSIG key, and the server
 * answers a TXT query for the head's name signed with it, with an answer whose TSIG verifies:
 * exactly what the head does before it claims the name. Each failure says which step failed.
 * Nothing is written to the zone.
 */
export const checkHeadDns: Check = async (d) => {
  const vars = Object.fromEntries(Object.entries(d.env).filter(([k]) => k.startsWith('CPS_HEAD_DNS_')));
  if (Object.keys(vars).length === 0) return { name, status: 'ok', detail: 'not set: the head is known from discovery alone (no DNS name)' };
  const parsed = headDnsEnv.safeParse(vars);
  if (!parsed.success) {
    const why = parsed.error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`).join('; ');
    return { name, status: 'FAIL', detail: `the settings are wrong: ${why}`, hint: 'set all four of CPS_HEAD_DNS_SERVER, _ZONE, _NAME and _KEY_FILE, or none' };
  }
  let dns: HeadDns | undefined;
  const texts = new Map<string, string>();
  try {
    // headDnsFrom reads synchronously; the file is read first, so a missing one is told as such.
    const path = parsed.data.CPS_HEAD_DNS_KEY_FILE!;
    texts.set(path, await d.readFile(path));
    dns = headDnsFrom(parsed.data, (p) => texts.get(p) ?? '');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const what = e.code ? `cannot read the key file ${parsed.data.CPS_HEAD_DNS_KEY_FILE}: ${e.code}` : `the key file does not parse: ${e.message}`;
    return { name, status: 'FAIL', detail: what, hint: 'make it with: tsig-keygen -a hmac-sha256 NAME > FILE (and include the same key in named.conf)' };
  }
  if (!dns) return { name, status: 'FAIL', detail: 'the settings are incomplete' };
  return askServer(dns, d.now);
};

async function askServer(dns: HeadDns, now: () => number): Promise<CheckResult> {
  const server = `${dns.host}:${dns.port}`;
  const client = new DnsClient({ transport: tcpTransport({ host: dns.host, port: dns.port, timeoutMs: 5_000 }), key: dns.key, now });
  // Only read() is used: the address is what a claim would publish, and nothing is claimed here.
  const store = new DnsLeaseStore({ client, zone: dns.zone, name: dns.name, address: '0.0.0.0' });
  const r = await store.read();
  const signed = `a TXT query for ${dns.name} signed with key ${dns.key.name}`;
  switch (r.result) {
    case 'read': {
      const lease = r.lease ? `lease: ${r.lease.holder}, epoch ${r.lease.epoch}, until ${new Date(r.lease.expiresAt).toISOString()}` : 'no lease yet (no head has claimed it)';
      return { name, status: 'ok', detail: `${server} answered ${signed}; the answer's TSIG verifies; ${lease}` };
    }
    case 'foreign':
      return { name, status: 'warn', detail: `${server} answered ${signed} (TSIG verifies), but ${dns.name} holds a TXT that is no CPS lease: "${r.text.slice(0, 80)}"`, hint: `the head refuses to overwrite it: remove that TXT or choose another CPS_HEAD_DNS_NAME` };
    case 'unreachable':
      return { name, status: 'FAIL', detail: `the server did not answer: ${r.detail}`, hint: `is named running and listening on TCP ${server}? (CPS_HEAD_DNS_SERVER)` };
    case 'refused':
      // A TSIG error: the key was refused. A bare REFUSED: the server does not serve that name.
      if (!r.tsigError) {
        return { name, status: 'FAIL', detail: `${server} refused ${signed}: ${r.detail}`, hint: `is ${dns.zone} a zone that server is primary for? (CPS_HEAD_DNS_ZONE)` };
      }
      return {
        name,
        status: 'FAIL',
        detail: `${server} refused ${signed}: refused (BADKEY/BADSIG): ${r.rcode}/${r.tsigError}`,
        hint: r.tsigError === 'BADTIME' ? "this machine's clock and the server's differ by more than 5 minutes" : `the server does not hold this key (name ${dns.key.name}, same secret): include the key file in named.conf`,
      };
    case 'unverified':
      return { name, status: 'FAIL', detail: `${server} answered, but the answer does not verify (TSIG): ${r.detail}`, hint: 'something other than the server holding this key answered: check CPS_HEAD_DNS_SERVER' };
    case 'failed':
      return { name, status: 'FAIL', detail: `${server} answered ${signed} with ${r.detail}`, hint: r.rcode === 'NOTZONE' || r.rcode === 'SERVFAIL' ? `is ${dns.zone} a zone that server is primary for? (CPS_HEAD_DNS_ZONE)` : undefined };
  }
}
