import { VM_SIZE_TABLE } from './vmSizes.generated.js';

/**
 * What Kiln's local nodes "are": the VM sizes a pool may ask for and the images its node agent
 * runs tasks on.
 */

/** One VM size Azure Batch offers or offered (docs/vm-sizes.md: where the list comes from). */
export interface VmSize {
  /** As Azure spells it, e.g. `Standard_D2s_v3`. */
  name: string;
  /** vCPUs available to the VM (for constrained-core sizes, the constrained count). */
  cores: number;
  memoryMiB: number;
  /** GPUs the size has on Azure; a Kiln node exposes only what its host has. */
  gpus: number;
}

/** Where a user finds the sizes Kiln accepts (named in the error for any other size). */
export const VM_SIZES_DOC = 'docs/vm-sizes.md';

const VM_SIZES: ReadonlyMap<string, VmSize> = new Map(VM_SIZE_TABLE.map(([name, cores, memoryMiB, gpus]) => [name.toLowerCase(), { name, cores, memoryMiB, gpus }]));

/** The size a vmSize names, case-insensitively as Azure matches it (`STANDARD_A1` is `Standard_A1`). */
export const findVmSize = (name: string): VmSize | undefined => VM_SIZES.get(name.toLowerCase());

export interface ImageInformation {
  nodeAgentSKUId: string;
  imageReference: { publisher: string; offer: string; sku: string; version: string };
  osType: 'linux';
  capabilities?: string[];
  verificationType: 'verified';
}

const image = (nodeAgentSKUId: string, publisher: string, offer: string, sku: string): ImageInformation => ({
  nodeAgentSKUId,
  imageReference: { publisher, offer, sku, version: 'latest' },
  osType: 'linux',
  verificationType: 'verified',
});

/** Kiln's nodes run tasks on the host's Linux; these are the images users name for that. */
export const SUPPORTED_IMAGES: readonly ImageInformation[] = [
  image('batch.node.ubuntu 16.04', 'Canonical', 'UbuntuServer', '16.04-LTS'),
  image('batch.node.ubuntu 18.04', 'Canonical', 'UbuntuServer', '18.04-LTS'),
  image('batch.node.ubuntu 20.04', 'canonical', '0001-com-ubuntu-server-focal', '20_04-lts'),
  image('batch.node.ubuntu 22.04', 'canonical', '0001-com-ubuntu-server-jammy', '22_04-lts'),
  image('batch.node.debian 10', 'debian', 'debian-10', '10'),
  image('batch.node.debian 11', 'debian', 'debian-11', '11'),
  image('batch.node.debian 12', 'debian', 'debian-12', '12'),
];

/** The old API's NodeAgentSku list (`GET /nodeagentskus`), for clients of 2016-2019. */
export function nodeAgentSkus(): { id: string; verifiedImageReferences: ImageInformation['imageReference'][]; osType: 'linux' }[] {
  const byId = new Map<string, ImageInformation['imageReference'][]>();
  for (const img of SUPPORTED_IMAGES) byId.set(img.nodeAgentSKUId, [...(byId.get(img.nodeAgentSKUId) ?? []), img.imageReference]);
  return [...byId].map(([id, verifiedImageReferences]) => ({ id, verifiedImageReferences, osType: 'linux' }));
}

export const isKnownNodeAgentSku = (id: string): boolean => SUPPORTED_IMAGES.some((img) => img.nodeAgentSKUId.toLowerCase() === id.toLowerCase());
