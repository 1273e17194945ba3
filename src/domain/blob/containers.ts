import { checkReadConditions, checkWriteConditions, expectation, type Conditions } from './conditions.js';
import { errors } from './errors.js';
import { newEtag } from './etag.js';
import type { AccessPolicy, Container, Metadata, PublicAccess } from './models.js';
import { validateContainerName, validateMetadata } from './names.js';
import { settle, type BlobContext } from './context.js';
import { optimistic } from './optimistic.js';

/** Container operations of the Blob service. */
export class Containers {
  constructor(private readonly ctx: BlobContext) {}

  async create(account: string, name: string, metadata: Metadata, publicAccess: PublicAccess | undefined): Promise<Container> {
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
    if (!(await this.ctx.store.createContainer(container))) throw errors.containerAlreadyExists();
    await this.ctx.store.durable();
    return container;
  }

  async get(account: string, name: string, conditions: Conditions = {}): Promise<Container> {
    const container = await this.ctx.store.getContainer(account, name);
    if (!container) throw errors.containerNotFound();
    checkReadConditions(container, conditions);
    return container;
  }

  async delete(account: string, name: string, conditions: Conditions): Promise<void> {
    const freed = await optimistic(async () => {
      const container = await this.ctx.store.getContainer(account, name);
      if (!container) throw errors.containerNotFound();
      checkWriteConditions(container, conditions);
      const { deleted, freed } = await this.ctx.store.deleteContainer(account, name, expectation(container, conditions));
      // Deleted meanwhile by another request, with nothing freed: as if that one had come first.
      if (!deleted) throw errors.containerNotFound();
      return freed;
    });
    await settle(this.ctx, freed);
  }

  async setMetadata(account: string, name: string, metadata: Metadata, conditions: Conditions): Promise<Container> {
    validateMetadata(metadata);
    return this.update(account, name, conditions, { metadata });
  }

  async setAccessPolicy(account: string, name: string, publicAccess: PublicAccess | undefined, accessPolicies: AccessPolicy[], conditions: Conditions): Promise<Container> {
    if (accessPolicies.length > 5) {
      throw errors.invalidXml();
    }
    return this.update(account, name, conditions, { publicAccess: publicAccess ?? null, accessPolicies });
  }

  list(account: string, prefix: string, marker: string, maxResults: number) {
    return this.ctx.store.listContainers(account, prefix, marker, maxResults);
  }

  private async update(
    account: string,
    name: string,
    conditions: Conditions,
    changes: { metadata?: Metadata; publicAccess?: PublicAccess | null; accessPolicies?: AccessPolicy[] },
  ): Promise<Container> {
    const updated = await optimistic(async () => {
      const container = await this.ctx.store.getContainer(account, name);
      if (!container) throw errors.containerNotFound();
      checkWriteConditions(container, conditions);
      const now = this.ctx.now();
      return this.ctx.store.updateContainer(account, name, { ...changes, etag: newEtag(now), lastModified: now }, expectation(container, conditions));
    });
    await this.ctx.store.durable();
    return updated;
  }
}
