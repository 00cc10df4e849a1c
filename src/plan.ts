/**
 * The plan: every input, validated and resolved into plain data. Dry run prints it; the steps carry
 * it out. Nothing here talks to Azure, so the whole shape can be unit-tested.
 */
import type { ResourceRef } from './azure/resource-id.js'

/** IDs are built from a ResourceRef, and read back, only in azure/resource-id.ts. */
export type { ResourceRef }

// Each list of allowed values is declared once: the inputs accept exactly these (ignoring case), and
// the types derive from them.
export const MODES = ['capture', 'upload', 'build'] as const
export type Mode = (typeof MODES)[number]
export const AUTH_TYPES = [
  'auto',
  'oidc',
  'client-secret',
  'azure-cli',
  'managed-identity'
] as const
export type AuthType = (typeof AUTH_TYPES)[number]
export const CLOUD_NAMES = [
  'AzureCloud',
  'AzureUSGovernment',
  'AzureChinaCloud',
  'AzureStack'
] as const
export type CloudName = (typeof CLOUD_NAMES)[number]
export const OS_TYPES = ['Linux', 'Windows'] as const
export type OsType = (typeof OS_TYPES)[number]
export const OS_STATES = ['Generalized', 'Specialized'] as const
export type OsState = (typeof OS_STATES)[number]
export const HYPER_V_GENERATIONS = ['V1', 'V2'] as const
export type HyperVGeneration = (typeof HYPER_V_GENERATIONS)[number]
export const ARCHITECTURES = ['x64', 'Arm64'] as const
export type Architecture = (typeof ARCHITECTURES)[number]
export const SECURITY_TYPES = ['Standard', 'TrustedLaunchSupported', 'TrustedLaunch'] as const
export type SecurityType = (typeof SECURITY_TYPES)[number]
export const GALLERY_STORAGE_ACCOUNT_TYPES = [
  'Standard_LRS',
  'Standard_ZRS',
  'Premium_LRS'
] as const
export type GalleryStorageAccountType = (typeof GALLERY_STORAGE_ACCOUNT_TYPES)[number]
export const UPLOAD_DISK_SKUS = [
  'Standard_LRS',
  'StandardSSD_LRS',
  'Premium_LRS',
  'StandardSSD_ZRS',
  'Premium_ZRS'
] as const
export type UploadDiskSku = (typeof UPLOAD_DISK_SKUS)[number]
export const UPLOAD_VIAS = ['managed-disk', 'storage-account'] as const
export type UploadVia = (typeof UPLOAD_VIAS)[number]
export const REPLICATION_MODES = ['Full', 'Shallow'] as const
export type ReplicationMode = (typeof REPLICATION_MODES)[number]
export const KEEP_BUILD_VM = ['false', 'on-failure', 'true'] as const
export type KeepBuildVm = (typeof KEEP_BUILD_VM)[number]

/**
 * How to sign in, by `auth-type`: 'oidc' and 'client-secret' cannot be planned without the ids (and
 * the secret) they need; the others use them when given.
 */
export type SignInPlan =
  | { authType: 'oidc'; clientId: string; tenantId: string; clientSecret?: string }
  | { authType: 'client-secret'; clientId: string; tenantId: string; clientSecret: string }
  | {
      authType: Exclude<AuthType, 'oidc' | 'client-secret'>
      clientId?: string
      tenantId?: string
      clientSecret?: string
    }

/** Which cloud, by `environment`: Azure Stack Hub has no known endpoints, so it needs its own. */
export type CloudPlan =
  | { environment: 'AzureStack'; resourceManagerEndpoint: string }
  | { environment: Exclude<CloudName, 'AzureStack'>; resourceManagerEndpoint?: undefined }

/** The connection settings. `clientSecret` is kept out of every printed form (see describePlan). */
export type ConnectionPlan = SignInPlan &
  CloudPlan & {
    /** OIDC audience; undefined means the environment's default. */
    audience?: string
  }

export type DeprovisionSetting = 'auto' | boolean

export interface CaptureSource {
  mode: 'capture'
  vm: ResourceRef
  generalize: boolean
  /**
   * `auto` is decided against the VM's power state in the preflight (see decideDeprovision):
   * run it when the VM runs, else assume the guest was generalized already.
   */
  deprovision: DeprovisionSetting
  backupSnapshot: boolean
  deleteSourceVm: boolean
}

export type UploadDestination =
  | { kind: 'managed-disk'; diskSku: UploadDiskSku }
  | { kind: 'storage-account'; account: ResourceRef; container: string }

