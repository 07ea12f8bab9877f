import { spawnSync } from 'node:child_process';
import { loadConfig } from '@cps/common';
import { describe, expect, it } from 'vitest';
import { headDnsEnv, headDnsFrom, parseTsigKeyFile } from '../src/index.ts';

const keygen = (alg = 'hmac-sha256', name = 'cps-head') => spawnSync('/usr/sbin/tsig-keygen', ['-a', alg, name], { encoding: 'utf8' }).stdout;

describe('the TSIG key file', () => {
  it('reads what tsig-keygen writes', () => {
    const text = keygen();
    const key = parseTsigKeyFile(text);
    expect(key.name).toBe('cps-head');
    expect(key.secret).toHaveLength(32);
    expect(text).toContain(key.secret.toString('base64'));
    expect(parseTsigKeyFile(`# made for the head\n${text}\n// end\n`).secret).toEqual(key.secret);
  });

  it('refuses another algorithm, naming it', () => {
    expect(() => parseTsigKeyFile(keygen('hmac-sha512'))).toThrow(/uses hmac-sha512; only hmac-sha256/);
  });

  it.each([
    ['empty', ''],
    ['two keys', `${'key "a" { algorithm hmac-sha256; secret "' + Buffer.alloc(32, 1).toString('base64') + '"; };'}\n`.repeat(2)],
    ['a short secret', `key "a" { algorithm hmac-sha256; secret "${Buffer.alloc(8).toString('base64')}"; };`],
    ['a secret that is not base64', `key "a" { algorithm hmac-sha256; secret "${'!'.repeat(44)}"; };`],
    ['a name with a quote', `key "a\\"b" { algorithm hmac-sha256; secret "${Buffer.alloc(32).toString('base64')}"; };`],
    ['something else after it', `key "a" { algorithm hmac-sha256; secret "${Buffer.alloc(32).toString('base64')}"; }; zone "x" {};`],
    ['binary junk', '\u0000\u00ff\u0001key'],
  ])('refuses %s', (_what, text) => {
    expect(() => parseTsigKeyFile(text)).toThrow();
  });
});

describe('the head DNS settings', () => {
  const all = { CPS_HEAD_DNS_SERVER: '10.0.0.53:5353', CPS_HEAD_DNS_ZONE: 'cps.lan', CPS_HEAD_DNS_NAME: 'head.cps.lan', CPS_HEAD_DNS_KEY_FILE: '/etc/cps/head.key' };

  it('none set: no DNS, the head comes from discovery', () => {
    expect(headDnsFrom(loadConfig(headDnsEnv, {}))).toBeUndefined();
  });

  it('all set: server, port, zone, name and the key read from its file', () => {
    const text = keygen();
    const files: string[] = [];
    const dns = headDnsFrom(loadConfig(headDnsEnv, all), (p) => (files.push(p), text));
    expect(files).toEqual(['/etc/cps/head.key']);
    expect(dns).toMatchObject({ host: '10.0.0.53', port: 5353, zone: 'cps.lan', name: 'head.cps.lan', key: parseTsigKeyFile(text) });
    expect(headDnsFrom(loadConfig(headDnsEnv, { ...all, CPS_HEAD_DNS_SERVER: 'ns1.cps.lan' }), () => text)?.port).toBe(53);
  });

  it.each([
    [{ CPS_HEAD_DNS_SERVER: '10.0.0.53' }, /set all four CPS_HEAD_DNS_\* or none \(set: CPS_HEAD_DNS_SERVER\)/],
    [{ ...all, CPS_HEAD_DNS_NAME: 'head.other.lan' }, /CPS_HEAD_DNS_NAME: head.other.lan is not inside the zone cps.lan/],
    [{ ...all, CPS_HEAD_DNS_NAME: 'head;rm -rf.cps.lan' }, /CPS_HEAD_DNS_NAME/],
    [{ ...all, CPS_HEAD_DNS_SERVER: '10.0.0.53:99999' }, /port 99999/],
    [{ ...all, CPS_HEAD_DNS_SERVER: 'http://10.0.0.53' }, /CPS_HEAD_DNS_SERVER: host or host:port/],
  ])('refuses %j', (env, message) => {
    expect(() => loadConfig(headDnsEnv, env)).toThrow(message);
  });

  it('a key file that is not a key stops the start, naming the variable and the file', () => {
    expect(() => headDnsFrom(loadConfig(headDnsEnv, all), () => 'hello')).toThrow(/CPS_HEAD_DNS_KEY_FILE \/etc\/cps\/head.key: not a single BIND key statement/);
  });
});
