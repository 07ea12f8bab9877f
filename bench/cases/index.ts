// Every case, in the order of the issue; each names the result ids it produces.
import type { BenchContext } from '../lib/context.ts';
import { notMeasured, type CaseResult } from '../lib/result.ts';
import { bootstrapCases } from './bootstrap-disk.ts';
import { consoleCases } from './console.ts';
import { nodeCases } from './node.ts';
import { pepCases } from './pep.ts';
import { placementCases } from './placements.ts';
import { submitCases } from './submit-serial.ts';

export interface BenchCase {
  name: string;
  ids: string[];
  run: (ctx: BenchContext) => Promise<CaseResult[]>;
}

const notYet = async (): Promise<CaseResult[]> => [
  notMeasured(
    'checkpoint-migration',
    'checkpoint migration of a 256 MiB guest to another namespace host vs virsh save + cp + virsh restore',
    'a restore on another host of a checkpoint storage brought there (the provisioner reading a foreign save image against its path policy) and the coordinator moving a task by it',
    '≤ 1.3x',
  ),
  notMeasured(
    'failure-detection',
    "failure detection and time back running elsewhere vs memberlist's LAN default (~5 s) and Proxmox HA (~2 min)",
    'the fault suite (a namespace host killed under load, its detection and the re-deploy timed)',
  ),
  notMeasured(
    'setup-second-run',
    'the second run of scripts/setup.sh',
    'a machine the bench may reconfigure: setup.sh installs packages and starts daemons, which a bench on a shared machine must not do',
  ),
];

export const benchCases: BenchCase[] = [
  { name: 'submit → first serial line vs virsh create', ids: ['submit-serial'], run: submitCases },
  { name: 'PEP publish → first ACK vs bare UDP multicast', ids: ['pep-ack-16', 'pep-ack-128'], run: pepCases },
  { name: "placements per second on libvirt's test driver", ids: ['placements'], run: placementCases },
  { name: 'bootstrap disk vs virt-make-fs', ids: ['bootstrap-disk'], run: bootstrapCases },
  { name: 'cases whose parts do not exist yet', ids: ['checkpoint-migration', 'failure-detection', 'setup-second-run'], run: notYet },
  { name: 'console through the gateway vs websockify', ids: ['console-throughput', 'console-p99', 'console-cpu', 'console-two-gateways'], run: consoleCases },
  { name: 'a one-node cps up and the idle node', ids: ['cps-up', 'idle-rss', 'idle-cpu'], run: nodeCases },
];

/** Every result id a whole run has, measured or not. */
export const allIds = benchCases.flatMap((c) => c.ids);
