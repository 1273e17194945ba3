import { BatchError } from './errors.js';

/**
 * The request properties Kiln accepts in Azure's models but does not honour: each is refused
 * (issue 9, "nothing silently ignored") when a request gives it a value other than its default or
 * an empty one, rather than stored and silently not acted on. The schema validator
 * (schema/validate.ts) consults this table for every property of every request model it checks,
 * nested models included, so an auto pool's specification or a job manager task is covered as a
 * pool or task is. Properties of API versions newer than Kiln's models (2022-10-01) are listed
 * too: an empty one is dropped, any other is refused with this message instead of "does not exist".
 *
 * The code is Azure Batch's `UnsupportedProperty` ("One of the properties specified in the HTTP
 * request body is not supported", 400) with the property's path and Kiln's reason.
 */
export interface UnsupportedProperty {
  /** The request model that holds the property (the names of schema/models.generated.ts). */
  model: string;
  property: string;
  /** Besides absent, null, [] and {}: the values that mean "not used" (the property's default). */
  accepts?: readonly unknown[];
  /** What Kiln does not do, for the message. */
  reason: string;
}

const CONTAINERS = 'Kiln does not run tasks in containers yet: its nodes run every task as a process on the host.';
const APP_PACKAGES = 'Kiln does not support application packages (it has no application API).';
const CERTIFICATES = 'Kiln does not support certificates (retired by Azure Batch in 2024; use Key Vault).';
const AUTH_TOKENS = 'Kiln does not issue task authentication tokens.';
const WINDOWS = 'Kiln runs Linux nodes only; it does not support Windows settings.';
const NETWORK = 'Kiln nodes use the host network; virtual networks, endpoints and public IP settings are not supported.';
const IDENTITIES = 'Kiln does not support managed identities; give a SAS URL instead.';
const AUTOSCALE = 'Kiln does not evaluate autoscale formulas; give targetDedicatedNodes/targetLowPriorityNodes and resize the pool instead.';
const VM_SETUP = 'Kiln nodes are processes on the host, not VMs; VM disk, extension, security and placement settings are not supported.';

/** What a pool specification holds, the same for PoolAddParameter and an auto pool's PoolSpecification. */
const poolProperties = (model: string): UnsupportedProperty[] => [
  {
    model,
    property: 'cloudServiceConfiguration',
    reason: 'Azure Batch no longer creates cloudServiceConfiguration pools (retired 29 February 2024) and Kiln does not support them; use virtualMachineConfiguration.',
  },
  { model, property: 'enableAutoScale', accepts: [false], reason: AUTOSCALE },
  { model, property: 'enableInterNodeCommunication', accepts: [false], reason: 'Kiln does not run multi-instance tasks, so inter-node communication is not supported.' },
  { model, property: 'networkConfiguration', reason: NETWORK },
  { model, property: 'certificateReferences', reason: CERTIFICATES },
  { model, property: 'applicationPackageReferences', reason: APP_PACKAGES },
  { model, property: 'applicationLicenses', reason: 'Kiln does not provide licensed rendering applications.' },
  { model, property: 'mountConfiguration', reason: 'Kiln does not mount file systems (blobfuse, Azure Files, NFS, CIFS) on its nodes.' },
  {
    model,
    property: 'targetNodeCommunicationMode',
    accepts: ['default', 'classic'],
    reason: 'Kiln nodes talk to the service in one way only; simplified communication mode is not supported.',
  },
  // Newer API versions (2023-05-01 and later).
  { model, property: 'resourceTags', reason: 'Kiln creates no Azure resources to tag.' },
  { model, property: 'upgradePolicy', reason: 'Kiln does not upgrade node operating systems.' },
];

const taskProperties = (model: string): UnsupportedProperty[] => [{ model, property: 'containerSettings', reason: CONTAINERS }];

