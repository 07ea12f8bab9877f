import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsClient, DnsLeaseStore, tcpTransport } from '@cps/head';
import { startBind, type Bind } from '../../packages/head/test/bind.ts';
import { checkHeadDns } from '../src/doctor/head-dns.ts';
import { machineDeps } from '../src/doctor/machine.ts';

// cps doctor's head DNS check against a real BIND9 with a TSIG key tsig-keygen made.
let bind: Bind;
beforeAll(async () => {
  bind = await startBind('cps.test');
});
afterAll(() => bind?.stop());

const keygen = (keyName: string) => {
  const r = spawnSync('/usr/sbin/tsig-keygen', ['-a', 'hmac-sha256', keyName], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout;
};
const file = (name: string, text: string) => {
  const p = join(bind.dir, name);
  writeFileSync(p, text);
  return p;
};
const settings = (over: Record<string, string> = {}) => ({
  CPS_HEAD_DNS_SERVER: `127.0.0.1:${bind.port}`,
  CPS_HEAD_DNS_ZONE: 'cps.test',
  CPS_HEAD_DNS_NAME: 'head.cps.test',
  CPS_HEAD_DNS_KEY_FILE: join(bind.dir, 'head.key'),
  ...over,
});
const check = (env: Record<string, string>) => checkHeadDns(machineDeps(env, '/nonexistent'));

describe('cps doctor: head DNS', () => {
  it('says nothing is to check when no CPS_HEAD_DNS_* is set', async () => {
    expect(await check({})).toMatchObject({ status: 'ok', detail: expect.stringMatching(/^not set: /) });
  });

  it('names the settings that are missing or wrong', async () => {
    const some = await check({ CPS_HEAD_DNS_SERVER: '127.0.0.1' });
    expect(some).toMatchObject({ status: 'FAIL', detail: 'the settings are wrong: set all four CPS_HEAD_DNS_* or none (set: CPS_HEAD_DNS_SERVER)' });
    const outside = await check(settings({ CPS_HEAD_DNS_NAME: 'head.elsewhere.test' }));
    expect(outside).toMatchObject({ status: 'FAIL', detail: 'the settings are wrong: CPS_HEAD_DNS_NAME: head.elsewhere.test is not inside the zone cps.test' });
  });

  it('a key file that is missing or no TSIG key is told as such', async () => {
    const missing = await check(settings({ CPS_HEAD_DNS_KEY_FILE: join(bind.dir, 'nope.key') }));
    expect(missing).toMatchObject({ status: 'FAIL', detail: `cannot read the key file ${join(bind.dir, 'nope.key')}: ENOENT` });
    const garbage = await check(settings({ CPS_HEAD_DNS_KEY_FILE: file('garbage.key', 'secret "c2hvcnQ=";\n') }));
    expect(garbage).toMatchObject({ status: 'FAIL', detail: expect.stringMatching(/^the key file does not parse: CPS_HEAD_DNS_KEY_FILE .*garbage\.key: not a single BIND key statement/) });
  });

  it('the right key: the signed answer verifies, with no lease yet, then with the lease a head wrote', async () => {
    const before = await check(settings());
    expect(before).toEqual({ name: 'head DNS', status: 'ok', detail: `127.0.0.1:${bind.port} answered a TXT query for head.cps.test signed with key cps-head-test; the answer's TSIG verifies; no lease yet (no head has claimed it)` });
    const store = new DnsLeaseStore({ client: new DnsClient({ transport: tcpTransport({ host: '127.0.0.1', port: bind.port }), key: bind.key, now: () => Date.now() }), zone: 'cps.test', name: 'head.cps.test', address: '127.0.0.1' });
    const expiresAt = Date.UTC(2030, 0, 1);
    expect(await store.claim(undefined, { holder: 'node-a', epoch: 7, expiresAt })).toMatchObject({ result: 'done' });
    const after = await check(settings());
    expect(after.status).toBe('ok');
    expect(after.detail).toContain('lease: node-a, epoch 7, until 2030-01-01T00:00:00.000Z');
  });

  it('a key the server does not hold is refused (BADKEY), a wrong secret too (BADSIG)', async () => {
    const otherName = await check(settings({ CPS_HEAD_DNS_KEY_FILE: file('other.key', keygen('someone-else')) }));
    expect(otherName).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('refused (BADKEY/BADSIG): NOTAUTH/BADKEY') });
    const otherSecret = await check(settings({ CPS_HEAD_DNS_KEY_FILE: file('forged.key', keygen('cps-head-test')) }));
    expect(otherSecret).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('refused (BADKEY/BADSIG): NOTAUTH/BADSIG') });
    expect(otherSecret.hint).toMatch(/the server does not hold this key/);
  });

  it('a server that does not answer, and one that does not serve the zone', async () => {
    const closed = await check(settings({ CPS_HEAD_DNS_SERVER: '127.0.0.1:1' }));
    expect(closed).toMatchObject({ status: 'FAIL', detail: expect.stringMatching(/^the server did not answer: /) });
    const zone = await check(settings({ CPS_HEAD_DNS_ZONE: 'other.test', CPS_HEAD_DNS_NAME: 'head.other.test' }));
    expect(zone.status).toBe('FAIL');
    expect(zone.hint).toMatch(/is other\.test a zone that server is primary for\?/);
  });
});
