import { ProblemError } from '@cps/common';

/**
 * A tiny XML serializer: the only way domain XML is written. Element and attribute names come
 * from code and must be plain names; every value is escaped here, so no caller ever concatenates
 * outside text into markup.
 */
export interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string | number | undefined>>;
  readonly children: readonly XmlNode[];
}
export type XmlNode = XmlElement | string;

type Attrs = Record<string, string | number | undefined>;
type Child = XmlNode | false | null | undefined;

/** `el('disk', { type: 'file' }, el('source', { file }))`; falsy children are dropped for optional parts. */
export function el(name: string, attrs: Attrs = {}, ...children: Child[]): XmlElement {
  return { name, attrs, children: children.filter((c): c is XmlNode => c !== false && c !== null && c !== undefined) };
}

// A qualified name as code writes it (`cps:task`, `xmlns:cps`); never user input.
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*(:[A-Za-z_][A-Za-z0-9_.-]*)?$/;

// XML 1.0 §2.2 Char: no C0 controls except TAB/LF/CR, no lone surrogates, no U+FFFE/U+FFFF.
const ILLEGAL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const TEXT_ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
// In attributes, whitespace controls are written as references so a parser keeps them as they were (§3.3.3).
const ATTR_ESC: Record<string, string> = { ...TEXT_ESC, '\t': '&#9;', '\n': '&#10;', '\r': '&#13;' };

function checkChars(value: string, where: string): void {
  if (ILLEGAL.test(value)) throw new ProblemError('validation-failed', `${where} contains a character XML cannot carry`);
}

export function escapeText(value: string): string {
  checkChars(value, 'text');
  return value.replace(/[&<>"']/g, (c) => TEXT_ESC[c]!);
}

export function escapeAttr(value: string): string {
  checkChars(value, 'attribute');
  return value.replace(/[&<>"'\t\n\r]/g, (c) => ATTR_ESC[c]!);
}

function checkName(name: string): string {
  if (!NAME.test(name)) throw new Error(`not an XML name: ${JSON.stringify(name)}`);
  return name;
}

/** Renders with two-space indentation; an element with only text stays on one line. */
export function renderXml(node: XmlElement, depth = 0): string {
  const pad = '  '.repeat(depth);
  const attrs = Object.entries(node.attrs)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${checkName(k)}="${escapeAttr(String(v))}"`)
    .join('');
  const open = `${pad}<${checkName(node.name)}${attrs}`;
  if (node.children.length === 0) return `${open}/>`;
  if (node.children.every((c) => typeof c === 'string')) {
    return `${open}>${node.children.map((c) => escapeText(c as string)).join('')}</${node.name}>`;
  }
  const inner = node.children.map((c) => (typeof c === 'string' ? `${pad}  ${escapeText(c)}` : renderXml(c, depth + 1)));
  return `${open}>\n${inner.join('\n')}\n${pad}</${node.name}>`;
}
