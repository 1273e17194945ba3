import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { BatchServiceClient } from '@azure/batch';
import { VM_SIZE_TABLE } from '../../src/domain/batch/vmSizes.generated.js';
import { ROOT, startKiln, type KilnProcess } from '../helpers/kiln.js';

const vm = { imageReference: { publisher: 'canonical', offer: '0001-com-ubuntu-server-jammy', sku: '22_04-lts' }, nodeAgentSKUId: 'batch.node.ubuntu 22.04' };

/** Sizes Microsoft's samples and the issue name, spelled as they spell them; and the 36 sizes of Kiln's first catalogue. */
const NAMED = [
  'STANDARD_DS1_V2',
  'BASIC_A1',
  'STANDARD_A1',
  'Standard_DS2_v2',
  'Standard_D2_v5',
  'Standard_E2_v3',
  'Standard_NC6s_v3',
  // Issue 9's list of series the first catalogue refused.
  'Standard_D2ls_v5',
  'Standard_D2pds_v6',
  'Standard_E2ps_v5',
  'Standard_E4-2s_v3',
  'Standard_M8-2ms',
  'Standard_DS11-1_v2',
  'Standard_GS4-4',
  'Standard_E2s_v4',
  'Standard_E2as_v6',
  'Standard_F2as_v6',
  'Standard_M12s_v3',
  'Standard_DC2s_v3',
  'Standard_EC2as_v5',
  'Standard_D2s_v7',
  // The network-optimized memory series, added last (docs/vm-sizes.md).
  'Standard_E2ns_v6',
  'Standard_E4nds_v6',
];
const FIRST_CATALOGUE = [
  'standard_a1',
  'standard_a2',
  'standard_a3',
  'standard_a4',
  'standard_a1_v2',
  'standard_a2_v2',
  'standard_a4_v2',
  'standard_a8_v2',
  'standard_d1_v2',
  'standard_d2_v2',
  'standard_d3_v2',
  'standard_d4_v2',
  'standard_d2_v3',
  'standard_d4_v3',
  'standard_d8_v3',
  'standard_d2s_v3',
  'standard_d4s_v3',
  'standard_d2_v4',
  'standard_d4_v4',
  'standard_d2s_v5',
  'standard_d4s_v5',
  'standard_d8s_v5',
  'standard_d2ds_v5',
  'standard_e2s_v3',
  'standard_e4s_v3',
  'standard_f1',
  'standard_f2',
  'standard_f4',
  'standard_f2s_v2',
  'standard_f4s_v2',
  'standard_f8s_v2',
  'standard_b1s',
  'standard_b1ms',
  'standard_b2s',
  'standard_b2ms',
  'standard_nc6',
];

/** A size's series: its name without the size number, e.g. Standard_D2s_v3 and Standard_D64s_v3 are `standard_ds_v3`. */
const seriesOf = (name: string): string => name.toLowerCase().replace(/^(standard|basic)_([a-z]+)\d+(-\d+)?/, '$1_$2');

/** Every 25th size and the first of each series (so each series added to the table is sampled): enough to catch a bad row without a pool per size. */
function sample(): string[] {
  const seen = new Set<string>();
  const picked = VM_SIZE_TABLE.filter(([name], i) => {
    const first = !seen.has(seriesOf(name));
    seen.add(seriesOf(name));
    return first || i % 25 === 0;
  });
  return picked.map(([name]) => name);
}

const sizeRow = (name: string) => {
  const row = VM_SIZE_TABLE.find(([n]) => n.toLowerCase() === name.toLowerCase());
  assert.ok(row, `${name} is in the table`);
  return { cores: row[1], memoryMiB: row[2], gpus: row[3] };
};

