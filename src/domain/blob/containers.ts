import { checkReadConditions, checkWriteConditions, type Conditions } from './conditions.js';
import { errors } from './errors.js';
import { newEtag } from './etag.js';
import type { AccessPolicy, Container, Metadata, PublicAccess } from './models.js';
import { validateContainerName, validateMetadata } from './names.js';
import { settle, type BlobContext } from './context.js';

/** Container operations of the Blob service. */
export class Containers {
  constructor(private readonly ctx: BlobContext) {}

  create(account: string, name: string, metadata: Metadata, publicAccess: PublicAccess | undefined): Container {
    validateContainerName(name);
    validateMetadata(metadata);
    const now = this.ctx.now();
    const container: Container = {
      account,
      name,
      etag: newEtag(now),
      created: now,
      lastModified: now,
      metadata,
      publicAccess,
      accessPolicies: [],
    };
    if (!this.ctx.store.createContainer(container)) throw errors.containerAlreadyExists();
    this.ctx.store.durableSync();
    return container;
  }

  get(account: string, name: string, conditions: Conditions = {}): Container {
    const container = this.ctx.store.getContainer(account, name);
    if (!container) throw errors.containerNotFound();
    checkReadConditions(container, conditions);
    return container;
  }

  async delete(account: string, name: string, conditions: Conditions): Promise<void> {
    const container = this.ctx.store.getContainer(account, name);
    if (!container) throw errors.containerNotFound();
    checkWriteConditions(container, conditions);
    const { freed } = this.ctx.store.deleteContainer(account, name);
    await settle(this.ctx, freed);
  }

  setMetadata(account: string, name: string, metadata: Metadata, conditions: Conditions): Container {
    validateMetadata(metadata);
    return this.update(account, name, conditions, { metadata });
  }

  setAccessPolicy(account: string, name: string, publicAccess: PublicAccess | undefined, accessPolicies: AccessPolicy[], conditions: Conditions): Container {
    if (accessPolicies.length > 5) {
      throw errors.invalidXml();
    }
    return this.update(account, name, conditions, { publicAccess: publicAccess ?? null, accessPolicies });
  }

  list(account: string, prefix: string, marker: string, maxResults: number) {
    return this.ctx.store.listContainers(account, prefix, marker, maxResults);
  }

  private update(
    account: string,
    name: string,
    conditions: Conditions,
    changes: { metadata?: Metadata; publicAccess?: PublicAccess | null; accessPolicies?: AccessPolicy[] },
  ): Container {
    const container = this.ctx.store.getContainer(account, name);
    if (!container) throw errors.containerNotFound();
    checkWriteConditions(container, conditions);
    const now = this.ctx.now();
    this.ctx.store.updateContainer(account, name, { ...changes, etag: newEtag(now), lastModified: now });
    this.ctx.store.durableSync();
    return this.ctx.store.getContainer(account, name)!;
  }
}
