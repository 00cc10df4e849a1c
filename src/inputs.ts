/**
 * Every input is read and validated here, once, into a Plan: the readers in input-readers.ts, the
 * Azure naming rules in azure/names.ts, the rules across inputs in plan-rules.ts. Each problem is an
 * InputError that names the input and says what is expected, raised before anything talks to Azure.
 */
import { Inputs } from './constants.js'
import {
  COMPUTE_NAME,
  CONTAINER_NAME,
  GALLERY_NAME,
  IMAGE_IDENTIFIER_PART,
  isGuid,
  isTenantDomain,
  RESOURCE_GROUP_NAME,
  STORAGE_ACCOUNT_NAME,
  VM_NAME
} from './azure/names.js'
import { isRegionName, normaliseRegion } from './azure/region.js'
import {
  bool,
  guid,
  InputError,
  integer,
  named,
  oneOf,
  parsed,
  resourceRef,
  subscriptionOf,
  text,
  type InputReader
} from './input-readers.js'
import { brokenRule } from './plan-rules.js'
import { autoVersion, isValidVersion } from './targets/version-number.js'
import { parseTargetRegions } from './targets/target-regions.js'
import { buildTags, ownerKey, parseTags } from './tags.js'
import {
  ARCHITECTURES,
  AUTH_TYPES,
  CLOUD_NAMES,
  GALLERY_STORAGE_ACCOUNT_TYPES,
  HYPER_V_GENERATIONS,
  MODES,
  OS_STATES,
  OS_TYPES,
  REPLICATION_MODES,
  SECURITY_TYPES,
  UPLOAD_DISK_SKUS,
  UPLOAD_VIAS,
  type AuthType,
  type CaptureSource,
  type CloudName,
  type CloudPlan,
  type ConnectionPlan,
  type DeprovisionSetting,
  type SignInPlan,
  type GalleryTarget,
  type ManagedImageTarget,
  type Owner,
  type Plan,
  type RunIdentity,
  type Source,
  type UploadDestination,
  type UploadSource
} from './plan.js'
import { buildSubscription, readBuild } from './inputs-build.js'

export { InputError, type InputReader }

export interface PlanContext {
  run: RunIdentity
  now: Date
  /** Where unset sign-in inputs come from, as users of azure/login expect (none in unit tests). */
  defaults?: InputDefaults
}

/** azure/login's environment variable names, by the input each stands in for. */
export const ENVIRONMENT_DEFAULTS = {
  [Inputs.ClientId]: 'AZURE_CLIENT_ID',
  [Inputs.TenantId]: 'AZURE_TENANT_ID',
  [Inputs.ClientSecret]: 'AZURE_CLIENT_SECRET',
  [Inputs.SubscriptionId]: 'AZURE_SUBSCRIPTION_ID'
} as const

export interface InputDefaults {
  env: Readonly<Record<string, string | undefined>>
  /** The Azure CLI session's subscription (after azure/login); asked only when nothing else names one. */
  cliSubscription?: () => string | undefined
}

/** The input, else its AZURE_* environment variable; `from` says which, for error messages. */
function withEnvironmentDefault(
  read: InputReader,
  name: keyof typeof ENVIRONMENT_DEFAULTS,
  defaults: InputDefaults | undefined
): { value?: string; from: string } {
  const given = text(read, name)
  if (given !== undefined) return { value: given, from: '' }
  const variable = ENVIRONMENT_DEFAULTS[name]
  const value = defaults?.env[variable]?.trim()
  return value ? { value, from: ` (from ${variable})` } : { from: '' }
}

/** A GUID input, else its AZURE_* default; a bad default names the variable it came from. */
function guidWithDefault(
  read: InputReader,
  name: typeof Inputs.ClientId | typeof Inputs.SubscriptionId,
  defaults: InputDefaults | undefined
): string | undefined {
  const { value, from } = withEnvironmentDefault(read, name, defaults)
  if (value !== undefined && !isGuid(value)) {
    throw new InputError(name, `expected a GUID, got '${value}'${from}.`)
  }
  return value
}

