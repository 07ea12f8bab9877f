import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { PlainHttpFrom, PublicCert } from './serve.ts';

/** A PEM file named by a setting: read and parsed at start, so a bad one stops the service naming it. */
const pemFileVar = (what: 'certificate' | 'private key') =>
  z
    .string()
    .min(1)
    .transform((path, ctx) => {
      let pem: string;
      try {
        pem = readFileSync(path, 'utf8');
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `cannot read the ${what} file ${path}: ${(err as Error).message}` });
        return z.NEVER;
      }
      try {
        if (what === 'certificate') new X509Certificate(pem);
        else createPrivateKey(pem);
      } catch {
        ctx.addIssue({ code: 'custom', message: `${path} is not a PEM ${what}` });
        return z.NEVER;
      }
      return pem;
    });

/**
 * The settings of a public port (the coordinator's, the vnc-gateway's): who may speak plain HTTP
 * to it, and the certificate the admin provides for its TLS (both files or neither).
 */
export const publicDoorVars = {
  CPS_PLAIN_HTTP_FROM: z.enum(['loopback', 'any']).default('loopback'),
  CPS_PUBLIC_TLS_CERT: pemFileVar('certificate').optional(),
  CPS_PUBLIC_TLS_KEY: pemFileVar('private key').optional(),
};

type PublicDoorConfig = { CPS_PLAIN_HTTP_FROM: PlainHttpFrom; CPS_PUBLIC_TLS_CERT?: string | undefined; CPS_PUBLIC_TLS_KEY?: string | undefined };

/** serveApp's options from those settings; throws naming the setting when the pair does not hold. */
export function publicDoorOptions(c: PublicDoorConfig): { plainHttpFrom: PlainHttpFrom; publicCert?: PublicCert } {
  const { CPS_PUBLIC_TLS_CERT: cert, CPS_PUBLIC_TLS_KEY: key } = c;
  if ((cert === undefined) !== (key === undefined)) {
    throw new Error(`invalid configuration:\n  ${cert === undefined ? 'CPS_PUBLIC_TLS_CERT' : 'CPS_PUBLIC_TLS_KEY'}: set both CPS_PUBLIC_TLS_CERT and CPS_PUBLIC_TLS_KEY, or neither`);
  }
  if (cert !== undefined && key !== undefined && !new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))) {
    throw new Error('invalid configuration:\n  CPS_PUBLIC_TLS_KEY: the key is not the one of CPS_PUBLIC_TLS_CERT');
  }
  return { plainHttpFrom: c.CPS_PLAIN_HTTP_FROM, ...(cert !== undefined && key !== undefined ? { publicCert: { cert, key } } : {}) };
}
