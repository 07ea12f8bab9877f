import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lendingOpen, loadSharePolicy, SharePolicyError } from '../src/sharePolicy.ts';

const dir = () => mkdtempSync(join(tmpdir(), 'cps-share-'));
const withFile = (name: string, text: string) => {
  const d = dir();
  writeFileSync(join(d, name), text);
  return d;
};
const fails = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SharePolicyError);
    return (e as Error).message;
  }
  throw new Error('expected a SharePolicyError');
};

describe('loadSharePolicy', () => {
  it('gives the documented defaults when there is no file and no variable', () => {
    const { policy, source } = loadSharePolicy(dir(), {});
    expect(source).toBe('defaults');
    expect(policy).toEqual({
      hours: [],
      owner: {
        enabled: true,
        cpuBusyPercent: 50,
        memoryPressurePercent: 10,
        minAvailableMemoryMiB: 256,
        desktopIdleSec: 60,
        graceSec: 10,
        resumeAfterSec: 60,
        vacateAfterSec: 600,
        sampleSec: 1,
      },
    });
  });

  it('reads $CPS_DATA_DIR/share-policy.json', () => {
    const d = withFile('share-policy.json', JSON.stringify({ vcpus: 1, memoryMiB: 512, hours: ['18:00-08:00'], owner: { graceSec: 3 } }));
    const { policy, source } = loadSharePolicy(d, {});
    expect(source).toBe(join(d, 'share-policy.json'));
    expect(policy).toMatchObject({ vcpus: 1, memoryMiB: 512, hours: ['18:00-08:00'], owner: { graceSec: 3, cpuBusyPercent: 50 } });
  });

  it('reads YAML from CPS_SHARE_POLICY_FILE, and the environment overrides it field by field', () => {
    const d = withFile('policy.yaml', 'vcpus: 2\nmemoryMiB: 2048\nhours:\n  - "09:00-17:00"\nowner:\n  cpuBusyPercent: 70\n  graceSec: 5\n');
    const { policy, source } = loadSharePolicy('/nonexistent', {
      CPS_SHARE_POLICY_FILE: join(d, 'policy.yaml'),
      CPS_SHARE_MEMORY_MIB: '1024',
      CPS_SHARE_HOURS: '22:00-06:00, 12:00-13:00',
      CPS_OWNER_GRACE_SEC: '2',
      CPS_OWNER_FIRST: 'off',
      CPS_SHARE_DISK_MIB: '',
    });
    expect(source).toBe(`${join(d, 'policy.yaml')} + env`);
    expect(policy).toMatchObject({ vcpus: 2, memoryMiB: 1024, hours: ['22:00-06:00', '12:00-13:00'], owner: { cpuBusyPercent: 70, graceSec: 2, enabled: false } });
    expect(policy.diskMiB).toBeUndefined();
  });

  it('treats an empty file as no settings', () => {
    expect(loadSharePolicy(withFile('share-policy.json', ''), {}).policy.hours).toEqual([]);
  });

  it.each([
    ['a negative vcpus', '{"vcpus": -1}', /vcpus: /],
    ['a fractional memory', '{"memoryMiB": 1.5}', /memoryMiB: /],
    ['an unknown field', '{"vcpu": 2}', /unrecognized key.*vcpu/i],
    ['an unknown owner field', '{"owner": {"grace": 2}}', /owner: .*grace/i],
    ['hours that are not HH:MM-HH:MM', '{"hours": ["9-17"]}', /hours\.0: must be "HH:MM-HH:MM"/],
    ['hours of 25:00', '{"hours": ["25:00-08:00"]}', /hours\.0/],
    ['an empty window', '{"hours": ["08:00-08:00"]}', /same minute/],
    ['hours as a string', '{"hours": "18:00-08:00"}', /hours: /],
    ['a CPU threshold over 100', '{"owner": {"cpuBusyPercent": 150}}', /owner\.cpuBusyPercent/],
    ['a list', '[1, 2]', /must be an object/],
    ['a scalar', '42', /must be an object/],
    ['broken YAML', 'vcpus: [1,\n', /neither JSON nor YAML/],
    ['a YAML alias bomb', 'a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n', /neither JSON nor YAML|unrecognized/i],
  ])('refuses %s with a message naming the field and the file', (_, text, message) => {
    const d = withFile('share-policy.json', text);
    const m = fails(() => loadSharePolicy(d, {}));
    expect(m).toMatch(message);
    expect(m).toContain(join(d, 'share-policy.json'));
  });

  it.each([
    ['CPS_SHARE_VCPUS', 'two', /CPS_SHARE_VCPUS="two" is not a number/],
    ['CPS_SHARE_VCPUS', '-1', /vcpus: .*>=0/],
    ['CPS_SHARE_HOURS', 'evenings', /hours\.0: must be/],
    ['CPS_OWNER_GRACE_SEC', 'NaN', /CPS_OWNER_GRACE_SEC="NaN" is not a number/],
    ['CPS_OWNER_FIRST', 'maybe', /CPS_OWNER_FIRST="maybe" is not a yes\/no/],
  ])('refuses %s=%s naming the variable', (name, value, message) => {
    const m = fails(() => loadSharePolicy(dir(), { [name]: value }));
    expect(m).toMatch(message);
  });

  it('says so when the named policy file cannot be read', () => {
    expect(fails(() => loadSharePolicy(dir(), { CPS_SHARE_POLICY_FILE: '/nonexistent/policy.yaml' }))).toMatch(
      /cannot read the share policy \/nonexistent\/policy.yaml: ENOENT/,
    );
  });
});

describe('lendingOpen', () => {
  const at = (hh: number, mm = 0) => new Date(2026, 10, 25, hh, mm);
  it.each([
    [[], at(3), true],
    [['09:00-17:00'], at(9), true],
    [['09:00-17:00'], at(16, 59), true],
    [['09:00-17:00'], at(17), false],
    [['09:00-17:00'], at(8, 59), false],
    [['18:00-08:00'], at(23), true],
    [['18:00-08:00'], at(0), true],
    [['18:00-08:00'], at(7, 59), true],
    [['18:00-08:00'], at(8), false],
    [['18:00-08:00'], at(12), false],
    [['18:00-08:00', '12:00-13:00'], at(12, 30), true],
  ])('%j at %s → %s', (hours, now, open) => {
    expect(lendingOpen(hours, now)).toBe(open);
  });
});
