import { mkdtempSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ProblemError } from '@cps/common';
import { checkAllowedPath } from '../src/paths.ts';

const roots = ['/var/lib/cps'];

describe('checkAllowedPath', () => {
  it.each([
    '/var/lib/cps/images/tiny/vmlinuz',
    '/var/lib/cps/disks/t-1/root.qcow2',
    '/var/lib/cps/a b/c', // spaces are fine: the path is escaped, never interpreted
  ])('allows %s', (p) => {
    expect(checkAllowedPath(p, roots)).toBe(p);
  });

  it.each([
    ['empty', ''],
    ['relative', 'images/tiny/vmlinuz'],
    ['dot-relative', './var/lib/cps/x'],
    ['parent segment', '/var/lib/cps/../../etc/shadow'],
    ['parent segment at the end', '/var/lib/cps/images/..'],
    ['double slash', '/var/lib/cps//x'],
    ['dot segment', '/var/lib/cps/./x'],
    ['trailing slash', '/var/lib/cps/images/'],
    ['the root itself', '/var/lib/cps'],
    ['a sibling with the same prefix', '/var/lib/cps-other/x'],
    ['outside', '/etc/passwd'],
    ['NUL', '/var/lib/cps/x\u0000y'],
    ['newline', '/var/lib/cps/x\ny'],
    ['too long', `/var/lib/cps/${'a'.repeat(5000)}`],
  ])('rejects %s', (_, p) => {
    let err: unknown;
    try {
      checkAllowedPath(p, roots);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProblemError);
    expect((err as ProblemError).problemType).toBe('path-not-allowed');
  });

  it('rejects a link inside the root that leads outside', () => {
    const root = mkdtempSync(join(tmpdir(), 'cps-paths-'));
    const outside = mkdtempSync(join(tmpdir(), 'cps-outside-'));
    writeFileSync(join(outside, 'secret'), 'x');
    mkdirSync(join(root, 'images'));
    symlinkSync(join(outside, 'secret'), join(root, 'images', 'link'));
    writeFileSync(join(root, 'images', 'real'), 'x');
    expect(() => checkAllowedPath(join(root, 'images', 'link'), [root])).toThrow(/through a link/);
    expect(checkAllowedPath(join(root, 'images', 'real'), [root])).toBe(join(root, 'images', 'real'));
  });
});
