import { describe, expect, it } from 'vitest';
import { taskMac, taskUuid } from '../src/taskUuid.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('taskUuid (RFC 9562 version 8 from SHA-256("cps task " + id))', () => {
  it('gives the known value for a task id (the same on every peer)', () => {
    // sha256("cps task t-0123abcd") starts 6c070059 04b6 3f60 cfb4 e81f…: octet 6 gets version 8, octet 8 variant 10.
    expect(taskUuid('t-0123abcd')).toBe('6c070059-04b6-8f60-8fb4-e81fdf6d7101');
    expect(taskUuid('t-0123abcd')).toBe(taskUuid('t-0123abcd'));
  });

  it.each(['a', 't-1', 't-2', 'task-with-a-long-name-0123456789', '0'.repeat(63)])('is a version 8, variant 10 UUID for %s', (id) => {
    const u = taskUuid(id);
    expect(u).toMatch(UUID);
    expect(u[14]).toBe('8');
    expect(['8', '9', 'a', 'b']).toContain(u[19]);
  });

  it('differs between task ids', () => {
    const ids = Array.from({ length: 200 }, (_, i) => `t-${i}`);
    expect(new Set(ids.map(taskUuid)).size).toBe(ids.length);
  });

  it.each(['', 'T-upper', '-lead', 'a/b', 'x'.repeat(64)])('refuses a task id that is not one (%s)', (id) => {
    expect(() => taskUuid(id)).toThrow(/task id/);
  });
});

describe('taskMac (the NIC of a restored guest must be the saved one)', () => {
  it('is a QEMU-prefixed unicast MAC, the same for a task id and different between ids', () => {
    expect(taskMac('t-0123abcd')).toMatch(/^52:54:00(:[0-9a-f]{2}){3}$/);
    expect(taskMac('t-0123abcd')).toBe(taskMac('t-0123abcd'));
    expect(new Set(Array.from({ length: 100 }, (_, i) => taskMac(`t-${i}`))).size).toBe(100);
  });
});