export const UNSUPPORTED_PROPERTIES: readonly UnsupportedProperty[] = [
  ...poolProperties('PoolAddParameter'),
  ...poolProperties('PoolSpecification'),
  { model: 'PoolPatchParameter', property: 'certificateReferences', reason: CERTIFICATES },
  { model: 'PoolPatchParameter', property: 'applicationPackageReferences', reason: APP_PACKAGES },
  {
    model: 'PoolPatchParameter',
    property: 'targetNodeCommunicationMode',
    accepts: ['default', 'classic'],
    reason: 'Kiln nodes talk to the service in one way only; simplified communication mode is not supported.',
  },
  { model: 'PoolUpdatePropertiesParameter', property: 'certificateReferences', reason: CERTIFICATES },
  { model: 'PoolUpdatePropertiesParameter', property: 'applicationPackageReferences', reason: APP_PACKAGES },
  {
    model: 'PoolUpdatePropertiesParameter',
    property: 'targetNodeCommunicationMode',
    accepts: ['default', 'classic'],
    reason: 'Kiln nodes talk to the service in one way only; simplified communication mode is not supported.',
  },
  { model: 'TaskSchedulingPolicy', property: 'jobDefaultOrder', accepts: ['none'], reason: 'Kiln orders tasks by job priority only.' },

  { model: 'VirtualMachineConfiguration', property: 'windowsConfiguration', reason: WINDOWS },
  { model: 'VirtualMachineConfiguration', property: 'licenseType', reason: WINDOWS },
  { model: 'VirtualMachineConfiguration', property: 'containerConfiguration', reason: CONTAINERS },
  { model: 'VirtualMachineConfiguration', property: 'dataDisks', reason: VM_SETUP },
  { model: 'VirtualMachineConfiguration', property: 'diskEncryptionConfiguration', reason: VM_SETUP },
  { model: 'VirtualMachineConfiguration', property: 'nodePlacementConfiguration', reason: VM_SETUP },
  { model: 'VirtualMachineConfiguration', property: 'extensions', reason: VM_SETUP },
  { model: 'VirtualMachineConfiguration', property: 'osDisk', reason: VM_SETUP },
  { model: 'VirtualMachineConfiguration', property: 'securityProfile', reason: VM_SETUP },
  { model: 'VirtualMachineConfiguration', property: 'serviceArtifactReference', reason: VM_SETUP },
  {
    model: 'ImageReference',
    property: 'virtualMachineImageId',
    reason: "Kiln runs tasks on the host's Linux; custom images are not supported (name a Marketplace image from GET /supportedimages).",
  },
  {
    model: 'ImageReference',
    property: 'sharedGalleryImageId',
    reason: "Kiln runs tasks on the host's Linux; gallery images are not supported (name a Marketplace image from GET /supportedimages).",
  },
  {
    model: 'ImageReference',
    property: 'communityGalleryImageId',
    reason: "Kiln runs tasks on the host's Linux; gallery images are not supported (name a Marketplace image from GET /supportedimages).",
  },
  { model: 'UserAccount', property: 'windowsUserConfiguration', reason: WINDOWS },
  { model: 'LinuxUserConfiguration', property: 'sshPrivateKey', reason: 'Kiln nodes have no SSH; sshPrivateKey is not supported.' },

  { model: 'JobAddParameter', property: 'networkConfiguration', reason: NETWORK },
  { model: 'JobSpecification', property: 'networkConfiguration', reason: NETWORK },
  { model: 'JobAddParameter', property: 'allowTaskPreemption', accepts: [false], reason: 'Kiln does not preempt tasks for higher-priority jobs.' },
  { model: 'JobSpecification', property: 'allowTaskPreemption', accepts: [false], reason: 'Kiln does not preempt tasks for higher-priority jobs.' },
  { model: 'JobPatchParameter', property: 'allowTaskPreemption', accepts: [false], reason: 'Kiln does not preempt tasks for higher-priority jobs.' },
  { model: 'JobUpdateParameter', property: 'allowTaskPreemption', accepts: [false], reason: 'Kiln does not preempt tasks for higher-priority jobs.' },

  ...taskProperties('StartTask'),
  ...taskProperties('JobManagerTask'),
  ...taskProperties('JobPreparationTask'),
  ...taskProperties('JobReleaseTask'),
  ...taskProperties('TaskAddParameter'),
  { model: 'JobManagerTask', property: 'applicationPackageReferences', reason: APP_PACKAGES },
  { model: 'JobManagerTask', property: 'authenticationTokenSettings', reason: AUTH_TOKENS },
  { model: 'TaskAddParameter', property: 'applicationPackageReferences', reason: APP_PACKAGES },
  { model: 'TaskAddParameter', property: 'authenticationTokenSettings', reason: AUTH_TOKENS },
  { model: 'TaskAddParameter', property: 'multiInstanceSettings', reason: 'Kiln does not run multi-instance (MPI) tasks yet.' },
  { model: 'ResourceFile', property: 'identityReference', reason: IDENTITIES },
  { model: 'OutputFileBlobContainerDestination', property: 'identityReference', reason: IDENTITIES },
];

const BY_MODEL = new Map<string, Map<string, UnsupportedProperty>>();
for (const entry of UNSUPPORTED_PROPERTIES) {
  const props = BY_MODEL.get(entry.model) ?? new Map<string, UnsupportedProperty>();
  props.set(entry.property, entry);
  BY_MODEL.set(entry.model, props);
}

/** The table's entry for a property of a model, if Kiln does not honour it. */
export const unsupportedProperty = (model: string, property: string): UnsupportedProperty | undefined => BY_MODEL.get(model)?.get(property);

/** null, [] and {}: a property given as empty asks for nothing. */
const isEmpty = (value: unknown): boolean => value === null || (Array.isArray(value) ? value.length === 0 : typeof value === 'object' && Object.keys(value).length === 0);

/** Whether a value of an unsupported property asks for nothing Kiln would have to do. */
export function asksNothing(entry: UnsupportedProperty, value: unknown): boolean {
  if (isEmpty(value)) return true;
  const wanted = typeof value === 'string' ? value.toLowerCase() : value;
  return (entry.accepts ?? []).some((v) => (typeof v === 'string' ? v.toLowerCase() : v) === wanted);
}

/** 400 UnsupportedProperty, naming the property (its path in the body) and why Kiln refuses it. */
export const unsupportedPropertyError = (path: string, reason: string): BatchError =>
  new BatchError(400, 'UnsupportedProperty', `Kiln does not support the property '${path}'. ${reason}`, [
    ['PropertyName', path],
    ['Reason', reason],
  ]);

/**
 * An operation of the Batch API that Kiln does not implement: 400 with Batch's own code
 * `NotImplemented` ("The operation is not implemented"). Azure would send it with 501; Kiln sends
 * 400 because a 5xx reads as a server fault, and the SDKs retry some of them.
 */
export const operationNotSupported = (operation: string, reason?: string): BatchError =>
  new BatchError(400, 'NotImplemented', `Kiln does not support the operation '${operation}'.${reason ? ` ${reason}` : ''}`, [
    ['Operation', operation],
    ...(reason ? ([['Reason', reason]] as [string, string][]) : []),
  ]);

/** 400 InvalidPropertyValue for a value Kiln does not support (Azure's code for a value it does not offer), saying why in the message too. */
export const unsupportedValueError = (path: string, value: string, reason: string): BatchError =>
  new BatchError(400, 'InvalidPropertyValue', `The value provided for one of the properties in the request body is invalid. ${reason}`, [
    ['PropertyName', path],
    ['PropertyValue', value],
    ['Reason', reason],
  ]);
