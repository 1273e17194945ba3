import { createHash } from 'node:crypto';
import { errors } from '../../../domain/blob/errors.js';
import type { BlockListType } from '../../../domain/blob/models.js';
import { checkUploadLength, maxBlockBytes, readSmallBody, requireEmptyBody } from '../body.js';
import { mayOnlyCreate, type Operation } from '../operation.js';
import { readConditions, readContentProperties, readMetadata, readSourceConditions, readSourceRange } from '../request.js';
import { httpDate } from '../respond.js';
import { blockListXml, parseBlockList } from '../xml.js';

export const putBlock: Operation = {
  name: 'PutBlock',
  level: 'blob',
  sasPermissions: ['w', 'c'],
  async handle({ req, body, service, respond, version }) {
    const blockId = req.params.get('blockid');
    if (blockId === undefined) throw errors.invalidQuery('blockid', '');
    const max = maxBlockBytes(version);
    checkUploadLength(req, max);
    const transferMd5 = req.header('content-md5');
    await service.blocks.stage(req.account, req.container!, req.blob!, blockId, body, { transferMd5, maxLength: max });
    respond.send(201, { 'Content-MD5': transferMd5, 'x-ms-request-server-encrypted': 'true' });
  },
};

/** Put Block From URL: stages the source's bytes (or x-ms-source-range of them) as a block, 201 as Azure. */
export const putBlockFromUrl: Operation = {
  name: 'PutBlockFromURL',
  level: 'blob',
  sasPermissions: ['w', 'c'],
  async handle(ctx) {
    const { req, service, respond, version } = ctx;
    const blockId = req.params.get('blockid');
    if (blockId === undefined) throw errors.invalidQuery('blockid', '');
    requireEmptyBody(req);
    const rangeHeader = readSourceRange(req);
    const source = await ctx.resolveCopySource(req.header('x-ms-copy-source')!, 'fromUrl');
    const { md5 } = await service.blocks.stageFrom(source, req.account, req.container!, req.blob!, blockId, {
      rangeHeader,
      sourceConditions: readSourceConditions(req),
      sourceMd5: req.header('x-ms-source-content-md5'),
      maxLength: maxBlockBytes(version),
    });
    respond.send(201, { 'Content-MD5': md5, 'x-ms-request-server-encrypted': 'true' });
  },
};

export const putBlockList: Operation = {
  name: 'PutBlockList',
  level: 'blob',
  sasPermissions: ['w', 'c'],
  async handle({ req, body, service, respond, principal }) {
    const xml = await readSmallBody(body);
    const blob = await service.blocks.commit(req.account, req.container!, req.blob!, parseBlockList(xml.toString('utf8')), {
      properties: readContentProperties(req, false),
      metadata: readMetadata(req),
      conditions: readConditions(req),
      createOnly: mayOnlyCreate(principal),
    });
    respond.send(201, {
      ETag: blob.etag,
      'Last-Modified': httpDate(blob.lastModified),
      'Content-MD5': createHash('md5').update(xml).digest('base64'),
      'x-ms-request-server-encrypted': 'true',
    });
  },
};

export const getBlockList: Operation = {
  name: 'GetBlockList',
  level: 'blob',
  sasPermissions: ['r'],
  anonymous: 'blob',
  async handle({ req, service, respond }) {
    const type = (req.params.get('blocklisttype') ?? 'committed').toLowerCase();
    if (type !== 'committed' && type !== 'uncommitted' && type !== 'all') throw errors.invalidQuery('blocklisttype', type);
    const list = await service.blocks.list(req.account, req.container!, req.blob!, type as BlockListType);
    respond.send(
      200,
      {
        'Content-Type': 'application/xml',
        ...(list.blob ? { ETag: list.blob.etag, 'Last-Modified': httpDate(list.blob.lastModified), 'x-ms-blob-content-length': list.blob.size } : {}),
      },
      blockListXml(type === 'uncommitted' ? undefined : list.committed, type === 'committed' ? undefined : list.uncommitted),
    );
  },
};