/**
 * azure/login's `auth-type` values, accepted as there (case-insensitively). SERVICE_PRINCIPAL signs
 * in as the app registration: with its client secret when one is given, else with OIDC (azure/login
 * does the same); IDENTITY signs in as the runner's managed identity.
 */
function authTypeAlias(value: string | undefined, hasSecret: boolean): AuthType | undefined {
  switch (value?.toUpperCase()) {
    case 'SERVICE_PRINCIPAL':
      return hasSecret ? 'client-secret' : 'oidc'
    case 'IDENTITY':
      return 'managed-identity'
    default:
      return undefined
  }
}

/** Where names that are not full resource IDs live, as far as the inputs say. */
interface Scope {
  subscriptionId: string | undefined
  resourceGroup: string | undefined
}

function readConnection(read: InputReader, defaults: InputDefaults | undefined): ConnectionPlan {
  const hasSecret = withEnvironmentDefault(read, Inputs.ClientSecret, defaults).value !== undefined
  const authType =
    authTypeAlias(text(read, Inputs.AuthType), hasSecret) ??
    oneOf(read, Inputs.AuthType, AUTH_TYPES, 'auto')
  const environment = oneOf(read, Inputs.Environment, CLOUD_NAMES, 'AzureCloud')
  return {
    ...readSignIn(read, authType, defaults),
    ...readCloud(read, environment),
    audience: text(read, Inputs.Audience)
  }
}

function readSignIn(
  read: InputReader,
  authType: AuthType,
  defaults: InputDefaults | undefined
): SignInPlan {
  const clientId = guidWithDefault(read, Inputs.ClientId, defaults)
  const tenant = withEnvironmentDefault(read, Inputs.TenantId, defaults)
  const tenantId = tenant.value
  const clientSecret = withEnvironmentDefault(read, Inputs.ClientSecret, defaults).value
  if (tenantId !== undefined && !isGuid(tenantId) && !isTenantDomain(tenantId)) {
    throw new InputError(
      Inputs.TenantId,
      `expected a GUID or a domain name, got '${tenantId}'${tenant.from}.`
    )
  }
  if (authType !== 'oidc' && authType !== 'client-secret') {
    return { authType, clientId, tenantId, clientSecret }
  }
  if (clientId === undefined)
    throw new InputError(Inputs.ClientId, `is required with auth-type '${authType}'.`)
  if (tenantId === undefined)
    throw new InputError(Inputs.TenantId, `is required with auth-type '${authType}'.`)
  if (authType === 'oidc') return { authType, clientId, tenantId, clientSecret }
  if (clientSecret === undefined) {
    throw new InputError(Inputs.ClientSecret, `is required with auth-type 'client-secret'.`)
  }
  return { authType, clientId, tenantId, clientSecret }
}

function readCloud(read: InputReader, environment: CloudName): CloudPlan {
  const endpoint = text(read, Inputs.ResourceManagerEndpoint)
  if (endpoint === undefined) {
    if (environment !== 'AzureStack') return { environment }
    throw new InputError(
      Inputs.ResourceManagerEndpoint,
      `is required with environment 'AzureStack' (the cloud's ARM endpoint, e.g. https://management.local.azurestack.external).`
    )
  }
  if (!isHttpsUrl(endpoint)) {
    throw new InputError(
      Inputs.ResourceManagerEndpoint,
      `expected an https URL, got '${endpoint}'.`
    )
  }
  if (environment !== 'AzureStack') {
    throw new InputError(
      Inputs.ResourceManagerEndpoint,
      `is only used with environment 'AzureStack' (environment is '${environment}').`
    )
  }
  return { environment, resourceManagerEndpoint: endpoint.replace(/\/+$/, '') }
}

function isHttpsUrl(value: string): boolean {
  try {
    return new URL(value).protocol === 'https:'
  } catch {
    return false
  }
}

