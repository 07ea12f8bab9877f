import { pack } from 'tar-stream';
import { spoolToFile, type Spooled } from './spool.ts';

export interface NamedFile {
  /** The path inside the archive, as the uploader named it (checked by storage, not here). */
  name: string;
  data: Uint8Array;
}

/**
 * Packs files into one tar (tar-stream), written to `file` as it is made. Owner, group and times
 * are fixed and the files sorted by name, so the same files always give the same bytes, hence
 * the same content-addressed id. Names are written as given: storage's archive check is the one
 * judge of what is refused ('..', absolute names), so the rule lives in one place.
 */
export async function packFiles(files: readonly NamedFile[], file: string, maxBytes: number): Promise<Spooled> {
  const tar = pack();
  const sorted = [...files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const writing = spoolToFile(tar as unknown as AsyncIterable<Uint8Array>, file, maxBytes);
  // If spooling stops early (too large), the pack is destroyed so the writer below ends too.
  writing.catch(() => tar.destroy());
  try {
    for (const f of sorted) {
      const header = { name: f.name, size: f.data.byteLength, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0, uname: '', gname: '', type: 'file' as const };
      await new Promise<void>((resolve, reject) => {
        tar.entry(header, Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength), (err) => (err ? reject(err) : resolve()));
      });
    }
    tar.finalize();
  } catch {
    // The pack was destroyed because the spool refused; its reason is the one to report.
  }
  return writing;
}
