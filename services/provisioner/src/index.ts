export { createApp, type AppDeps } from './app.ts';
export { connectLibvirt, lazyLibvirt, LibvirtHypervisor, type Hypervisor, type DomainStatus, type DomainState, type NodeInfo } from './hypervisor.ts';
export { accelReader, domainTypeFor, type Accelerator } from './accel.ts';
export { buildDomainXml, policyFor, domainNameOf, checkTaskId, type DomainSpec, type DomainPolicy } from './domainXml.ts';
export { lendable, freeOf, admit, type Resources, type ShareSettings } from './capacity.ts';
export { Vms, specDigest, type Vm, type VmSpec } from './vms.ts';
