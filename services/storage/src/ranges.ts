import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';

export type RangeAnswer = { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/**
 * One byte range of a file of `size` bytes (RFC 9110 §14.1.2): `bytes=a-b`, `bytes=a-`, `bytes=-n`.
 * A header that does not parse, or asks for several ranges, is ignored (the whole file is sent,
 * as §14.2 allows); a well-formed range wholly past the end is unsatisfiable (416).
 */
export function parseRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined) return { kind: 'full' };
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return { kind: 'full' };
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(m[1]);
  const end = m[2] === '' ? Infinity : Number(m[2]);
  if (end < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: Math.min(end, size - 1) };
}

/**
 * A download of a file that never changes under its ETag (exports and transfer files are
 * content-hashed): Range and If-Range (§13.1.5, strong ETag comparison; a date never matches, so
 * the whole file is sent, which is always correct).
 */
export function fileResponse(file: string, size: number, etag: string, headers: { range?: string | undefined; ifRange?: string | undefined }): Response {
  const base: Record<string, string> = { 'accept-ranges': 'bytes', etag, 'content-type': 'application/octet-stream' };
  const ifRangeFails = headers.ifRange !== undefined && headers.ifRange.trim() !== etag;
  const range = ifRangeFails ? ({ kind: 'full' } as const) : parseRange(headers.range, size);
  if (range.kind === 'unsatisfiable') {
    return new Response(
      JSON.stringify({ type: 'urn:cps:problem:range-not-satisfiable', title: 'The requested byte range is outside the file', status: 416, detail: `the file has ${size} bytes` }),
      { status: 416, headers: { ...base, 'content-type': 'application/problem+json', 'content-range': `bytes */${size}` } },
    );
  }
  const [start, end, status] = range.kind === 'partial' ? [range.start, range.end, 206] : [0, size - 1, 200];
  const length = size === 0 ? 0 : end - start + 1;
  const body = length === 0 ? null : (Readable.toWeb(createReadStream(file, { start, end })) as ReadableStream<Uint8Array>);
  return new Response(body, {
    status,
    headers: { ...base, 'content-length': String(length), ...(status === 206 ? { 'content-range': `bytes ${start}-${end}/${size}` } : {}) },
  });
}