function readScope(read: InputReader, defaults: InputDefaults | undefined): Scope {
  const group = text(read, Inputs.ResourceGroup)
  const resourceGroup =
    group === undefined ? undefined : named(Inputs.ResourceGroup, group, RESOURCE_GROUP_NAME)
  // A full resource ID names its subscription; the contract lets that stand in for subscription-id.
  // Then azure/login's conventions: AZURE_SUBSCRIPTION_ID, else the CLI session's subscription.
  const subscriptionId =
    guid(read, Inputs.SubscriptionId) ??
    subscriptionOf(text(read, Inputs.SourceVm)) ??
    subscriptionOf(text(read, Inputs.StorageAccount)) ??
    buildSubscription(read) ??
    guidWithDefault(read, Inputs.SubscriptionId, defaults) ??
    defaults?.cliSubscription?.()
  return { subscriptionId, resourceGroup }
}

/** The inputs that name a source, by the mode each implies. */
const SOURCE_INPUTS = [
  [Inputs.SourceVm, 'capture'],
  [Inputs.Vhd, 'upload'],
  [Inputs.BaseImage, 'build']
] as const

/** `mode`, or the mode `source-vm` / `vhd` / `base-image` imply, then that mode's inputs. */
function readSource(read: InputReader, scope: Scope, owner: Owner): Source {
  const modeInput = oneOf(read, Inputs.Mode, MODES, 'capture')
  const modeGiven = text(read, Inputs.Mode) !== undefined
  const given = SOURCE_INPUTS.filter(([name]) => text(read, name) !== undefined)
  if (!modeGiven && given.length > 1) {
    const [[first], ...others] = given
    throw new InputError(
      first,
      `and ${others.map(([n]) => `'${n}'`).join(' and ')} are both set: set one ('source-vm' to capture a VM, 'vhd' to upload a disk image, 'base-image' to build from an image).`
    )
  }
  if (!modeGiven && given.length === 0) {
    throw new InputError(
      Inputs.SourceVm,
      `or 'vhd' or 'base-image' is required: 'source-vm' to capture a VM, 'vhd' to upload a disk image, 'base-image' to build from an image.`
    )
  }
  const mode = modeGiven ? modeInput : given[0][1]
  const [own] = SOURCE_INPUTS.filter(([, m]) => m === mode).map(([name]) => name)
  const value = text(read, own)
  if (value === undefined) throw new InputError(own, `is required in ${mode} mode.`)
  for (const [name, other] of SOURCE_INPUTS) {
    if (other !== mode && text(read, name) !== undefined)
      throw new InputError(name, `is only used in ${other} mode (mode is '${mode}').`)
  }
  switch (mode) {
    case 'capture':
      return readCapture(read, scope, value)
    case 'upload':
      return readUpload(read, scope, value)
    case 'build':
      return readBuild(read, scope, value, owner)
  }
}

function readCapture(read: InputReader, scope: Scope, sourceVm: string): CaptureSource {
  const vm = resourceRef(
    Inputs.SourceVm,
    sourceVm,
    'Microsoft.Compute/virtualMachines',
    scope.subscriptionId,
    scope.resourceGroup
  )
  named(Inputs.SourceVm, vm.name, VM_NAME)
  // A full ID names its subscription; every client works in subscription-id's, so a VM of the same
  // group and name there would be the one captured (issue 14). Refused rather than retargeted.
  const { subscriptionId } = scope
  if (
    subscriptionId !== undefined &&
    vm.subscriptionId.toLowerCase() !== subscriptionId.toLowerCase()
  ) {
    throw new InputError(
      Inputs.SourceVm,
      `is in subscription ${vm.subscriptionId}, but 'subscription-id' is ${subscriptionId}: the action works in one subscription. Set 'subscription-id' to ${vm.subscriptionId} (or leave it out), or name a VM in ${subscriptionId}.`
    )
  }
  return {
    mode: 'capture',
    vm,
    generalize: bool(read, Inputs.Generalize, true),
    deprovision: deprovisionSetting(read),
    backupSnapshot: bool(read, Inputs.BackupSnapshot, false),
    deleteSourceVm: bool(read, Inputs.DeleteSourceVm, false)
  }
}

