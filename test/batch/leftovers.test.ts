import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { batchErrorOf, batchRequest } from '../helpers/batchHttp.js';
import { startKiln, type KilnProcess } from '../helpers/kiln.js';

describe('Batch api-version: the published versions, and no other', () => {
  let kiln: KilnProcess;
  before(async () => {
    kiln = await startKiln();
  });
  after(async () => {
    await kiln.stop();
  });

  const listPools = (version: string) => batchRequest(kiln.batchUrl, 'GET', '/pools', { noApiVersion: true, query: `api-version=${encodeURIComponent(version)}` });

  it('takes every published version, old and new', async () => {
    // The oldest published, the one @azure/batch 10 and the Debian azure-batch send, and the newest (no service-version suffix).
    for (const version of ['2015-12-01.2.2', '2022-10-01.16.0', '2024-07-01.20.0', '2025-06-01']) {
      assert.equal((await listPools(version)).status, 200, version);
    }
  });

  it('answers a well-formed version the Batch service never had as Azure does: 400 InvalidQueryParameterValue', async () => {
    // 2013-05-01.17.0 is a misnamed folder of the REST specs, not a version of the service.
    for (const version of ['2099-01-01.99.0', '2022-10-01.15.0', '2013-05-01.17.0', '2024-07-01']) {
      const res = await listPools(version);
      assert.equal(res.status, 400, version);
      const error = batchErrorOf(res);
      assert.equal(error.code, 'InvalidQueryParameterValue');
      const values = new Map(error.values!.map((v) => [v.key, v.value]));
      assert.equal(values.get('QueryParameterName'), 'api-version');
      assert.equal(values.get('QueryParameterValue'), version);
      assert.match(values.get('Reason') ?? '', /no such API version/);
    }
  });
});
