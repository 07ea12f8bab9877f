// Builds tar archives by hand for tests, including the hostile entries GNU tar would not write.

export interface EntryOpts {
  type?: string;
  mode?: number;
  linkname?: string;
  /** Break the header checksum. */
  badChecksum?: boolean;
  /** The size field, when it should lie about the data. */
  sizeField?: number;
}

const octalField = (n: number, len: number) => `${n.toString(8).padStart(len - 1, '0')}\0`;

export function tarHeader(name: string, size: number, o: EntryOpts = {}): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write(octalField(o.mode ?? 0o644, 8), 100, 'latin1');
  h.write(octalField(0, 8), 108, 'latin1');
  h.write(octalField(0, 8), 116, 'latin1');
  h.write(octalField(o.sizeField ?? size, 12), 124, 'latin1');
  h.write(octalField(0, 12), 136, 'latin1');
  h.write(o.type ?? '0', 156, 'latin1');
  if (o.linkname) h.write(o.linkname, 157, 100, 'utf8');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  if (o.badChecksum) sum += 1;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return h;
}

export function tarEntry(name: string, body: string | Buffer = '', o: EntryOpts = {}): Buffer {
  const data = typeof body === 'string' ? Buffer.from(body) : body;
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([tarHeader(name, data.length, o), data, pad]);
}

export function paxEntry(records: Record<string, string>): Buffer {
  const lines = Object.entries(records).map(([k, v]) => {
    const body = ` ${k}=${v}\n`;
    let len = body.length + 1;
    while (`${len}${body}`.length !== len) len = `${len}${body}`.length;
    return `${len}${body}`;
  });
  return tarEntry('PaxHeader', lines.join(''), { type: 'x' });
}

export const tarEnd = () => Buffer.alloc(1024);

export const tar = (...entries: Buffer[]) => Buffer.concat([...entries, tarEnd()]);
