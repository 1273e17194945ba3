import type { Readable } from 'node:stream';
import type { FileEntry, FileRoot } from '../../protocol/agent/messages.js';

export type { FileEntry, FileRoot };

/** What the file APIs need from the nodes: listing, reading and deleting files on one node. */
export interface NodeFileAccess {
  list(account: string, poolId: string, nodeId: string, root: FileRoot, path: string, recursive: boolean): Promise<FileEntry[]>;
  stat(account: string, poolId: string, nodeId: string, root: FileRoot, path: string): Promise<FileEntry>;
  read(
    account: string,
    poolId: string,
    nodeId: string,
    root: FileRoot,
    path: string,
    range?: { start: number; end?: number },
  ): Promise<{ stat: FileEntry; range?: { start: number; end: number }; body: Readable; done(): void }>;
  remove(account: string, poolId: string, nodeId: string, root: FileRoot, path: string, recursive: boolean): Promise<void>;
}
