import { XMLParser } from 'fast-xml-parser';
import { CPS_NS, NODE_ID } from './domainXml.ts';

/** What the provisioner reads back from a domain's live XML. */
export interface LiveFacts {
  type: string;
  title?: string;
  /** Present only on domains a CPS provisioner made (our metadata element). */
  task?: { id: string; spec?: string; checkpointEverySec?: number; placedBy?: string; specJson?: string };
  /** libvirt's UUID of the domain. */
  uuid?: string;
  name?: string;
  vncPort?: number;
  vncListen?: string;
  /** Only in XML read with libvirt's SECURE flag. */
  vncPassword?: string;
  serialPty?: string;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: true,
  // Also what turns numeric references (&#10;) back into characters; named HTML ones never occur.
  htmlEntities: true,
  isArray: (name) => ['serial', 'graphics', 'cps:task'].includes(name),
});

type Node = Record<string, unknown>;
const obj = (x: unknown): Node | undefined => (typeof x === 'object' && x !== null ? (x as Node) : undefined);
const str = (x: unknown): string | undefined => (typeof x === 'string' ? x : undefined);
const arr = (x: unknown): Node[] => (Array.isArray(x) ? x.map(obj).filter((n): n is Node => !!n) : []);
// An element holding only text parses to a string; one with attributes too, to { '#text': ... }.
const text = (x: unknown): string | undefined => str(x) ?? str(obj(x)?.['#text']);

function every(x: unknown): { checkpointEverySec?: number } {
  const n = Number(str(x));
  return Number.isInteger(n) && n > 0 ? { checkpointEverySec: n } : {};
}

function placedBy(x: unknown): { placedBy?: string } {
  const id = str(x);
  return id !== undefined && NODE_ID.test(id) ? { placedBy: id } : {};
}

// The request the domain was made from, as written (JSON); read as outside data where it is used.
function specJson(x: unknown): { specJson?: string } {
  const s = text(x);
  return s !== undefined ? { specJson: s } : {};
}

/**
 * libvirt writes this XML, but the title inside came from a user: it is read with a real parser,
 * never with patterns over the text.
 */
export function readLiveXml(xml: string): LiveFacts {
  const domain = obj(obj(parser.parse(xml))?.domain) ?? {};
  const devices = obj(domain.devices) ?? {};
  const meta = obj(domain.metadata) ?? {};
  // libvirt keeps the prefix we wrote; we still check the namespace, not just the prefix.
  const task = arr(meta['cps:task']).find((t) => t['@xmlns:cps'] === CPS_NS && typeof t['@id'] === 'string');
  const vnc = arr(devices.graphics).find((g) => g['@type'] === 'vnc');
  const pty = arr(devices.serial).find((s) => s['@type'] === 'pty');
  const port = Number(vnc?.['@port']);
  return {
    type: str(domain['@type']) ?? '',
    title: text(domain.title),
    name: text(domain.name),
    uuid: text(domain.uuid),
    task: task
      ? { id: task['@id'] as string, spec: str(task['@spec']), ...every(task['@checkpointEverySec']), ...placedBy(task['@placedBy']), ...specJson(task['cps:spec']) }
      : undefined,
    vncPort: Number.isInteger(port) && port > 0 ? port : undefined,
    vncListen: str(vnc?.['@listen']),
    vncPassword: str(vnc?.['@passwd']),
    serialPty: str(obj(pty?.source)?.['@path']),
  };
}