/** `auto` (the default) is decided against the VM's power state in the preflight. */
function deprovisionSetting(read: InputReader): DeprovisionSetting {
  const value = oneOf(read, Inputs.Deprovision, ['auto', 'true', 'false'] as const, 'auto')
  return value === 'auto' ? 'auto' : value === 'true'
}

function readUpload(read: InputReader, scope: Scope, vhd: string): UploadSource {
  if (text(read, Inputs.OsType) === undefined) {
    throw new InputError(Inputs.OsType, `is required in upload mode: 'Linux' or 'Windows'.`)
  }
  const destination = readUploadDestination(read, scope)
  return {
    mode: 'upload',
    osDiskPath: vhd,
    dataDiskPaths: (text(read, Inputs.DataVhds) ?? '')
      .split(/\r?\n/)
      .map(s => s.trim())
      .filter(s => s !== ''),
    osType: oneOf(read, Inputs.OsType, OS_TYPES, 'Linux'),
    osState: oneOf(read, Inputs.OsState, OS_STATES, 'Generalized'),
    hyperVGeneration: oneOf(read, Inputs.HyperVGeneration, HYPER_V_GENERATIONS, 'V1'),
    architecture: oneOf(read, Inputs.Architecture, ARCHITECTURES, 'x64'),
    securityType: oneOf(read, Inputs.SecurityType, SECURITY_TYPES, 'Standard'),
    destination,
    concurrency: integer(read, Inputs.UploadConcurrency, 8, 1, 64),
    keepUpload: bool(read, Inputs.KeepUpload, false)
  }
}

function readUploadDestination(read: InputReader, scope: Scope): UploadDestination {
  const via = oneOf(read, Inputs.UploadVia, UPLOAD_VIAS, 'managed-disk')
  if (via === 'managed-disk') {
    return {
      kind: 'managed-disk',
      diskSku: oneOf(read, Inputs.UploadDiskSku, UPLOAD_DISK_SKUS, 'Standard_LRS')
    }
  }
  const account = text(read, Inputs.StorageAccount)
  if (account === undefined) {
    throw new InputError(Inputs.StorageAccount, `is required with upload-via 'storage-account'.`)
  }
  const ref = resourceRef(
    Inputs.StorageAccount,
    account,
    'Microsoft.Storage/storageAccounts',
    scope.subscriptionId,
    scope.resourceGroup
  )
  named(Inputs.StorageAccount, ref.name, STORAGE_ACCOUNT_NAME)
  const container = named(
    Inputs.StorageContainer,
    text(read, Inputs.StorageContainer) ?? 'vhds',
    CONTAINER_NAME
  )
  const { subscriptionId } = scope
  if (
    subscriptionId !== undefined &&
    ref.subscriptionId.toLowerCase() !== subscriptionId.toLowerCase()
  ) {
    throw new InputError(
      Inputs.StorageAccount,
      `is in subscription ${ref.subscriptionId}, but the action works in ${subscriptionId}: use a storage account in the same subscription.`
    )
  }
  return { kind: 'storage-account', account: ref, container }
}

