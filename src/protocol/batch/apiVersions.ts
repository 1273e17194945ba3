/**
 * The Batch service's API versions: every stable data-plane version published in the REST specs
 * (Azure/azure-rest-api-specs, specification/batch/data-plane/{Microsoft.Batch,Batch}/stable/*).
 * Left out: the folder `2013-05-01.17.0`, a misnamed copy of 2023-05-01.17.0, not a version the
 * service ever had. An api-version outside this list is answered as Azure answers one it does not
 * know: 400 InvalidQueryParameterValue (Azure/azure-sdk-for-python#19224 and #20972 show that answer
 * to a management-plane version sent to a Batch account's endpoint). Kiln's models follow
 * 2022-10-01.16.0; the newer versions' properties are refused where set (domain/batch/unsupported.ts),
 * the older versions' requests are a subset.
 */
export const BATCH_API_VERSIONS: ReadonlySet<string> = new Set([
  '2015-12-01.2.2',
  '2016-02-01.3.0',
  '2016-07-01.3.1',
  '2017-01-01.4.0',
  '2017-05-01.5.0',
  '2017-06-01.5.1',
  '2017-09-01.6.0',
  '2018-03-01.6.1',
  '2018-08-01.7.0',
  '2018-12-01.8.0',
  '2019-06-01.9.0',
  '2019-08-01.10.0',
  '2020-03-01.11.0',
  '2020-09-01.12.0',
  '2021-06-01.14.0',
  '2022-01-01.15.0',
  '2022-10-01.16.0',
  '2023-05-01.17.0',
  '2023-11-01.18.0',
  '2024-02-01.19.0',
  '2024-07-01.20.0',
  // The first version without the service-version suffix (the TypeSpec-generated SDKs send it).
  '2025-06-01',
]);
