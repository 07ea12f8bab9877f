// Every case, in the order of the issue; each names the result ids it produces.
import type { BenchContext } from '../lib/context.ts';
import type { CaseResult } from '../lib/result.ts';
import { consoleCases } from './console.ts';
import { pepCases } from './pep.ts';
import { submitCases } from './submit-serial.ts';
import { placementCases } from './placements.ts';
import { bootstrapCases } from './bootstrap-disk.ts';

export interface BenchCase {
  name: string;
  ids: string[];
  run: (ctx: BenchContext) => Promise<CaseResult[]>;
}

export const benchCases: BenchCase[] = [
  { name: 'submit → first serial line vs virsh create', ids: ['submit-serial'], run: submitCases },
  { name: 'PEP publish → first ACK vs bare UDP multicast', ids: ['pep-ack-16', 'pep-ack-128'], run: pepCases },
  { name: "placements per second on libvirt's test driver", ids: ['placements'], run: placementCases },
  { name: 'bootstrap disk vs virt-make-fs', ids: ['bootstrap-disk'], run: bootstrapCases },
  { name: 'console through the gateway vs websockify', ids: ['console-throughput', 'console-p99', 'console-cpu', 'console-two-gateways'], run: consoleCases },
];
