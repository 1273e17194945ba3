import type { Readable } from 'node:stream';
/** Where a file request is rooted: a task's directory, or the node's root directory. */
export type FileRoot = { kind: 'task'; jobId: string; taskId: string } | { kind: 'node' };

export interface FileEntry {
  /** Relative to the root, with '/' separators. */
  name: string;
  isDirectory: boolean;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  mode: number;
}

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
