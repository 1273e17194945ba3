import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JsonObject } from '../../src/domain/batch/schema/validate.js';
import { checkCommand, checkId, checkJobScheduleSpec, checkJobSpec, checkPoolInfo, checkPoolSpec, isValidId } from '../../src/domain/batch/validation.js';
import { detail, refusal, thrown, VM } from './helpers.js';

/** The property a 400 InvalidPropertyValue / MissingRequiredProperty names. */
const refusedProperty = (fn: () => unknown, code = 'InvalidPropertyValue'): string | undefined => {
  const err = thrown(fn);
  refusal(400, code)(err);
  return detail(err, 'PropertyName');
};

const pool = (extra: JsonObject = {}): JsonObject => ({ vmSize: 'standard_d2s_v3', virtualMachineConfiguration: VM, targetDedicatedNodes: 1, ...extra });

describe('Batch ids', () => {
  it('accepts 1 to 64 letters, digits, hyphens and underscores', () => {
    for (const id of ['a', 'A-b_9', 'x'.repeat(64), '0']) {
      assert.equal(checkId(id), id);
      assert.equal(isValidId(id), true, id);
    }
  });

  it('refuses anything else as InvalidPropertyValue of the property named', () => {
    for (const id of ['', 'x'.repeat(65), 'a.b', 'a b', 'é', 'a/b', 'a:b']) {
      assert.equal(isValidId(id), false, id);
      assert.equal(
        refusedProperty(() => checkId(id)),
        'id',
      );
    }
    assert.equal(
      refusedProperty(() => checkId(42, 'poolInfo.poolId')),
      'poolInfo.poolId',
    );
    assert.equal(
      refusedProperty(() => checkId(undefined)),
      'id',
    );
  });
});

describe('task commands (checkCommand)', () => {
  const ok = { commandLine: 'echo hi' };
  it('accepts a plain command', () => {
    checkCommand(ok, '');
    checkCommand({ ...ok, constraints: { maxTaskRetryCount: -1, maxWallClockTime: 'PT1S', retentionTime: 'PT0S' }, requiredSlots: 256 }, '');
  });

  it('refuses each broken rule, naming the property with its path', () => {
    const cases: [JsonObject, string, string?][] = [
      [{ commandLine: '   ' }, 'startTask.commandLine'],
      [{ ...ok, userIdentity: { username: 'u', autoUser: {} } }, 'startTask.userIdentity'],
      [{ ...ok, resourceFiles: [{ filePath: 'a' }] }, 'startTask.resourceFiles[0].httpUrl', 'MissingRequiredProperty'],
      [{ ...ok, resourceFiles: [{ httpUrl: 'http://x', storageContainerUrl: 'http://y' }] }, 'startTask.resourceFiles[0]'],
      [{ ...ok, resourceFiles: [{ httpUrl: 'http://x' }] }, 'startTask.resourceFiles[0].filePath', 'MissingRequiredProperty'],
      [{ ...ok, resourceFiles: [{ httpUrl: 'http://x', filePath: '/etc/passwd' }] }, 'startTask.resourceFiles[0].filePath'],
      [{ ...ok, resourceFiles: [{ httpUrl: 'http://x', filePath: 'a/../../b' }] }, 'startTask.resourceFiles[0].filePath'],
      [{ ...ok, resourceFiles: [{ httpUrl: 'http://x', filePath: 'a\\..\\b' }] }, 'startTask.resourceFiles[0].filePath'],
      [{ ...ok, resourceFiles: [{ httpUrl: 'http://x', filePath: 'a', fileMode: '999' }] }, 'startTask.resourceFiles[0].fileMode'],
      [{ ...ok, environmentSettings: [{ name: '' }] }, 'startTask.environmentSettings[0].name'],
      [{ ...ok, environmentSettings: [{ name: 'A' }, { name: 'B=C' }] }, 'startTask.environmentSettings[1].name'],
      [{ ...ok, constraints: { maxTaskRetryCount: -2 } }, 'startTask.constraints.maxTaskRetryCount'],
      [{ ...ok, constraints: { maxWallClockTime: 'PT0S' } }, 'startTask.constraints.maxWallClockTime'],
      [{ ...ok, maxTaskRetryCount: -2 }, 'startTask.maxTaskRetryCount'],
      [{ ...ok, requiredSlots: 0 }, 'startTask.requiredSlots'],
      [{ ...ok, requiredSlots: 257 }, 'startTask.requiredSlots'],
    ];
    for (const [task, property, code] of cases)
      assert.equal(
        refusedProperty(() => checkCommand(task, 'startTask.'), code),
        property,
        JSON.stringify(task),
      );
  });

  it('accepts a fileMode in octal, and a file path inside the working directory', () => {
    checkCommand({ ...ok, resourceFiles: [{ httpUrl: 'http://x', filePath: 'in/a..b', fileMode: '0755' }, { storageContainerUrl: 'http://y' }] }, '');
  });
});