export interface UploadSource {
  mode: 'upload'
  osDiskPath: string
  /** Data disk image paths; index = LUN. */
  dataDiskPaths: string[]
  osType: OsType
  osState: OsState
  hyperVGeneration: HyperVGeneration
  architecture: Architecture
  securityType: SecurityType
  destination: UploadDestination
  concurrency: number
  keepUpload: boolean
}

/**
 * The image a build starts from, by the form `base-image` takes: a Marketplace URN
 * (`publisher:offer:sku:version`, version `latest` resolved in the preflight), or the ID of a managed
 * image, a gallery image definition (its latest version) or a gallery image version.
 */
export type BaseImage =
  | { kind: 'marketplace'; publisher: string; offer: string; sku: string; version: string }
  | { kind: 'managed-image'; image: ResourceRef }
  | { kind: 'gallery-definition'; gallery: ResourceRef; definition: string }
  | { kind: 'gallery-version'; gallery: ResourceRef; definition: string; version: string }

/** An existing subnet (`subnet-id`): the virtual network and the subnet's name in it. */
export interface SubnetRef {
  vnet: ResourceRef
  subnet: string
}

/**
 * Names of the build's temporary resources, derived from the owner key (the same in every attempt
 * of this job with these inputs): a re-run attempt finds what its earlier attempt left, and
 * cleanup acts on nothing else.
 */
export interface BuildNames {
  vm: string
  /** The guest's host name: 15 characters at most (Windows' NetBIOS limit). */
  computerName: string
  osDisk: string
  nic: string
  nsg: string
  /** Only made when no `subnet-id` is given. */
  vnet: string
  subnet: string
}

export interface BuildSource {
  mode: 'build'
  baseImage: BaseImage
  vmSize: string
  /** `customize-scripts`: workspace paths, run in this order, before `customize`. */
  customizeScripts: string[]
  /** `customize`: an inline script, run last. */
  customize?: string
  /** Undefined: a temporary virtual network and subnet are made for the run. */
  subnet?: SubnetRef
  /** Undefined: the base image's size. */
  osDiskSizeGb?: number
  keepBuildVm: KeepBuildVm
  /** `security-type` when given; else decided in the preflight from the image and the targets. */
  securityType?: SecurityType
  names: BuildNames
}

/** What the image is made from, by `mode`. */
export type Source = CaptureSource | UploadSource | BuildSource

export interface ManagedImageTarget {
  image: ResourceRef
  overwrite: boolean
}

export interface TargetRegion {
  /** Normalised as Azure does: lower case, no spaces ('East US' → 'eastus'). */
  name: string
  replicas?: number
  storageAccountType?: GalleryStorageAccountType
}

export type GalleryVersionSpec =
  { kind: 'auto'; value: string } | { kind: 'explicit'; value: string }

export interface GalleryTarget {
  gallery: ResourceRef
  imageDefinition: string
  version: GalleryVersionSpec
  overwrite: boolean
  createIfMissing: boolean
  publisher: string
  offer: string
  sku: string
  /** As given; the source region is added when the plan is resolved against Azure. */
  targetRegions: TargetRegion[]
  replicaCount: number
  storageAccountType: GalleryStorageAccountType
  replicationMode: ReplicationMode
  excludeFromLatest: boolean
  endOfLifeDate?: string
  keepVersions: number
}

export interface RunIdentity {
  repository: string
  sha: string
  ref: string
  workflow: string
  runId: string
  runAttempt: number
  runNumber: number
  /** GITHUB_JOB: the job's id in the workflow, shared by the legs of a matrix. */
  job?: string
}

/** Who the run is, for deciding what it may reuse and clean up (see tags.ts `madeBy`). */
export interface Owner {
  runId: string
  /** ownerKey(): the same in every attempt of this job with these inputs, different otherwise. */
  key: string
  attempt: number
}

export interface Plan {
  connection: ConnectionPlan
  subscriptionId: string
  resourceGroup: string
  /** Explicit `location` input, normalised; otherwise resolved from the source. */
  location?: string
  source: Source
  managedImage?: ManagedImageTarget
  gallery?: GalleryTarget
  /** User tags plus provenance tags: applied to everything created. */
  tags: Record<string, string>
  run: RunIdentity
  owner: Owner
  timeoutMinutes: number
  dryRun: boolean
}

/** The plan as printable data: secrets replaced, so dry run and debug logs can show it whole. */
export function describePlan(plan: Plan): unknown {
  return {
    ...plan,
    connection: {
      ...plan.connection,
      clientSecret: plan.connection.clientSecret === undefined ? undefined : '***'
    }
  }
}