describe('VM sizes: the catalogue is Azure Batch’s', () => {
  let kiln: KilnProcess;
  let client: BatchServiceClient;
  let n = 0;
  const addPool = (vmSize: string, extra: object = {}) =>
    client.pool.add({ id: `size-${++n}`, vmSize, virtualMachineConfiguration: vm, targetDedicatedNodes: 0, ...extra }).then(() => `size-${n}`);
  /** The Reason Kiln gives for an InvalidPropertyValue refusal of `property`. */
  const refusal = async (call: Promise<unknown>, property: string) => {
    const e = await call.then(
      () => assert.fail('accepted'),
      (err: { statusCode?: number; code?: string; body?: { values?: { key: string; value: string }[] } }) => err,
    );
    assert.equal(e.statusCode, 400);
    assert.equal(e.code, 'InvalidPropertyValue');
    assert.equal(e.body?.values?.find((v) => v.key === 'PropertyName')?.value, property);
    return e.body?.values?.find((v) => v.key === 'Reason')?.value ?? '';
  };

  before(async () => {
    kiln = await startKiln();
    client = kiln.batchClient();
  });
  after(async () => {
    await kiln.stop();
  });

  it('holds each size once, with cores, memory and GPUs only on N-series sizes; the docs give its count', () => {
    const names = VM_SIZE_TABLE.map(([name]) => name.toLowerCase());
    assert.equal(new Set(names).size, names.length);
    for (const [name, cores, memoryMiB, gpus] of VM_SIZE_TABLE) {
      assert.ok(Number.isInteger(cores) && cores >= 1 && Number.isInteger(memoryMiB) && memoryMiB >= 512, name);
      assert.ok(gpus === 0 || /^standard_n/i.test(name), `${name} has ${gpus} GPUs`);
    }
    assert.deepEqual(sizeRow('Standard_NC6s_v3'), { cores: 6, memoryMiB: 112 * 1024, gpus: 1 });
    assert.deepEqual(sizeRow('Basic_A1'), { cores: 1, memoryMiB: 1792, gpus: 0 });
    assert.deepEqual(sizeRow('Standard_ND96isr_H100_v5'), { cores: 96, memoryMiB: 1900 * 1024, gpus: 8 });
    assert.deepEqual(sizeRow('Standard_ND96isr_MI300X_v5'), { cores: 96, memoryMiB: 1850 * 1024, gpus: 8 });
    assert.deepEqual(sizeRow('Standard_D2ps_v6'), { cores: 2, memoryMiB: 8 * 1024, gpus: 0 });
    assert.deepEqual(sizeRow('Standard_M416s_6_v3'), { cores: 416, memoryMiB: 5696 * 1024, gpus: 0 });
    // One size of each series the second pass added (docs/vm-sizes.md), as its article prints it.
    const secondPass: [string, number, number, number][] = [
      ['Standard_E2s_v7', 2, 16, 0],
      ['Standard_E2ds_v7', 2, 16, 0],
      ['Standard_E160as_v7', 160, 1280, 0],
      ['Standard_E2ads_v7', 2, 16, 0],
      ['Standard_F1as_v7', 1, 4, 0],
      ['Standard_F80als_v7', 80, 160, 0],
      ['Standard_F2ams_v7', 2, 16, 0],
      ['Standard_F1ads_v7', 1, 4, 0],
      ['Standard_F2alds_v7', 2, 4, 0],
      ['Standard_F2amds_v7', 2, 16, 0],
      ['Standard_E192ibs_v6', 192, 1832, 0],
      ['Standard_E2bds_v6', 2, 16, 0],
      ['Standard_FX96ms_v2', 96, 1832, 0],
      ['Standard_FX2mds_v2', 2, 42, 0],
      ['Standard_M128ls_v4', 128, 1944, 0],
      ['Standard_M16lds_v4', 16, 256, 0],
      ['Standard_M96bs_1_v4', 96, 768, 0],
      ['Standard_M304bds_4_v4', 304, 3800, 0],
      ['Standard_M32ms_v2', 32, 875, 0],
      ['Standard_M192idms_v2', 192, 4096, 0],
      ['Standard_D2ns_v6', 2, 8, 0],
      ['Standard_D2nds_v6', 2, 8, 0],
      ['Standard_D2nls_v6', 2, 4, 0],
      ['Standard_D2nlds_v6', 2, 4, 0],
      ['Standard_DC2as_v6', 2, 8, 0],
      ['Standard_DC2ads_v6', 2, 8, 0],
      ['Standard_DC128es_v6', 128, 512, 0],
      ['Standard_DC2eds_v6', 2, 8, 0],
      ['Standard_DC4as_cc_v5', 4, 16, 0],
      ['Standard_DC4ads_cc_v5', 4, 16, 0],
      ['Standard_EC96as_v6', 96, 672, 0],
      ['Standard_EC2ads_v6', 2, 16, 0],
      ['Standard_EC2es_v6', 2, 16, 0],
      ['Standard_EC64eds_v6', 64, 512, 0],
      ['Standard_EC20as_cc_v5', 20, 160, 0],
      ['Standard_EC96ads_cc_v5', 96, 672, 0],
      ['Standard_L2s_v4', 2, 16, 0],
      ['Standard_L96as_v4', 96, 768, 0],
      ['Standard_L12aos_v4', 12, 96, 0],
      ['Standard_L160ias_v5', 160, 1280, 0],
      ['Standard_L160iaos_v5', 160, 1040, 0],
      ['Standard_HB368rs_v5', 368, 432, 0],
      ['Standard_NCC40ads_H100_v5', 40, 320, 1],
      ['Standard_NV24ads_V710_v5', 24, 128, 1],
      ['Standard_NV4ads_V710_v5', 4, 16, 0],
      ['Standard_ND128isr_NDR_GB200_v6', 128, 900, 4],
      ['Standard_ND128isr_GB300_v6', 128, 864, 4],
      ['Standard_NC320ds_xl_RTXPRO6000BSE_v6', 320, 1280, 2],
      ['Standard_NM16ads_MA35D', 16, 32, 1],
    ];
    for (const [name, cores, memoryGiB, gpus] of secondPass) assert.deepEqual(sizeRow(name), { cores, memoryMiB: memoryGiB * 1024, gpus }, name);
    // A constrained-vCPU size has its base size's memory and only its active vCPUs (docs/vm-sizes.md).
    assert.deepEqual(sizeRow('Standard_E4-2s_v3'), { cores: 2, memoryMiB: sizeRow('Standard_E4s_v3').memoryMiB, gpus: 0 });
    assert.deepEqual(sizeRow('Standard_M8-2ms'), { cores: 2, memoryMiB: sizeRow('Standard_M8ms').memoryMiB, gpus: 0 });
    assert.deepEqual(sizeRow('Standard_E4-2as_v7'), { cores: 2, memoryMiB: sizeRow('Standard_E4as_v7').memoryMiB, gpus: 0 });
    assert.deepEqual(sizeRow('Standard_F2-1amds_v7'), { cores: 1, memoryMiB: sizeRow('Standard_F2amds_v7').memoryMiB, gpus: 0 });
    assert.deepEqual(sizeRow('Standard_FX4-2ms_v2'), { cores: 2, memoryMiB: sizeRow('Standard_FX4ms_v2').memoryMiB, gpus: 0 });
    assert.deepEqual(sizeRow('Standard_HB368-48rs_v5'), { cores: 48, memoryMiB: sizeRow('Standard_HB368rs_v5').memoryMiB, gpus: 0 });
    const doc = fs.readFileSync(path.join(ROOT, 'docs/vm-sizes.md'), 'utf8');
    assert.match(doc, new RegExp(`\\*\\*${VM_SIZE_TABLE.length} sizes\\*\\*`));
  });

  it('accepts the sizes samples name, in their spelling, and reads vmSize back lowercased', async () => {
    for (const name of [...NAMED, ...FIRST_CATALOGUE]) {
      const id = await addPool(name);
      const pool = await client.pool.get(id);
      assert.equal(pool.vmSize, name.toLowerCase(), name);
    }
  });

  it('accepts every 25th size and one of each series', async () => {
    const names = sample();
    assert.ok(names.length > 100, `${names.length} sizes sampled`);
    for (const name of names) {
      const id = await addPool(name.toUpperCase());
      assert.equal((await client.pool.get(id, { poolGetOptions: { select: 'vmSize' } })).vmSize, name.toLowerCase());
    }
  });

  it('refuses a size Azure never offered, naming where the list is', async () => {
    for (const name of ['Standard_D3_v9', 'Standard_XXL', 'standard_ds1_v2x', 'Basic_A9']) {
      assert.match(await refusal(addPool(name), 'vmSize'), /docs\/vm-sizes\.md/);
    }
    // An auto pool's size is checked as a pool's is.
    const auto = { autoPoolSpecification: { poolLifetimeOption: 'job' as const, pool: { vmSize: 'Standard_D3_v9', virtualMachineConfiguration: vm, targetDedicatedNodes: 0 } } };
    await refusal(client.job.add({ id: 'auto-size', poolInfo: auto }), 'poolInfo.autoPoolSpecification.pool.vmSize');
  });

  it('limits taskSlotsPerNode to 4 slots per vCPU of the size, and 256', async () => {
    for (const name of ['Basic_A0', 'Standard_A1', 'Standard_NC6s_v3', 'Standard_HB120-16rs_v3', 'Standard_M8-2ms', 'Standard_D48s_v4', 'Standard_D96s_v5', 'Standard_M416s_v2']) {
      const limit = Math.min(256, 4 * sizeRow(name).cores);
      await refusal(addPool(name, { taskSlotsPerNode: limit + 1 }), 'taskSlotsPerNode');
      const id = await addPool(name, { taskSlotsPerNode: limit });
      assert.equal((await client.pool.get(id)).taskSlotsPerNode, limit, name);
    }
  });
});
