import { randomBytes } from 'node:crypto';

/** `t-` and 8 random hex characters: fits the contract's TaskId and a libvirt domain name. */
export const newTaskId = (): string => `t-${randomBytes(4).toString('hex')}`;

export const taskIdPattern = /^[a-z0-9][a-z0-9-]{0,62}$/;
