/**
 * The plan: every input, validated and resolved into plain data. Dry run prints it; the steps carry
 * it out. Nothing here talks to Azure, so the whole shape can be unit-tested.
 */

export type AuthType = 'auto' | 'oidc' | 'client-secret' | 'azure-cli' | 'managed-identity'
export type CloudName = 'AzureCloud' | 'AzureUSGovernment' | 'AzureChinaCloud' | 'AzureStack'
export type OsType = 'Linux' | 'Windows'
export type OsState = 'Generalized' | 'Specialized'
export type HyperVGeneration = 'V1' | 'V2'
export type Architecture = 'x64' | 'Arm64'
export type SecurityType = 'Standard' | 'TrustedLaunchSupported' | 'TrustedLaunch'
export type GalleryStorageAccountType = 'Standard_LRS' | 'Standard_ZRS' | 'Premium_LRS'
export type UploadDiskSku =
  'Standard_LRS' | 'StandardSSD_LRS' | 'Premium_LRS' | 'StandardSSD_ZRS' | 'Premium_ZRS'

/** An Azure resource named by subscription, group and name (IDs are built from it, never parsed twice). */
export interface ResourceRef {
  subscriptionId: string
  resourceGroup: string
  name: string
}

export interface ConnectionPlan {
  authType: AuthType
  clientId?: string
  tenantId?: string
  /** Kept out of every printed form of the plan (see describePlan). */
  clientSecret?: string
  environment: CloudName
  resourceManagerEndpoint?: string
  /** OIDC audience; undefined means the environment's default. */
  audience?: string
}

export interface CaptureSource {
  mode: 'capture'
  vm: ResourceRef
  generalize: boolean
  deprovision: boolean
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
  replicationMode: 'Full' | 'Shallow'
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
  source: CaptureSource | UploadSource
  managedImage?: ManagedImageTarget
  gallery?: GalleryTarget
  /** User tags plus provenance tags: applied to everything created. */
  tags: Record<string, string>
  run: RunIdentity
  owner: Owner
  timeoutMinutes: number
  dryRun: boolean
}

export function resourceId(ref: ResourceRef, provider: string, type: string): string {
  return `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/${provider}/${type}/${ref.name}`
}

/** Azure compares resource IDs case-insensitively (ARM paths and names are case-insensitive). */
export function sameResourceId(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase()
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
