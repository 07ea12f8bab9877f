import { XMLParser } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { el, escapeAttr, escapeText, renderXml } from '../src/xml.ts';

const parse = (xml: string) =>
  new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@', parseTagValue: false, parseAttributeValue: false, trimValues: false, htmlEntities: true }).parse(xml);

describe('xml serializer', () => {
  it('escapes the five XML specials in text and attributes', () => {
    expect(escapeText(`a&b<c>d"e'f`)).toBe('a&amp;b&lt;c&gt;d&quot;e&apos;f');
    expect(escapeAttr(`a&b<c>d"e'f`)).toBe('a&amp;b&lt;c&gt;d&quot;e&apos;f');
  });

  it('keeps whitespace controls in attributes as character references', () => {
    expect(escapeAttr('a\tb\nc\rd')).toBe('a&#9;b&#10;c&#13;d');
  });

  it.each([
    ['NUL', 'a\u0000b'],
    ['BEL', 'a\u0007b'],
    ['ESC', '\u001b[31m'],
    ['U+FFFE', 'a\uFFFEb'],
    ['lone high surrogate', 'a\uD800b'],
    ['lone low surrogate', 'a\uDC00b'],
  ])('refuses %s, which XML cannot carry', (_, bad) => {
    expect(() => escapeText(bad)).toThrow(/XML cannot carry/);
    expect(() => escapeAttr(bad)).toThrow(/XML cannot carry/);
  });

  it('lets a surrogate pair (an emoji) through unchanged', () => {
    expect(escapeText('🙂')).toBe('🙂');
  });

  it('refuses element or attribute names that are not plain names', () => {
    expect(() => renderXml(el('a b'))).toThrow(/not an XML name/);
    expect(() => renderXml(el('x', { 'on"x': '1' }))).toThrow(/not an XML name/);
    expect(() => renderXml(el('</x><y>'))).toThrow(/not an XML name/);
  });

  it('renders nested elements, drops falsy children and undefined attributes', () => {
    const xml = renderXml(el('a', { x: 1, y: undefined }, el('b', {}, 'text'), false, null, el('c')));
    expect(xml).toBe('<a x="1">\n  <b>text</b>\n  <c/>\n</a>');
  });

  it('round-trips hostile values through a real parser as data, never as markup', () => {
    const hostile = `</b><evil a="1">"quotes' & <x>\n`;
    const doc = parse(renderXml(el('a', { v: hostile }, el('b', {}, hostile))));
    expect(doc.a['@v']).toBe(hostile);
    expect(doc.a.b).toBe(hostile);
    expect(doc.a.evil).toBeUndefined();
    expect(Object.keys(doc.a).filter((k) => k !== '#text').sort()).toEqual(['@v', 'b']);
    expect(doc.a['#text'].trim()).toBe(''); // only the indentation
  });
});
