import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { tsigAlgorithm, type TsigKey } from './tsig.ts';

/**
 * A TSIG key as BIND writes it (`tsig-keygen -a hmac-sha256 NAME`, the same text goes in
 * named.conf): exactly one `key "NAME" { algorithm hmac-sha256; secret "BASE64"; };`.
 * Comments (`#`, `//`, `/* *\/`) are allowed around it; anything else is refused, naming what.
 */
export function parseTsigKeyFile(text: string): TsigKey {
  const bare = text
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/(#|\/\/)[^\n]*/g, ' ')
    .trim();
  const m = /^key\s+"([A-Za-z0-9][A-Za-z0-9._-]{0,62})"\s*\{\s*algorithm\s+([A-Za-z0-9-]+)\s*;\s*secret\s+"([A-Za-z0-9+/=]+)"\s*;\s*\}\s*;$/.exec(bare);
  if (!m) throw new Error('not a single BIND key statement: key "name" { algorithm hmac-sha256; secret "..."; };');
  const [, name, algorithm, secret] = m;
  if (algorithm!.toLowerCase() !== tsigAlgorithm) throw new Error(`key ${name} uses ${algorithm}; only ${tsigAlgorithm} is supported`);
  const bytes = Buffer.from(secret!, 'base64');
  // RFC 8945 §6.1: the key should be at least as long as the hash output (32 bytes for SHA-256).
  if (bytes.length < 32 || bytes.toString('base64') !== secret) throw new Error(`key ${name}: the secret is not base64 of at least 32 bytes`);
  return { name: name!, secret: bytes };
}

const hostname = /^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const dnsName = z.string().regex(hostname, 'a DNS name of letters, digits and hyphens');

/**
 * The head's DNS settings, from the environment. All unset: no DNS server, the head is known
 * from discovery alone. Any one set: all must be.
 * - CPS_HEAD_DNS_SERVER: the zone's primary, `host` or `host:port` (port 53 by default)
 * - CPS_HEAD_DNS_ZONE: the zone it is primary for, e.g. `cps.lan`
 * - CPS_HEAD_DNS_NAME: the name users type, inside the zone, e.g. `head.cps.lan`
 * - CPS_HEAD_DNS_KEY_FILE: the TSIG key, as `tsig-keygen` writes it
 */
export const headDnsEnv = z
  .object({
    CPS_HEAD_DNS_SERVER: z
      .string()
      .regex(/^[A-Za-z0-9.-]+(:\d{1,5})?$/, 'host or host:port')
      .optional(),
    CPS_HEAD_DNS_ZONE: dnsName.optional(),
    CPS_HEAD_DNS_NAME: dnsName.optional(),
    CPS_HEAD_DNS_KEY_FILE: z.string().min(1).optional(),
  })
  .superRefine((v, ctx) => {
    const set = Object.entries(v).filter(([, x]) => x !== undefined);
    if (set.length > 0 && set.length < 4) ctx.addIssue({ code: 'custom', message: `set all four CPS_HEAD_DNS_* or none (set: ${set.map(([k]) => k).join(', ')})` });
    const zone = v.CPS_HEAD_DNS_ZONE?.toLowerCase().replace(/\.$/, '');
    const name = v.CPS_HEAD_DNS_NAME?.toLowerCase().replace(/\.$/, '');
    if (zone && name && !name.endsWith(`.${zone}`)) ctx.addIssue({ code: 'custom', path: ['CPS_HEAD_DNS_NAME'], message: `${name} is not inside the zone ${zone}` });
    const port = v.CPS_HEAD_DNS_SERVER?.split(':')[1];
    if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) ctx.addIssue({ code: 'custom', path: ['CPS_HEAD_DNS_SERVER'], message: `port ${port} is not 1-65535` });
  });

export interface HeadDns {
  host: string;
  port: number;
  zone: string;
  name: string;
  key: TsigKey;
}

/** The settings read once (main.ts calls it after `loadConfig(headDnsEnv)`); undefined when unset. */
export function headDnsFrom(c: z.infer<typeof headDnsEnv>, readKey: (path: string) => string = (p) => readFileSync(p, 'utf8')): HeadDns | undefined {
  if (!c.CPS_HEAD_DNS_SERVER || !c.CPS_HEAD_DNS_ZONE || !c.CPS_HEAD_DNS_NAME || !c.CPS_HEAD_DNS_KEY_FILE) return undefined;
  const [host, port] = c.CPS_HEAD_DNS_SERVER.split(':');
  let key: TsigKey;
  try {
    key = parseTsigKeyFile(readKey(c.CPS_HEAD_DNS_KEY_FILE));
  } catch (e) {
    throw new Error(`CPS_HEAD_DNS_KEY_FILE ${c.CPS_HEAD_DNS_KEY_FILE}: ${(e as Error).message}`);
  }
  return { host: host!, port: port ? Number(port) : 53, zone: c.CPS_HEAD_DNS_ZONE, name: c.CPS_HEAD_DNS_NAME, key };
}
