import { errors } from '../../../domain/blob/errors.js';
import type { Container, PublicAccess } from '../../../domain/blob/models.js';
import { readSmallBody } from '../body.js';
import type { Operation } from '../operation.js';
import { readConditions, readMetadata, type BlobRequest } from '../request.js';
import { httpDate, metadataHeaders } from '../respond.js';
import { blobListXml, parseSignedIdentifiers, signedIdentifiersXml } from '../xml.js';
import { parseMaxResults } from './service.js';
import { readInclude } from '../unsupported.js';

const versionHeaders = (c: Container) => ({ ETag: c.etag, 'Last-Modified': httpDate(c.lastModified) });

function readPublicAccess(req: BlobRequest): PublicAccess | undefined {
  const value = req.header('x-ms-blob-public-access');
  if (value === undefined || value === '') return undefined;
  if (value !== 'container' && value !== 'blob') throw errors.invalidHeader('x-ms-blob-public-access', value);
  return value;
}

const containerName = (req: BlobRequest): string => req.container!;

export const createContainer: Operation = {
  name: 'CreateContainer',
  level: 'container',
  sasPermissions: ['c', 'w'],
  serviceSasPermissions: [],
  async handle({ req, service, respond }) {
    const c = await service.containers.create(req.account, containerName(req), readMetadata(req), readPublicAccess(req));
    respond.send(201, versionHeaders(c));
  },
};

export const getContainerProperties: Operation = {
  name: 'GetContainerProperties',
  level: 'container',
  sasPermissions: ['r'],
  serviceSasPermissions: [],
  anonymous: 'container',
  async handle({ req, service, respond }) {
    const c = await service.containers.get(req.account, containerName(req), readConditions(req));
    respond.send(200, {
      ...versionHeaders(c),
      ...metadataHeaders(c.metadata),
      'x-ms-lease-state': 'available',
      'x-ms-lease-status': 'unlocked',
      'x-ms-blob-public-access': c.publicAccess,
      'x-ms-has-immutability-policy': 'false',
      'x-ms-has-legal-hold': 'false',
      'x-ms-default-encryption-scope': '$account-encryption-key',
      'x-ms-deny-encryption-scope-override': 'false',
    });
  },
};

export const deleteContainer: Operation = {
  name: 'DeleteContainer',
  level: 'container',
  sasPermissions: ['d'],
  serviceSasPermissions: [],
  async handle({ req, service, respond }) {
    await service.containers.delete(req.account, containerName(req), readConditions(req));
    respond.send(202);
  },
};

export const setContainerMetadata: Operation = {
  name: 'SetContainerMetadata',
  level: 'container',
  sasPermissions: ['w'],
  serviceSasPermissions: [],
  async handle({ req, service, respond }) {
    const c = await service.containers.setMetadata(req.account, containerName(req), readMetadata(req), readConditions(req));
    respond.send(200, versionHeaders(c));
  },
};

export const getContainerAcl: Operation = {
  name: 'GetContainerACL',
  level: 'container',
  sasPermissions: [],
  async handle({ req, service, respond }) {
    const c = await service.containers.get(req.account, containerName(req));
    respond.send(200, { ...versionHeaders(c), 'Content-Type': 'application/xml', 'x-ms-blob-public-access': c.publicAccess }, signedIdentifiersXml(c.accessPolicies));
  },
};

export const setContainerAcl: Operation = {
  name: 'SetContainerACL',
  level: 'container',
  sasPermissions: [],
  async handle({ req, body, service, respond }) {
    const policies = parseSignedIdentifiers((await readSmallBody(body, 64 << 10)).toString('utf8'));
    const c = await service.containers.setAccessPolicy(req.account, containerName(req), readPublicAccess(req), policies, readConditions(req));
    respond.send(200, versionHeaders(c));
  },
};

export const listBlobs: Operation = {
  name: 'ListBlobs',
  level: 'container',
  sasPermissions: ['l'],
  anonymous: 'container',
  async handle({ req, service, respond }) {
    const prefix = req.params.get('prefix') ?? '';
    const delimiter = req.params.get('delimiter') ?? '';
    const marker = req.params.get('marker') ?? '';
    const maxResults = parseMaxResults(req.params.get('maxresults'));
    const include = readInclude(req, 'blobs');
    const page = await service.blobs.list(req.account, containerName(req), { prefix, delimiter, marker, limit: maxResults });
    respond.send(
      200,
      { 'Content-Type': 'application/xml' },
      blobListXml(req.accountUrl, containerName(req), { prefix, delimiter, marker, maxResults }, page.items, page.nextMarker, {
        metadata: include.has('metadata'),
        copy: include.has('copy'),
      }),
    );
  },
};
