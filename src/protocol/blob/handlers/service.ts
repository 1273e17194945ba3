import { errors } from '../../../domain/blob/errors.js';
import type { Operation } from '../operation.js';
import { readInclude } from '../unsupported.js';
import { containerListXml, servicePropertiesXml } from '../xml.js';

const XML = { 'Content-Type': 'application/xml' };

export function parseMaxResults(value: string | undefined): number {
  if (value === undefined || value === '') return 5000;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1) throw errors.invalidQuery('maxresults', value);
  return Math.min(n, 5000);
}

export const listContainers: Operation = {
  name: 'ListContainers',
  level: 'service',
  sasPermissions: ['l'],
  async handle({ req, service, respond }) {
    const prefix = req.params.get('prefix') ?? '';
    const marker = req.params.get('marker') ?? '';
    const maxResults = parseMaxResults(req.params.get('maxresults'));
    const withMetadata = readInclude(req, 'containers').has('metadata');
    const page = await service.containers.list(req.account, prefix, marker, maxResults);
    respond.send(200, XML, containerListXml(req.accountUrl, { prefix, marker, maxResults }, page.items, page.nextMarker, withMetadata));
  },
};

export const getServiceProperties: Operation = {
  name: 'GetServiceProperties',
  level: 'service',
  sasPermissions: ['r'],
  handle({ respond }) {
    respond.send(200, XML, servicePropertiesXml());
  },
};

export const getAccountInfo: Operation = {
  name: 'GetAccountInfo',
  level: 'service',
  sasPermissions: ['r', 'l', 'w', 'c', 'd', 'a'],
  handle({ respond }) {
    respond.send(200, {
      'x-ms-sku-name': 'Standard_LRS',
      'x-ms-account-kind': 'StorageV2',
      'x-ms-is-hns-enabled': 'false',
    });
  },
};
