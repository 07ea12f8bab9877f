import { isAbsolute } from 'node:path';
import { ProblemError } from '@cps/common';
import { checkAllowedPath } from './paths.ts';

/**
 * A disk's backing chain must be one storage built: QEMU opens every file a qcow2 names, so a
 * user's bytes must never name one. Every layer is read with its format given (never probed) and
 * checked before the next one is opened; only qcow2 and raw, no external data files, backing files
 * named by an absolute path inside the task's disk folder or the image store, at most
 * MAX_CHAIN_LAYERS deep. The rules here are pure; reading a layer (qemu-img) is a dependency.
 */

export type ChainFormat = 'qcow2' | 'raw';
export const CHAIN_FORMATS: readonly string[] = ['qcow2', 'raw'];
/** Storage builds at most overlay → image; a little room, never an unbounded walk. */
export const MAX_CHAIN_LAYERS = 4;

/** One layer as `qemu-img info --output=json -f <format>` reports it. */
export interface LayerInfo {
  filename: string;
  format: string;
  backingFile?: string;
  fullBackingFile?: string;
  backingFormat?: string;
  dataFile?: string;
}

export interface ChainLink {
  path: string;
  format: ChainFormat;
}

/** Reads one layer, its format given; the real one runs qemu-img (diskInfo.ts). */
export type ReadLayer = (link: ChainLink) => Promise<LayerInfo>;

const rejected = (what: string, why: string) => new ProblemError('disk-rejected', `${what}: ${why}`);

/** The fields of qemu-img's JSON the rules need; anything malformed is refused, not guessed at. */
export function parseLayerInfo(json: unknown, what: string): LayerInfo {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw rejected(what, 'qemu-img info gave no object');
  const j = json as Record<string, unknown>;
  if (typeof j.filename !== 'string' || typeof j.format !== 'string') throw rejected(what, 'qemu-img info gave no filename or format');
  const str = (k: string) => (typeof j[k] === 'string' ? (j[k] as string) : undefined);
  const spec = j['format-specific'] as { data?: Record<string, unknown> } | undefined;
  const dataFile = spec?.data?.['data-file'];
  const out: LayerInfo = { filename: j.filename, format: j.format };
  if (str('backing-filename') !== undefined) out.backingFile = str('backing-filename')!;
  if (str('full-backing-filename') !== undefined) out.fullBackingFile = str('full-backing-filename')!;
  if (str('backing-filename-format') !== undefined) out.backingFormat = str('backing-filename-format')!;
  if (dataFile !== undefined) out.dataFile = typeof dataFile === 'string' ? dataFile : '(unnamed)';
  return out;
}

/**
 * Checks one layer read as `link`; returns the next link to read, or undefined at the chain's end.
 * `seen` holds the paths of the layers before it (a loop is refused).
 */
export function checkLayer(layer: LayerInfo, link: ChainLink, roots: readonly string[], seen: readonly string[], what: string): ChainLink | undefined {
  const at = seen.length === 0 ? what : `${what} (backing layer ${seen.length}, ${link.path})`;
  if (layer.filename !== link.path) throw rejected(at, `qemu-img read ${JSON.stringify(layer.filename.slice(0, 200))}, not the file asked for`);
  if (layer.format !== link.format) throw rejected(at, `it is ${JSON.stringify(layer.format)}, not the ${link.format} it was opened as`);
  if (layer.dataFile !== undefined) throw rejected(at, `it names an external data file (${JSON.stringify(layer.dataFile.slice(0, 200))})`);
  if (layer.backingFile === undefined) return undefined;
  if (layer.format !== 'qcow2') throw rejected(at, `a ${layer.format} layer cannot have a backing file`);
  const backing = layer.backingFile;
  const shown = JSON.stringify(backing.slice(0, 200));
  if (layer.backingFormat === undefined) throw rejected(at, `its backing file ${shown} has no recorded format (QEMU would probe it)`);
  if (!CHAIN_FORMATS.includes(layer.backingFormat)) throw rejected(at, `its backing file ${shown} is ${JSON.stringify(layer.backingFormat)}; only qcow2 and raw are taken`);
  // Absolute: a relative name is resolved against the overlay's folder, and "proto:..." or "json:{...}" are not files.
  if (!isAbsolute(backing)) throw rejected(at, `its backing file ${shown} is not an absolute path`);
  if (layer.fullBackingFile !== undefined && layer.fullBackingFile !== backing) throw rejected(at, `its backing file ${shown} resolves to ${JSON.stringify(layer.fullBackingFile.slice(0, 200))}`);
  try {
    checkAllowedPath(backing, roots, 'backing file');
  } catch (err) {
    if (!(err instanceof ProblemError)) throw err;
    throw rejected(at, `its backing file ${shown} is not one storage built for this task (${err.message})`);
  }
  if (seen.includes(backing) || backing === link.path) throw rejected(at, `its backing chain loops back to ${shown}`);
  if (seen.length + 1 >= MAX_CHAIN_LAYERS) throw rejected(what, `its backing chain is deeper than ${MAX_CHAIN_LAYERS} layers`);
  return { path: backing, format: layer.backingFormat as ChainFormat };
}

/** The whole chain's check over layers already read, top first (the table tests' form). */
export function checkChain(disk: ChainLink, layers: readonly LayerInfo[], roots: readonly string[], what = 'disk'): ChainLink[] {
  const chain: ChainLink[] = [];
  let link: ChainLink | undefined = disk;
  for (const layer of layers) {
    if (!link) throw rejected(what, 'more layers than the chain names');
    chain.push(link);
    link = checkLayer(layer, link, roots, chain.slice(0, -1).map((l) => l.path), what);
  }
  if (link) throw rejected(what, `the layer ${JSON.stringify(link.path.slice(0, 200))} was not read`);
  return chain;
}

/**
 * Walks a disk's chain one layer at a time, so no file is opened before the layer naming it passed.
 * Returns every file in the chain, top first.
 */
export async function walkDiskChain(disk: ChainLink, roots: readonly string[], read: ReadLayer, what = 'disk'): Promise<ChainLink[]> {
  const chain: ChainLink[] = [];
  for (let link: ChainLink | undefined = disk; link; ) {
    chain.push(link);
    const layer = await read(link);
    link = checkLayer(layer, link, roots, chain.slice(0, -1).map((l) => l.path), what);
  }
  return chain;
}