/** `image-name` and/or `gallery`: at least one, in the group the image goes in. */
function readTargets(
  read: InputReader,
  context: PlanContext,
  source: Source,
  scope: Scope
): Pick<Plan, 'subscriptionId' | 'resourceGroup' | 'managedImage' | 'gallery'> {
  const { subscriptionId } = scope
  if (subscriptionId === undefined) {
    throw new InputError(
      Inputs.SubscriptionId,
      `is required: set it, or AZURE_SUBSCRIPTION_ID, or sign in with azure/login first (its subscription is used), or give 'source-vm' as a full resource ID.`
    )
  }
  const overwrite = bool(read, Inputs.Overwrite, false)
  const imageName = text(read, Inputs.ImageName)
  const galleryName = text(read, Inputs.Gallery)
  if (imageName === undefined && galleryName === undefined) {
    throw new InputError(Inputs.ImageName, `or 'gallery' is required: say where the image goes.`)
  }
  if (galleryName === undefined && text(read, Inputs.GalleryImage) !== undefined) {
    throw new InputError(Inputs.Gallery, `is required when 'gallery-image' is set.`)
  }
  const resourceGroup =
    source.mode === 'capture'
      ? (scope.resourceGroup ?? source.vm.resourceGroup)
      : scope.resourceGroup
  if (resourceGroup === undefined) {
    throw new InputError(
      Inputs.ResourceGroup,
      `is required: the group the image and temporary resources go in.`
    )
  }
  const managedImage: ManagedImageTarget | undefined =
    imageName === undefined
      ? undefined
      : {
          image: {
            subscriptionId,
            resourceGroup,
            name: named(Inputs.ImageName, imageName, COMPUTE_NAME)
          },
          overwrite
        }
  const gallery =
    galleryName === undefined
      ? undefined
      : readGallery(read, context, { subscriptionId, resourceGroup }, galleryName, overwrite)
  return { subscriptionId, resourceGroup, managedImage, gallery }
}

function readGallery(
  read: InputReader,
  context: PlanContext,
  scope: Scope,
  galleryName: string,
  overwrite: boolean
): GalleryTarget {
  const imageDefinition = text(read, Inputs.GalleryImage)
  if (imageDefinition === undefined) {
    throw new InputError(Inputs.GalleryImage, `is required when 'gallery' is set.`)
  }
  named(Inputs.GalleryImage, imageDefinition, COMPUTE_NAME)
  named(Inputs.Gallery, galleryName, GALLERY_NAME)
  const galleryGroup = text(read, Inputs.GalleryResourceGroup) ?? scope.resourceGroup
  if (galleryGroup === undefined) {
    throw new InputError(
      Inputs.ResourceGroup,
      `is required with a gallery target (or set 'gallery-resource-group').`
    )
  }
  if (scope.subscriptionId === undefined) {
    throw new InputError(Inputs.SubscriptionId, `is required with a gallery target.`)
  }
  named(Inputs.GalleryResourceGroup, galleryGroup, RESOURCE_GROUP_NAME)
  const version = readGalleryVersion(read, context)
  const targetRegions = parsed(Inputs.TargetRegions, () =>
    parseTargetRegions(text(read, Inputs.TargetRegions) ?? '')
  )
  const replicaCount = integer(read, Inputs.ReplicaCount, 1, 1, 100)
  const replicationMode = oneOf(read, Inputs.ReplicationMode, REPLICATION_MODES, 'Full')
  const endOfLifeDate = readEndOfLifeDate(read, context.now)
  const [owner, repo] = context.run.repository.split('/')
  const createIfMissing = bool(read, Inputs.CreateGalleryImage, false)
  const identifier = (name: string, fallback: string | undefined): string =>
    readIdentifierPart(read, name, fallback, createIfMissing)
  return {
    gallery: {
      subscriptionId: scope.subscriptionId,
      resourceGroup: galleryGroup,
      name: galleryName
    },
    imageDefinition,
    version,
    overwrite,
    createIfMissing,
    publisher: identifier(Inputs.Publisher, owner),
    offer: identifier(Inputs.Offer, repo),
    sku: identifier(Inputs.Sku, imageDefinition),
    targetRegions,
    replicaCount,
    storageAccountType: oneOf(
      read,
      Inputs.StorageAccountType,
      GALLERY_STORAGE_ACCOUNT_TYPES,
      'Standard_LRS'
    ),
    replicationMode,
    excludeFromLatest: bool(read, Inputs.ExcludeFromLatest, false),
    endOfLifeDate,
    keepVersions: integer(read, Inputs.KeepVersions, 0, 0, 1000)
  }
}

