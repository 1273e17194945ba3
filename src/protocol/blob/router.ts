import { errors } from '../../domain/blob/errors.js';
import * as blobs from './handlers/blobs.js';
import * as blocks from './handlers/blocks.js';
import * as containers from './handlers/containers.js';
import * as service from './handlers/service.js';
import type { Operation } from './operation.js';
import type { BlobRequest } from './request.js';
import { unsupportedComp } from './unsupported.js';

type Table = Record<string, Operation>;

// Keys are `METHOD comp` at each level; container-level keys also need restype=container.
const SERVICE: Table = {
  'GET list': service.listContainers,
  'GET properties': service.getServiceProperties,
  'HEAD properties': service.getServiceProperties,
};

const CONTAINER: Table = {
  'PUT ': containers.createContainer,
  'GET ': containers.getContainerProperties,
  'HEAD ': containers.getContainerProperties,
  'DELETE ': containers.deleteContainer,
  'PUT metadata': containers.setContainerMetadata,
  'GET metadata': containers.getContainerProperties,
  'HEAD metadata': containers.getContainerProperties,
  'GET acl': containers.getContainerAcl,
  'HEAD acl': containers.getContainerAcl,
  'PUT acl': containers.setContainerAcl,
  'GET list': containers.listBlobs,
};

const BLOB: Table = {
  'PUT ': blobs.putBlob,
  'GET ': blobs.getBlob,
  'HEAD ': blobs.getBlobProperties,
  'DELETE ': blobs.deleteBlob,
  'PUT properties': blobs.setBlobProperties,
  'PUT metadata': blobs.setBlobMetadata,
  'GET metadata': blobs.getBlobMetadata,
  'HEAD metadata': blobs.getBlobMetadata,
  'PUT block': blocks.putBlock,
  'PUT blocklist': blocks.putBlockList,
  'GET blocklist': blocks.getBlockList,
  'HEAD blocklist': blocks.getBlockList,
};

/**
 * Put Blob and its relatives. A PUT naming a copy source is Put Blob From URL with
 * `x-ms-blob-type: BlockBlob`, Copy Blob without it (Azure tells them apart so); comp=block with one is
 * Put Block From URL. Page and append blobs are refused here, before their own headers are.
 */
function blobPut(req: BlobRequest, key: string): Operation | undefined {
  const copySource = req.header('x-ms-copy-source') !== undefined;
  if (key === 'PUT block') return copySource ? blocks.putBlockFromUrl : undefined;
  if (key !== 'PUT ') return undefined;
  const type = req.header('x-ms-blob-type');
  if (type !== undefined && type !== 'BlockBlob') throw errors.unsupportedBlobType(type);
  if (!copySource) return undefined;
  return type === undefined ? blobs.copyBlob : blobs.putBlobFromUrl;
}

/** Picks the operation a request names, from its resource level, method, restype and comp. */
export function route(req: BlobRequest): Operation {
  const restype = req.params.get('restype');
  const comp = req.params.get('comp') ?? '';
  const key = `${req.method} ${comp}`;
  if (restype === 'account' && comp === 'properties') return service.getAccountInfo;
  let op: Operation | undefined;
  let level: 'service' | 'container' | 'blob';
  if (req.container === undefined) {
    level = 'service';
    op = SERVICE[key];
  } else if (req.blob === undefined) {
    if (restype !== 'container') throw errors.invalidQuery('restype', restype ?? '');
    level = 'container';
    op = CONTAINER[key];
  } else {
    level = 'blob';
    op = blobPut(req, key) ?? BLOB[key];
  }
  if (op) return op;
  if (!comp) throw errors.unsupportedOperation();
  throw unsupportedComp(level, comp) ?? errors.invalidQuery('comp', comp);
}