describe('pool specifications (checkPoolSpec)', () => {
  it('accepts a Linux pool of a known size within its slot limit', () => {
    checkPoolSpec(pool({ taskSlotsPerNode: 8, resizeTimeout: 'PT5M' }), '');
  });

  it('refuses each broken rule with the property and its path', () => {
    const cases: [JsonObject, string, string?][] = [
      [pool({ vmSize: 'standard_nope' }), 'p.vmSize'],
      [{ vmSize: 'standard_d2s_v3', targetDedicatedNodes: 1 }, 'p.virtualMachineConfiguration', 'MissingRequiredProperty'],
      [pool({ virtualMachineConfiguration: { ...VM, nodeAgentSKUId: 'batch.node.windows amd64' } }), 'p.virtualMachineConfiguration.nodeAgentSKUId'],
      [pool({ virtualMachineConfiguration: { ...VM, nodeAgentSKUId: 'batch.node.plan9' } }), 'p.virtualMachineConfiguration.nodeAgentSKUId'],
      [
        pool({ virtualMachineConfiguration: { ...VM, imageReference: { publisher: 'MicrosoftWindowsServer', offer: 'o', sku: 's' } } }),
        'p.virtualMachineConfiguration.imageReference.publisher',
      ],
      // Standard_D2s_v3 has 2 cores: at most 4 slots a core.
      [pool({ taskSlotsPerNode: 9 }), 'p.taskSlotsPerNode'],
      [pool({ taskSlotsPerNode: 0 }), 'p.taskSlotsPerNode'],
      [pool({ targetDedicatedNodes: 1001 }), 'p.targetDedicatedNodes'],
      [pool({ targetLowPriorityNodes: -1 }), 'p.targetLowPriorityNodes'],
      [{ vmSize: 'standard_d2s_v3', virtualMachineConfiguration: VM }, 'p.targetDedicatedNodes', 'MissingRequiredProperty'],
      [pool({ autoScaleFormula: '$TargetDedicatedNodes=1' }), 'p.autoScaleFormula'],
      [pool({ resizeTimeout: 'PT4M59S' }), 'p.resizeTimeout'],
      [pool({ startTask: { commandLine: '' } }), 'p.startTask.commandLine'],
      [pool({ userAccounts: [{ name: 'bad name' }] }), 'p.userAccounts[0].name'],
    ];
    for (const [spec, property, code] of cases)
      assert.equal(
        refusedProperty(() => checkPoolSpec(spec, 'p.'), code),
        property,
        JSON.stringify(spec),
      );
  });

  it('says why a Windows SKU is refused', () => {
    const err = thrown(() => checkPoolSpec(pool({ virtualMachineConfiguration: { ...VM, nodeAgentSKUId: 'batch.node.windows amd64' } }), ''));
    assert.match(detail(err, 'Reason')!, /Linux nodes only/);
  });
});