function readGalleryVersion(read: InputReader, context: PlanContext): GalleryTarget['version'] {
  const value = text(read, Inputs.GalleryImageVersion) ?? 'auto'
  if (value.toLowerCase() === 'auto') {
    return { kind: 'auto', value: autoVersion(context.now, context.run.runNumber) }
  }
  if (isValidVersion(value)) return { kind: 'explicit', value }
  throw new InputError(
    Inputs.GalleryImageVersion,
    `expected 'auto' or X.Y.Z with three whole numbers from 0 to 2147483647, got '${value}'.`
  )
}

function readEndOfLifeDate(read: InputReader, now: Date): string | undefined {
  const eol = text(read, Inputs.EndOfLifeDate)
  if (eol === undefined) return undefined
  const when = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(eol)
    ? new Date(eol)
    : undefined
  if (when === undefined || Number.isNaN(when.getTime())) {
    throw new InputError(
      Inputs.EndOfLifeDate,
      `expected an ISO 8601 date such as 2027-12-31, got '${eol}'.`
    )
  }
  if (when.getTime() <= now.getTime()) {
    throw new InputError(Inputs.EndOfLifeDate, `'${eol}' is not in the future.`)
  }
  return eol
}

/**
 * A definition's publisher, offer or SKU. Only a definition the action creates uses these: a default
 * derived from an odd repository name is not an error unless it would be used.
 */
function readIdentifierPart(
  read: InputReader,
  name: string,
  fallback: string | undefined,
  createIfMissing: boolean
): string {
  const given = text(read, name)
  const value = given ?? fallback
  if (given === undefined && !createIfMissing) return value ?? ''
  if (value === undefined || value === '') {
    throw new InputError(name, `is required (it could not be derived from the repository name).`)
  }
  return named(name, value, IMAGE_IDENTIFIER_PART)
}

function readLocation(read: InputReader): string | undefined {
  const location = text(read, Inputs.Location)
  if (location === undefined) return undefined
  if (!isRegionName(normaliseRegion(location))) {
    throw new InputError(
      Inputs.Location,
      `expected an Azure region such as 'eastus' or 'West Europe', got '${location}'.`
    )
  }
  return normaliseRegion(location)
}

function readTags(
  read: InputReader,
  context: PlanContext,
  source: Source,
  owner: Owner
): Record<string, string> {
  const userTags = parsed(Inputs.Tags, () => parseTags(text(read, Inputs.Tags) ?? ''))
  const provenance = bool(read, Inputs.ProvenanceTags, true)
  // Upload disks carry the 4 tags of their source file's identity besides these (resume) and, once
  // uploaded, the completion tag (resume.ts); a build's resources the resolved `base-image` tag.
  const reserved =
    source.mode === 'upload' && source.destination.kind === 'managed-disk'
      ? 5
      : source.mode === 'build'
        ? 1
        : 0
  return parsed(Inputs.Tags, () =>
    buildTags(userTags, context.run, { provenance, reserved, ownerKey: owner.key })
  )
}

/** This job with these inputs (issue 14): every input but the secret goes into the owner key. */
function readOwner(read: InputReader, context: PlanContext): Owner {
  const inputs: Record<string, string> = {}
  for (const name of Object.values(Inputs)) {
    if (name !== Inputs.ClientSecret) inputs[name] = read(name).trim()
  }
  return {
    runId: context.run.runId,
    key: ownerKey(context.run, inputs),
    attempt: context.run.runAttempt
  }
}

export function readPlan(read: InputReader, context: PlanContext): Plan {
  const connection = readConnection(read, context.defaults)
  const scope = readScope(read, context.defaults)
  const owner = readOwner(read, context)
  const source = readSource(read, scope, owner)
  const targets = readTargets(read, context, source, scope)
  const broken = brokenRule({ source, ...targets })
  if (broken !== undefined) throw new InputError(broken.input, broken.message)
  return {
    connection,
    ...targets,
    location: readLocation(read),
    source,
    tags: readTags(read, context, source, owner),
    run: context.run,
    owner,
    timeoutMinutes: integer(read, Inputs.TimeoutMinutes, 120, 1, 1440),
    dryRun: bool(read, Inputs.DryRun, false)
  }
}
