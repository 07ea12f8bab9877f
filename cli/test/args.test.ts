import { describe, expect, it } from 'vitest';
import { intOption, parse, UsageError, urlOption } from '../src/args.ts';
import { memoryIo } from '../src/io.ts';
import { run } from '../src/main.ts';
import { planNode } from '../src/up/services.ts';

describe('parse', () => {
  it('returns typed values and positionals', () => {
    const r = parse(['show', '--json', '--url', 'http://x'], { json: { type: 'boolean' }, url: { type: 'string' } }, 1);
    expect(r.values).toMatchObject({ json: true, url: 'http://x' });
    expect(r.positionals).toEqual(['show']);
  });

  it('cuts parseArgs errors to one sentence', () => {
    expect(() => parse(['--nope'], {})).toThrow(new UsageError("Unknown option '--nope'"));
    expect(() => parse(['--url'], { url: { type: 'string' } })).toThrow(UsageError);
  });

  it('rejects extra positionals, but not with --help', () => {
    expect(() => parse(['a', 'b'], {}, 1)).toThrow("unexpected argument 'b'");
    expect(parse(['a', 'b', '--help'], {}, 1).values.help).toBe(true);
  });
});

describe('intOption', () => {
  it('takes whole numbers within bounds and defaults', () => {
    expect(intOption(undefined, '--vcpus', 1, 64, 1)).toBe(1);
    expect(intOption('8', '--vcpus', 1, 64, 1)).toBe(8);
  });
  it.each(['0', '65', '-1', '1.5', '1e3', ' 2', '', '0x10', '２'])('rejects %j', (raw) => {
    expect(() => intOption(raw, '--vcpus', 1, 64, 1)).toThrow(/--vcpus must be/);
  });
});

describe('urlOption', () => {
  it('prefers --url, then CPS_URL, then the default; drops trailing slashes', () => {
    expect(urlOption('http://a:1/', {})).toBe('http://a:1');
    expect(urlOption(undefined, { CPS_URL: 'http://b:2' })).toBe('http://b:2');
    expect(urlOption(undefined, {})).toBe('http://localhost:8080');
  });
  it('without a scheme: https for another machine, http for this one (loopback)', () => {
    expect(urlOption('cps.lan:8080', {})).toBe('https://cps.lan:8080');
    expect(urlOption('10.0.0.5:8080/', {})).toBe('https://10.0.0.5:8080');
    expect(urlOption('localhost:8080', {})).toBe('http://localhost:8080');
    expect(urlOption('127.0.0.1:8080', {})).toBe('http://127.0.0.1:8080');
    expect(urlOption('[::1]:8080', {})).toBe('http://[::1]:8080');
    // A name that only starts like loopback is another machine.
    expect(urlOption('localhost.evil.example:8080', {})).toBe('https://localhost.evil.example:8080');
  });
  it.each(['ftp://x', 'not a url', '', 'https://'])('rejects %j', (raw) => {
    expect(() => urlOption(raw, {})).toThrow(UsageError);
  });
});

describe('planNode', () => {
  it('uses the defaults, or CPS_*_PORT', () => {
    expect(planNode({}, {}).ports).toEqual({ coordinator: 8080, discovery: 8081, provisioner: 8082, storage: 8083, vncGateway: 8084 });
    const p = planNode({ CPS_STORAGE_PORT: '9999' }, {});
    expect(p.ports.storage).toBe(9999);
    expect(p.env.CPS_STORAGE_PORT).toBe('9999');
    expect(p.env.CPS_PEP_PORT).toBeUndefined();
  });

  it('--ports-base shifts all five ports and the PEP port, and wins over the environment', () => {
    const p = planNode({ CPS_COORDINATOR_PORT: '8080', KEEP: 'me' }, { portsBase: 18200, dataDir: '/tmp/d' });
    expect(p.ports).toEqual({ coordinator: 18200, discovery: 18201, provisioner: 18202, storage: 18203, vncGateway: 18204 });
    expect(p.env).toMatchObject({
      CPS_COORDINATOR_PORT: '18200',
      CPS_VNC_GATEWAY_PORT: '18204',
      CPS_PEP_PORT: '18209',
      CPS_DATA_DIR: '/tmp/d',
      KEEP: 'me',
    });
  });

  it('keeps an explicit CPS_PEP_PORT', () => {
    expect(planNode({ CPS_PEP_PORT: '5000' }, { portsBase: 18200 }).env.CPS_PEP_PORT).toBe('5000');
  });

  it('says which variable is bad', () => {
    expect(() => planNode({ CPS_DISCOVERY_PORT: 'eighty' }, {})).toThrow(/CPS_DISCOVERY_PORT/);
    expect(() => planNode({}, { portsBase: 65530 })).toThrow(/--ports-base/);
  });
});

describe('run', () => {
  it('prints help and exits 0 for --help on every command', async () => {
    for (const argv of [['--help'], ['up', '--help'], ['doctor', '--help'], ['task', '--help'], ['task', 'submit', '--help'], ['task', 'list', '-h'], ['task', 'show', '--help'], ['task', 'stop', '--help']]) {
      const io = memoryIo();
      expect(await run(argv, io), argv.join(' ')).toBe(0);
      expect(io.stdout.join('')).toMatch(/^Usage: cps/);
    }
  });

  it.each([
    [[], /Usage: cps/],
    [['frobnicate'], /^cps: unknown command 'frobnicate'/],
    [['up', '--ports-base', 'x'], /^cps up: --ports-base must be a whole number/],
    [['up', '--bogus'], /^cps up: Unknown option '--bogus'$/],
    [['task'], /Usage: cps task/],
    [['task', 'frob'], /^cps task: unknown command 'task frob'/],
    [['task', 'submit'], /^cps task submit: --name NAME is required$/],
    [['task', 'submit', '--name', 'x', '--memory', '1'], /--memory must be between 32/],
    [['task', 'show'], /^cps task show: a task ID is required/],
    [['task', 'show', '../etc'], /is not a task ID/],
    [['task', 'stop', 'a', 'b'], /unexpected argument 'b'/],
    [['task', 'list', '--url', 'no pe'], /--url must be a URL/],
  ])('%j is bad usage (exit 2, one line)', async (argv, message) => {
    const io = memoryIo();
    expect(await run(argv as string[], io)).toBe(2);
    const said = [...io.stderr, ...io.stdout].join('');
    expect(said).toMatch(message);
    if (io.stderr.length) expect(io.stderr.join('').trim().split('\n')).toHaveLength(1);
  });
});
