/**
 * What Kiln's local nodes "are": the VM sizes a pool may ask for (with the cores and memory they
 * imply, which the node agent uses for its slots) and the images its node agent runs tasks on.
 */
export interface VmSize {
  name: string;
  cores: number;
  memoryMiB: number;
}

const sizes: [string, number, number][] = [
  ['standard_a1', 1, 1792],
  ['standard_a2', 2, 3584],
  ['standard_a3', 4, 7168],
  ['standard_a4', 8, 14336],
  ['standard_a1_v2', 1, 2048],
  ['standard_a2_v2', 2, 4096],
  ['standard_a4_v2', 4, 8192],
  ['standard_a8_v2', 8, 16384],
  ['standard_d1_v2', 1, 3584],
  ['standard_d2_v2', 2, 7168],
  ['standard_d3_v2', 4, 14336],
  ['standard_d4_v2', 8, 28672],
  ['standard_d2_v3', 2, 8192],
  ['standard_d4_v3', 4, 16384],
  ['standard_d8_v3', 8, 32768],
  ['standard_d2s_v3', 2, 8192],
  ['standard_d4s_v3', 4, 16384],
  ['standard_d2_v4', 2, 8192],
  ['standard_d4_v4', 4, 16384],
  ['standard_d2s_v5', 2, 8192],
  ['standard_d4s_v5', 4, 16384],
  ['standard_d8s_v5', 8, 32768],
  ['standard_d2ds_v5', 2, 8192],
  ['standard_e2s_v3', 2, 16384],
  ['standard_e4s_v3', 4, 32768],
  ['standard_f1', 1, 2048],
  ['standard_f2', 2, 4096],
  ['standard_f4', 4, 8192],
  ['standard_f2s_v2', 2, 4096],
  ['standard_f4s_v2', 4, 8192],
  ['standard_f8s_v2', 8, 16384],
  ['standard_b1s', 1, 1024],
  ['standard_b1ms', 1, 2048],
  ['standard_b2s', 2, 4096],
  ['standard_b2ms', 2, 8192],
  ['standard_nc6', 6, 57344],
];

export const VM_SIZES: ReadonlyMap<string, VmSize> = new Map(sizes.map(([name, cores, memoryMiB]) => [name, { name, cores, memoryMiB }]));

/** The size a vmSize names, case-insensitively (`STANDARD_A1` is `standard_a1`). */
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
