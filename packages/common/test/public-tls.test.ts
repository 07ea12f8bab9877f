import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { loadConfig, publicDoorOptions, publicDoorVars } from '../src/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'cps-public-tls-'));
const make = (name: string) => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', join(dir, `${name}.key`), '-out', join(dir, `${name}.crt`)], { stdio: 'ignore' });
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
};
const a = make('a.lab.test');
const b = make('b.lab.test');
writeFileSync(join(dir, 'junk.pem'), 'not a pem\n');
const schema = z.object(publicDoorVars);
const load = (env: Record<string, string>) => publicDoorOptions(loadConfig(schema, env));

describe('the public port settings', () => {
  it('default to plain HTTP from loopback only and the node certificate', () => {
    expect(load({})).toEqual({ plainHttpFrom: 'loopback' });
    expect(load({ CPS_PLAIN_HTTP_FROM: 'any' })).toEqual({ plainHttpFrom: 'any' });
  });

  it("read the admin's certificate and key at start", () => {
    expect(load({ CPS_PUBLIC_TLS_CERT: a.cert, CPS_PUBLIC_TLS_KEY: a.key })).toEqual({
      plainHttpFrom: 'loopback',
      publicCert: { cert: readFileSync(a.cert, 'utf8'), key: readFileSync(a.key, 'utf8') },
    });
  });

  it.each([
    [{ CPS_PLAIN_HTTP_FROM: 'everyone' }, /CPS_PLAIN_HTTP_FROM/],
    [{ CPS_PUBLIC_TLS_CERT: a.cert }, /CPS_PUBLIC_TLS_KEY: set both/],
    [{ CPS_PUBLIC_TLS_KEY: a.key }, /CPS_PUBLIC_TLS_CERT: set both/],
    [{ CPS_PUBLIC_TLS_CERT: join(dir, 'missing.crt'), CPS_PUBLIC_TLS_KEY: a.key }, /CPS_PUBLIC_TLS_CERT: cannot read the certificate file/],
    [{ CPS_PUBLIC_TLS_CERT: join(dir, 'junk.pem'), CPS_PUBLIC_TLS_KEY: a.key }, /CPS_PUBLIC_TLS_CERT: .* is not a PEM certificate/],
    [{ CPS_PUBLIC_TLS_CERT: a.cert, CPS_PUBLIC_TLS_KEY: a.cert }, /CPS_PUBLIC_TLS_KEY: .* is not a PEM private key/],
    [{ CPS_PUBLIC_TLS_CERT: a.cert, CPS_PUBLIC_TLS_KEY: b.key }, /CPS_PUBLIC_TLS_KEY: the key is not the one of CPS_PUBLIC_TLS_CERT/],
  ])('refuse %j, naming the setting', (env, message) => {
    expect(() => load(env as Record<string, string>)).toThrow(message);
  });
});