describe('job specifications (checkJobSpec, checkPoolInfo, checkJobScheduleSpec)', () => {
  it('poolInfo names exactly one of poolId and autoPoolSpecification', () => {
    checkPoolInfo({ poolId: 'p' }, '');
    checkPoolInfo({ autoPoolSpecification: { autoPoolIdPrefix: 'x'.repeat(20), pool: pool() } }, '');
    assert.equal(
      refusedProperty(() => checkPoolInfo({}, 'j.'), 'MissingRequiredProperty'),
      'j.poolInfo.poolId',
    );
    assert.equal(
      refusedProperty(() => checkPoolInfo({ poolId: 'p', autoPoolSpecification: {} }, 'j.')),
      'j.poolInfo',
    );
    assert.equal(
      refusedProperty(() => checkPoolInfo({ poolId: 'a b' }, '')),
      'poolInfo.poolId',
    );
    assert.equal(
      refusedProperty(() => checkPoolInfo({ autoPoolSpecification: { autoPoolIdPrefix: 'x'.repeat(21) } }, '')),
      'poolInfo.autoPoolSpecification.autoPoolIdPrefix',
    );
    assert.equal(
      refusedProperty(() => checkPoolInfo({ autoPoolSpecification: { pool: pool({ vmSize: 'nope' }) } }, '')),
      'poolInfo.autoPoolSpecification.pool.vmSize',
    );
  });

  it('checks priority, maxParallelTasks, retries, the job tasks and their pairing', () => {
    checkJobSpec({ poolInfo: { poolId: 'p' }, priority: -1000, maxParallelTasks: -1 }, '');
    checkJobSpec({ poolInfo: { poolId: 'p' }, priority: 1000, maxParallelTasks: 1, jobPreparationTask: { commandLine: 'x' }, jobReleaseTask: { commandLine: 'y' } }, '');
    const cases: [JsonObject, string][] = [
      [{ priority: 1001 }, 'priority'],
      [{ priority: -1001 }, 'priority'],
      [{ maxParallelTasks: 0 }, 'maxParallelTasks'],
      [{ maxParallelTasks: -2 }, 'maxParallelTasks'],
      [{ constraints: { maxTaskRetryCount: -2 } }, 'constraints.maxTaskRetryCount'],
      [{ constraints: { maxWallClockTime: 'PT0S' } }, 'constraints.maxWallClockTime'],
      [{ jobManagerTask: { id: 'a.b', commandLine: 'x' } }, 'jobManagerTask.id'],
      [{ jobPreparationTask: { commandLine: ' ' } }, 'jobPreparationTask.commandLine'],
      [{ jobReleaseTask: { commandLine: 'x' } }, 'jobReleaseTask'],
      [{ commonEnvironmentSettings: [{ name: 'A=B' }] }, 'commonEnvironmentSettings[0].name'],
      [{ metadata: [{ name: '', value: 'v' }] }, 'metadata[0].name'],
    ];
    for (const [spec, property] of cases)
      assert.equal(
        refusedProperty(() => checkJobSpec({ poolInfo: { poolId: 'p' }, ...spec }, '')),
        property,
        JSON.stringify(spec),
      );
  });

  it('a schedule recurs and opens its window for a minute at least', () => {
    checkJobScheduleSpec({ schedule: { recurrenceInterval: 'PT1M', startWindow: 'PT1M' } });
    assert.equal(
      refusedProperty(() => checkJobScheduleSpec({ schedule: { recurrenceInterval: 'PT59S' } })),
      'schedule.recurrenceInterval',
    );
    assert.equal(
      refusedProperty(() => checkJobScheduleSpec({ schedule: { startWindow: 'PT30S' } })),
      'schedule.startWindow',
    );
    assert.equal(
      refusedProperty(() => checkJobScheduleSpec({ jobSpecification: { poolInfo: { poolId: 'p' }, priority: 5000 } })),
      'jobSpecification.priority',
    );
  });
});
