import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProblemError } from '@cps/common';
import { isImageId, isInside, isTaskId, lexicalJoin, safeJoin, StorageLayout } from '../src/paths.ts';

const problemOf = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    if (err instanceof ProblemError) return err.problemType;
    throw err;
  }
  return 'none';
};

describe('ids', () => {
  it.each(['t-1a2b3c4d', 'a', '0', 'abc-def', 'a'.repeat(63)])('accepts task id %s', (id) => expect(isTaskId(id)).toBe(true));
  it.each([
    '', '.', '..', '../etc', '%2e%2e', '-a', 'A', 'Task', 'a/b', 'a\\b', 'a\0b', 'a b', 'a.b', 'a_b', 'a'.repeat(64), 'x'.repeat(10_000), 'é',
  ])('refuses task id %j', (id) => expect(isTaskId(id)).toBe(false));

  it.each(['tiny', 'debian-12.qcow2', 'a_b', 'a..b', 'x'.repeat(128)])('accepts image id %s', (id) => expect(isImageId(id)).toBe(true));
  it.each(['', '.', '..', '../etc', '.hidden', '_a', 'Tiny', 'a/b', 'a\0', '%2e%2e', 'x'.repeat(129)])('refuses image id %j', (id) =>
    expect(isImageId(id)).toBe(false),
  );
});

describe('isInside', () => {
  it.each([
    ['/r', '/r', true],
    ['/r', '/r/a', true],
    ['/r', '/r/..a', true],
    ['/r', '/r/a/../b', true],
    ['/r', '/', false],
    ['/r', '/rx', false],
    ['/r', '/r/../x', false],
    ['/r/a', '/r', false],
  ])('%s contains %s: %s', (root, target, want) => expect(isInside(root, path.resolve(target))).toBe(want));
});

describe('lexicalJoin (like Nomad TestIsAllowedImagePath)', () => {
  const root = '/data';
  it.each([
    [['a'], '/data/a'],
    [['a', 'b.qcow2'], '/data/a/b.qcow2'],
    [['a/b'], '/data/a/b'],
    [['a/../b'], '/data/b'],
    [['..a'], '/data/..a'],
    [['a', '.'], '/data/a'],
  ])('allows %j', (parts, want) => expect(lexicalJoin(root, ...parts)).toBe(want));

  it.each([
    [['..']],
    [['../etc/passwd']],
    [['a', '..', '..', 'etc']],
    [['/etc/passwd']],
    [['a', '/abs']],
    [['a\0b']],
    [['']],
    [['a', '']],
    [['a/../../data2']],
  ])('refuses %j with path-not-allowed', (parts) => expect(problemOf(() => lexicalJoin(root, ...parts))).toBe('path-not-allowed'));

  it('refuses a relative root', () => expect(problemOf(() => lexicalJoin('data', 'a'))).toBe('path-not-allowed'));
});

describe('safeJoin and symlinks', () => {
  let root: string;
  let outside: string;
  beforeAll(async () => {
    const base = await mkdtemp(path.join(tmpdir(), 'cps-paths-'));
    root = path.join(base, 'root');
    outside = path.join(base, 'outside');
    await mkdir(path.join(root, 'images', 'ok'), { recursive: true });
    await mkdir(outside);
    await writeFile(path.join(outside, 'secret'), 's');
    await symlink(outside, path.join(root, 'images', 'evil'));
    await symlink(path.join(outside, 'secret'), path.join(root, 'images', 'ok', 'vmlinuz'));
    await symlink(path.join(root, 'images', 'ok'), path.join(root, 'images', 'alias'));
  });
  afterAll(() => rm(path.dirname(root), { recursive: true, force: true }));

  it('allows existing and not-yet-existing paths inside the root', () => {
    expect(safeJoin(root, 'images', 'ok')).toBe(path.join(root, 'images', 'ok'));
    expect(safeJoin(root, 'disks', 'new', 'data.qcow2')).toBe(path.join(root, 'disks', 'new', 'data.qcow2'));
  });
  it('allows a symlink that stays inside the root', () => expect(safeJoin(root, 'images', 'alias')).toBe(path.join(root, 'images', 'alias')));
  it.each([
    [['images', 'evil']],
    [['images', 'evil', 'secret']],
    [['images', 'evil', 'not-yet']],
    [['images', 'ok', 'vmlinuz']],
  ])('refuses %j, which leads out through a symlink', (parts) => expect(problemOf(() => safeJoin(root, ...parts))).toBe('path-not-allowed'));

  it('the layout refuses bad ids before it builds a path', () => {
    const layout = new StorageLayout(root);
    expect(layout.taskDir('t-1')).toBe(path.join(root, 'disks', 't-1'));
    expect(problemOf(() => layout.taskDir('../etc'))).toBe('validation-failed');
    expect(problemOf(() => layout.imageDir('..'))).toBe('validation-failed');
    expect(problemOf(() => layout.imageDir('evil'))).toBe('path-not-allowed');
    expect(problemOf(() => layout.imageFile('ok', '../../../etc/passwd'))).toBe('path-not-allowed');
  });
});
