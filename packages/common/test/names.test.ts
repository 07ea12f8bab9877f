import { readFileSync } from 'node:fs';
import { specFiles } from '@cps/openapi';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { displayNamePattern, isDisplayName } from '../src/index.ts';

const schemaOf = (file: string, schema: string) =>
  (parse(readFileSync(file, 'utf8')) as { components: { schemas: Record<string, { properties: Record<string, { pattern?: string }> }> } })
    .components.schemas[schema]!.properties;

describe('the one display-name rule', () => {
  it('is the pattern of both TaskRequest.name (coordinator) and VmSpec.name (provisioner)', () => {
    expect(schemaOf(specFiles.coordinator, 'TaskRequest').name!.pattern).toBe(displayNamePattern);
    expect(schemaOf(specFiles.provisioner, 'VmSpec').name!.pattern).toBe(displayNamePattern);
  });

  it.each([
    ['plain text', 'my machine', true],
    ['markup and accents', '</b> "é" ✓', true],
    ['an emoji (a surrogate pair)', 'a😀b', true],
    ['a BOM', '\uFEFFx', true],
    ['a lone high surrogate', 'a\uD800b', false],
    ['a lone high surrogate at the end', 'ab\uDBFF', false],
    ['a lone low surrogate', '\uDC00b', false],
    ['two low surrogates', '\uDE00\uDE00', false],
    ['pair halves reversed', '\uDE00\uD83D', false],
    ['NUL', 'a\u0000b', false],
    ['a newline', 'a\nb', false],
    ['a tab', 'a\tb', false],
    ['DEL', 'a\u007Fb', false],
    ['a C1 control', 'a\u0085b', false],
    ['a line separator', 'a\u2028b', false],
    ['U+FFFE', 'a\uFFFE', false],
    ['U+FFFF', 'a\uFFFF', false],
    ['empty', '', false],
  ])('%s: %s', (_what, name, ok) => {
    expect(isDisplayName(name, 64)).toBe(ok);
    // The same verdict without the `u` flag, for tools that compile the pattern without it.
    expect(new RegExp(displayNamePattern).test(name)).toBe(ok);
  });

  it('counts characters, not UTF-16 units', () => {
    expect(isDisplayName('😀'.repeat(64), 64)).toBe(true);
    expect(isDisplayName('😀'.repeat(65), 64)).toBe(false);
  });
});
