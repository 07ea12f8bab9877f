import { join } from 'node:path';

/**
 * Folders of the data dir that two services share (each service keeps its own files in its own
 * module: storage's StorageLayout, @cps/trust's trustLayout). The provisioner makes a guest's
 * serial socket here; the vnc-gateway of the same node dials it.
 */
export const serialSocketDir = (dataDir: string): string => join(dataDir, 'serial');

/**
 * The coordinator's copies of users' bootstrap archives (`<id>.tar` and `<id>.json`): kept on the
 * node the user uploaded to, and sent to the storage of whichever node a task is placed on.
 */
export const bootstrapArchiveDir = (dataDir: string): string => join(dataDir, 'coordinator', 'bootstraps');

/**
 * The coordinator's head epoch floor: the largest epoch it has held or seen in a HELLO, so a term
 * it claims after a restart (DNS-less, or with the lease record lost) is above every earlier one.
 */
export const headEpochFile = (dataDir: string): string => join(dataDir, 'coordinator', 'head-epoch');

/**
 * The host's fence (@cps/head FenceGuard): one folder of epoch marks per node, shared by its
 * provisioner and storage, so a command of an older head is refused by both once either has seen a
 * newer epoch. Never emptied: forgetting it would let an old head back in.
 */
export const fenceDir = (dataDir: string): string => join(dataDir, 'fence');
