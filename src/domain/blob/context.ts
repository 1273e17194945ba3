import type { ExtentStore } from '../../persistence/blob/extentStore.js';
import type { BlobMetadataStore } from './store.js';

/** What every part of the Blob domain works with: the metadata store, the byte store and a clock. */
export interface BlobContext {
  store: BlobMetadataStore;
  extents: ExtentStore;
  now: () => number;
}
