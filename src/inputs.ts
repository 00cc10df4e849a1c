/**
 * Every input is read and validated here, once, into a Plan. Each problem is an InputError that names
 * the input and says what is expected, raised before anything talks to Azure.
 */
import { Inputs } from './constants.js'
import { autoVersion, isValidVersion } from './targets/version-number.js'
import { normaliseRegion, parseTargetRegions } from './targets/target-regions.js'
import { buildTags, ownerKey, parseTags } from './tags.js'
import type {
  Architecture,
  AuthType,
  CaptureSource,
  CloudName,
  ConnectionPlan,
  GalleryStorageAccountType,
  GalleryTarget,
  HyperVGeneration,
  OsState,
  OsType,
  Plan,
  ResourceRef,
  RunIdentity,
  SecurityType,
  UploadDestination,
  UploadDiskSku,
  UploadSource
} from './plan.js'

export class InputError extends Error {
  constructor(
    readonly input: string,
    message: string
  ) {
    super(`Input '${input}': ${message}`)
    this.name = 'InputError'
  }
}

/** Reads one input as the runner gives it (trimmed, '' when unset). */
export type InputReader = (name: string) => string

export interface PlanContext {
  run: RunIdentity
  now: Date
}

function text(read: InputReader, name: string): string | undefined {
  const value = read(name).trim()
  return value === '' ? undefined : value
}

function bool(read: InputReader, name: string, fallback: boolean): boolean {
  const value = text(read, name)
  if (value === undefined) return fallback
  const lower = value.toLowerCase()
  if (lower === 'true') return true
  if (lower === 'false') return false
  throw new InputError(name, `expected 'true' or 'false', got '${value}'.`)
}

function oneOf<T extends string>(
  read: InputReader,
  name: string,
  allowed: readonly T[],
  fallback: T
): T {
  const value = text(read, name)
  if (value === undefined) return fallback
  const match = allowed.find(a => a.toLowerCase() === value.toLowerCase())
  if (match === undefined) {
    throw new InputError(name, `expected one of ${allowed.join(' | ')}, got '${value}'.`)
  }
  return match
}

function integer(
  read: InputReader,
  name: string,
  fallback: number,
  min: number,
  max: number
): number {
  const value = text(read, name)
  if (value === undefined) return fallback
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new InputError(name, `expected a whole number from ${min} to ${max}, got '${value}'.`)
  }
  return Number(value)
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
/** Resource group names: 1-90 of letters, digits, '_', '-', '.', '(' and ')', not ending in '.'. */
const RESOURCE_GROUP = /^[-\w._()]{1,90}$/
/** Compute resource names (images, galleries, definitions): letters, digits, '_', '-', '.'. */
const COMPUTE_NAME = /^[A-Za-z0-9][-\w.]{0,79}$/

function resourceGroupName(name: string, value: string): string {
  if (!RESOURCE_GROUP.test(value) || value.endsWith('.')) {
    throw new InputError(
      name,
      `'${value}' is not a valid resource group name (1-90 letters, digits, '_', '-', '.', '(' or ')', not ending in '.').`
    )
  }
  return value
}

function computeName(name: string, value: string, maxLength = 80): string {
  if (!COMPUTE_NAME.test(value) || value.length > maxLength || /[.-]$/.test(value)) {
    throw new InputError(
      name,
      `'${value}' is not a valid name (1-${maxLength} letters, digits, '_', '-' or '.', starting with a letter or digit and not ending in '.' or '-').`
    )
  }
  return value
}

const RESOURCE_ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/([^/]+)\/([^/]+)\/([^/]+)$/i

/**
 * A resource named in an input: either a full resource ID of the expected type, or a name in the
 * default resource group.
 */
function resourceRef(
  name: string,
  value: string,
  expectedType: string,
  subscriptionId: string | undefined,
  resourceGroup: string | undefined
): ResourceRef {
  if (value.startsWith('/')) {
    const m = RESOURCE_ID.exec(value)
    if (!m || `${m[3]}/${m[4]}`.toLowerCase() !== expectedType.toLowerCase()) {
      throw new InputError(
        name,
        `'${value}' is not a ${expectedType} resource ID (/subscriptions/<id>/resourceGroups/<group>/providers/${expectedType}/<name>).`
      )
    }
    if (!GUID.test(m[1])) {
      throw new InputError(name, `the subscription in '${value}' is not a GUID.`)
    }
    return { subscriptionId: m[1], resourceGroup: resourceGroupName(name, m[2]), name: m[5] }
  }
  if (value.includes('/')) {
    throw new InputError(name, `expected a name or a full resource ID, got '${value}'.`)
  }
  if (resourceGroup === undefined) {
    throw new InputError(
      Inputs.ResourceGroup,
      `is required when '${name}' is a name rather than a full resource ID.`
    )
  }
  if (subscriptionId === undefined) {
    throw new InputError(
      Inputs.SubscriptionId,
      `is required when '${name}' is a name rather than a full resource ID.`
    )
  }
  return { subscriptionId, resourceGroup, name: value }
}

function readConnection(read: InputReader): ConnectionPlan {
  const authType = oneOf<AuthType>(
    read,
    Inputs.AuthType,
    ['auto', 'oidc', 'client-secret', 'azure-cli', 'managed-identity'],
    'auto'
  )
  const environment = oneOf<CloudName>(
    read,
    Inputs.Environment,
    ['AzureCloud', 'AzureUSGovernment', 'AzureChinaCloud', 'AzureStack'],
    'AzureCloud'
  )
  const clientId = text(read, Inputs.ClientId)
  const tenantId = text(read, Inputs.TenantId)
  const clientSecret = text(read, Inputs.ClientSecret)
  if (clientId !== undefined && !GUID.test(clientId)) {
    throw new InputError(Inputs.ClientId, `expected a GUID, got '${clientId}'.`)
  }
  if (
    tenantId !== undefined &&
    !GUID.test(tenantId) &&
    !/^[a-z0-9.-]+\.[a-z]{2,}$/i.test(tenantId)
  ) {
    throw new InputError(Inputs.TenantId, `expected a GUID or a domain name, got '${tenantId}'.`)
  }
  if (authType === 'oidc' || authType === 'client-secret') {
    if (clientId === undefined)
      throw new InputError(Inputs.ClientId, `is required with auth-type '${authType}'.`)
    if (tenantId === undefined)
      throw new InputError(Inputs.TenantId, `is required with auth-type '${authType}'.`)
  }
  if (authType === 'client-secret' && clientSecret === undefined) {
    throw new InputError(Inputs.ClientSecret, `is required with auth-type 'client-secret'.`)
  }
  const endpoint = text(read, Inputs.ResourceManagerEndpoint)
  if (environment === 'AzureStack' && endpoint === undefined) {
    throw new InputError(
      Inputs.ResourceManagerEndpoint,
      `is required with environment 'AzureStack' (the cloud's ARM endpoint, e.g. https://management.local.azurestack.external).`
    )
  }
  if (endpoint !== undefined) {
    let url: URL
    try {
      url = new URL(endpoint)
    } catch {
      throw new InputError(
        Inputs.ResourceManagerEndpoint,
        `expected an https URL, got '${endpoint}'.`
      )
    }
    if (url.protocol !== 'https:') {
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
  }
  return {
    authType,
    clientId,
    tenantId,
    clientSecret,
    environment,
    resourceManagerEndpoint: endpoint?.replace(/\/+$/, ''),
    audience: text(read, Inputs.Audience)
  }
}

function readCapture(
  read: InputReader,
  subscriptionId: string | undefined,
  resourceGroup: string | undefined,
  sourceVm: string
): CaptureSource {
  const vm = resourceRef(
    Inputs.SourceVm,
    sourceVm,
    'Microsoft.Compute/virtualMachines',
    subscriptionId,
    resourceGroup
  )
  // The name goes into a URL path: '.', '..', '?' or '#' would address another resource (the SDK
  // does not encode dot segments). Azure's VM names: up to 64, letters, digits, '-', '_', '.'.
  computeName(Inputs.SourceVm, vm.name, 64)
  // A full ID names its subscription; every client works in subscription-id's, so a VM of the same
  // group and name there would be the one captured. Refused rather than silently retargeted.
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
    deprovision: bool(read, Inputs.Deprovision, false),
    backupSnapshot: bool(read, Inputs.BackupSnapshot, false),
    deleteSourceVm: bool(read, Inputs.DeleteSourceVm, false)
  }
}

function readUpload(
  read: InputReader,
  subscriptionId: string | undefined,
  resourceGroup: string | undefined,
  vhd: string
): UploadSource {
  const osType = text(read, Inputs.OsType)
  if (osType === undefined) {
    throw new InputError(Inputs.OsType, `is required in upload mode: 'Linux' or 'Windows'.`)
  }
  const via = oneOf(
    read,
    Inputs.UploadVia,
    ['managed-disk', 'storage-account'] as const,
    'managed-disk'
  )
  let destination: UploadDestination
  if (via === 'managed-disk') {
    destination = {
      kind: 'managed-disk',
      diskSku: oneOf<UploadDiskSku>(
        read,
        Inputs.UploadDiskSku,
        ['Standard_LRS', 'StandardSSD_LRS', 'Premium_LRS', 'StandardSSD_ZRS', 'Premium_ZRS'],
        'Standard_LRS'
      )
    }
  } else {
    const account = text(read, Inputs.StorageAccount)
    if (account === undefined) {
      throw new InputError(Inputs.StorageAccount, `is required with upload-via 'storage-account'.`)
    }
    const ref = resourceRef(
      Inputs.StorageAccount,
      account,
      'Microsoft.Storage/storageAccounts',
      subscriptionId,
      resourceGroup
    )
    if (!/^[a-z0-9]{3,24}$/.test(ref.name)) {
      throw new InputError(
        Inputs.StorageAccount,
        `'${ref.name}' is not a storage account name (3-24 lower-case letters and digits).`
      )
    }
    const container = text(read, Inputs.StorageContainer) ?? 'vhds'
    if (!/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(container)) {
      throw new InputError(
        Inputs.StorageContainer,
        `'${container}' is not a container name (3-63 lower-case letters, digits and single hyphens).`
      )
    }
    if (
      subscriptionId !== undefined &&
      ref.subscriptionId.toLowerCase() !== subscriptionId.toLowerCase()
    ) {
      throw new InputError(
        Inputs.StorageAccount,
        `is in subscription ${ref.subscriptionId}, but the action works in ${subscriptionId}: use a storage account in the same subscription.`
      )
    }
    destination = { kind: 'storage-account', account: ref, container }
  }
  return {
    mode: 'upload',
    osDiskPath: vhd,
    dataDiskPaths: (text(read, Inputs.DataVhds) ?? '')
      .split(/\r?\n/)
      .map(s => s.trim())
      .filter(s => s !== ''),
    osType: oneOf<OsType>(read, Inputs.OsType, ['Linux', 'Windows'], 'Linux'),
    osState: oneOf<OsState>(read, Inputs.OsState, ['Generalized', 'Specialized'], 'Generalized'),
    hyperVGeneration: oneOf<HyperVGeneration>(read, Inputs.HyperVGeneration, ['V1', 'V2'], 'V1'),
    architecture: oneOf<Architecture>(read, Inputs.Architecture, ['x64', 'Arm64'], 'x64'),
    securityType: oneOf<SecurityType>(
      read,
      Inputs.SecurityType,
      ['Standard', 'TrustedLaunchSupported', 'TrustedLaunch'],
      'Standard'
    ),
    destination,
    concurrency: integer(read, Inputs.UploadConcurrency, 8, 1, 64),
    keepUpload: bool(read, Inputs.KeepUpload, false)
  }
}

function readGallery(
  read: InputReader,
  context: PlanContext,
  subscriptionId: string | undefined,
  resourceGroup: string | undefined,
  galleryName: string,
  overwrite: boolean
): GalleryTarget {
  const imageDefinition = text(read, Inputs.GalleryImage)
  if (imageDefinition === undefined) {
    throw new InputError(Inputs.GalleryImage, `is required when 'gallery' is set.`)
  }
  computeName(Inputs.GalleryImage, imageDefinition)
  if (!/^[A-Za-z0-9][\w.]{0,79}$/.test(galleryName) || galleryName.endsWith('.')) {
    throw new InputError(
      Inputs.Gallery,
      `'${galleryName}' is not a gallery name (letters, digits, '_' and '.', up to 80, not ending in '.'; no hyphens).`
    )
  }
  const galleryGroup = text(read, Inputs.GalleryResourceGroup) ?? resourceGroup
  if (galleryGroup === undefined) {
    throw new InputError(
      Inputs.ResourceGroup,
      `is required with a gallery target (or set 'gallery-resource-group').`
    )
  }
  if (subscriptionId === undefined) {
    throw new InputError(Inputs.SubscriptionId, `is required with a gallery target.`)
  }
  resourceGroupName(Inputs.GalleryResourceGroup, galleryGroup)

  const versionInput = text(read, Inputs.GalleryImageVersion) ?? 'auto'
  let version: GalleryTarget['version']
  if (versionInput.toLowerCase() === 'auto') {
    version = { kind: 'auto', value: autoVersion(context.now, context.run.runNumber) }
  } else if (isValidVersion(versionInput)) {
    version = { kind: 'explicit', value: versionInput }
  } else {
    throw new InputError(
      Inputs.GalleryImageVersion,
      `expected 'auto' or X.Y.Z with three whole numbers from 0 to 2147483647, got '${versionInput}'.`
    )
  }

  let targetRegions
  try {
    targetRegions = parseTargetRegions(text(read, Inputs.TargetRegions) ?? '')
  } catch (e) {
    throw new InputError(Inputs.TargetRegions, (e as Error).message)
  }
  const replicaCount = integer(read, Inputs.ReplicaCount, 1, 1, 100)
  const replicationMode = oneOf(read, Inputs.ReplicationMode, ['Full', 'Shallow'] as const, 'Full')
  if (replicationMode === 'Shallow') {
    const regions = new Set(targetRegions.map(r => r.name))
    const replicas = [replicaCount, ...targetRegions.map(r => r.replicas ?? replicaCount)]
    if (regions.size > 1 || replicas.some(r => r !== 1)) {
      throw new InputError(
        Inputs.ReplicationMode,
        `'Shallow' replication needs exactly one target region and one replica (target-regions lists ${regions.size} region(s), replicas ${[...new Set(replicas)].join('/')}).`
      )
    }
  }
  const eol = text(read, Inputs.EndOfLifeDate)
  if (eol !== undefined) {
    const when = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(eol)
      ? new Date(eol)
      : undefined
    if (when === undefined || Number.isNaN(when.getTime())) {
      throw new InputError(
        Inputs.EndOfLifeDate,
        `expected an ISO 8601 date such as 2027-12-31, got '${eol}'.`
      )
    }
    if (when.getTime() <= context.now.getTime()) {
      throw new InputError(Inputs.EndOfLifeDate, `'${eol}' is not in the future.`)
    }
  }
  const [owner, repo] = context.run.repository.split('/')
  const createIfMissing = bool(read, Inputs.CreateGalleryImage, false)
  // Only a definition the action creates uses these: a default derived from an odd repository
  // name is not an error unless it would be used.
  const identifierPart = (name: string, fallback: string | undefined): string => {
    const given = text(read, name)
    const value = given ?? fallback
    if (given === undefined && !createIfMissing) return value ?? ''
    if (value === undefined || value === '') {
      throw new InputError(name, `is required (it could not be derived from the repository name).`)
    }
    if (!/^[A-Za-z0-9][-\w.]{0,127}$/.test(value)) {
      throw new InputError(
        name,
        `'${value}' is not valid (letters, digits, '-', '_' and '.', up to 128).`
      )
    }
    return value
  }
  return {
    gallery: { subscriptionId, resourceGroup: galleryGroup, name: galleryName },
    imageDefinition,
    version,
    overwrite,
    createIfMissing,
    publisher: identifierPart(Inputs.Publisher, owner),
    offer: identifierPart(Inputs.Offer, repo),
    sku: identifierPart(Inputs.Sku, imageDefinition),
    targetRegions,
    replicaCount,
    storageAccountType: oneOf<GalleryStorageAccountType>(
      read,
      Inputs.StorageAccountType,
      ['Standard_LRS', 'Standard_ZRS', 'Premium_LRS'],
      'Standard_LRS'
    ),
    replicationMode,
    excludeFromLatest: bool(read, Inputs.ExcludeFromLatest, false),
    endOfLifeDate: eol,
    keepVersions: integer(read, Inputs.KeepVersions, 0, 0, 1000)
  }
}

export function readPlan(read: InputReader, context: PlanContext): Plan {
  const connection = readConnection(read)

  const resourceGroupInput = text(read, Inputs.ResourceGroup)
  const resourceGroup =
    resourceGroupInput === undefined
      ? undefined
      : resourceGroupName(Inputs.ResourceGroup, resourceGroupInput)
  let subscriptionId = text(read, Inputs.SubscriptionId)
  if (subscriptionId !== undefined && !GUID.test(subscriptionId)) {
    throw new InputError(Inputs.SubscriptionId, `expected a GUID, got '${subscriptionId}'.`)
  }
  // A full resource ID names its subscription; the contract lets that stand in for subscription-id.
  if (subscriptionId === undefined) {
    for (const name of [Inputs.SourceVm, Inputs.StorageAccount]) {
      const m = RESOURCE_ID.exec(text(read, name) ?? '')
      if (m && GUID.test(m[1])) {
        subscriptionId = m[1]
        break
      }
    }
  }

  const modeInput = oneOf(read, Inputs.Mode, ['capture', 'upload'] as const, 'capture')
  const sourceVm = text(read, Inputs.SourceVm)
  const vhd = text(read, Inputs.Vhd)
  if (text(read, Inputs.Mode) === undefined) {
    if (sourceVm !== undefined && vhd !== undefined) {
      throw new InputError(
        Inputs.SourceVm,
        `and 'vhd' are both set: set one (capture a VM, or upload a disk image).`
      )
    }
    if (sourceVm === undefined && vhd === undefined) {
      throw new InputError(
        Inputs.SourceVm,
        `or 'vhd' is required: 'source-vm' to capture a VM, 'vhd' to upload a disk image.`
      )
    }
  }
  const mode = text(read, Inputs.Mode) === undefined ? (sourceVm ? 'capture' : 'upload') : modeInput
  let source: CaptureSource | UploadSource
  if (mode === 'capture') {
    if (sourceVm === undefined)
      throw new InputError(Inputs.SourceVm, `is required in capture mode.`)
    if (vhd !== undefined)
      throw new InputError(Inputs.Vhd, `is only used in upload mode (mode is 'capture').`)
    source = readCapture(read, subscriptionId, resourceGroup, sourceVm)
  } else {
    if (vhd === undefined) throw new InputError(Inputs.Vhd, `is required in upload mode.`)
    if (sourceVm !== undefined)
      throw new InputError(Inputs.SourceVm, `is only used in capture mode (mode is 'upload').`)
    source = readUpload(read, subscriptionId, resourceGroup, vhd)
  }

  if (subscriptionId === undefined) {
    throw new InputError(
      Inputs.SubscriptionId,
      `is required (or give 'source-vm' as a full resource ID).`
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
  const targetGroup =
    source.mode === 'capture' ? (resourceGroup ?? source.vm.resourceGroup) : resourceGroup
  if (targetGroup === undefined) {
    throw new InputError(
      Inputs.ResourceGroup,
      `is required: the group the image and temporary resources go in.`
    )
  }
  const managedImage =
    imageName === undefined
      ? undefined
      : {
          image: {
            subscriptionId,
            resourceGroup: targetGroup,
            name: computeName(Inputs.ImageName, imageName)
          },
          overwrite
        }
  const gallery =
    galleryName === undefined
      ? undefined
      : readGallery(read, context, subscriptionId, targetGroup, galleryName, overwrite)

  if (source.mode === 'capture' && !source.generalize) {
    if (gallery === undefined) {
      throw new InputError(
        Inputs.Generalize,
        `'false' (a specialized capture) needs a gallery target: managed images are always generalized. Set 'gallery' and 'gallery-image', or drop 'generalize: false'.`
      )
    }
    if (managedImage !== undefined) {
      throw new InputError(
        Inputs.ImageName,
        `cannot be used with 'generalize: false': a managed image is always generalized. Use only the gallery target.`
      )
    }
    if (source.deprovision) {
      throw new InputError(
        Inputs.Deprovision,
        `'true' generalizes the OS, which contradicts 'generalize: false'.`
      )
    }
    if (source.deleteSourceVm) {
      throw new InputError(
        Inputs.DeleteSourceVm,
        `'true' deletes the VM, but with 'generalize: false' it is still a working VM: delete it yourself if you mean to.`
      )
    }
  }
  if (
    source.mode === 'upload' &&
    source.securityType !== 'Standard' &&
    source.hyperVGeneration === 'V1'
  ) {
    throw new InputError(
      Inputs.SecurityType,
      `'${source.securityType}' needs a Hyper-V generation 2 image: set 'hyper-v-generation: V2' (Trusted Launch boots with UEFI).`
    )
  }
  if (source.mode === 'upload' && source.osState === 'Specialized' && managedImage !== undefined) {
    throw new InputError(
      Inputs.OsState,
      `'Specialized' needs a gallery target only: a managed image is always generalized. Remove 'image-name' or use os-state 'Generalized'.`
    )
  }
  if (
    source.mode === 'upload' &&
    source.securityType === 'TrustedLaunch' &&
    managedImage !== undefined
  ) {
    throw new InputError(
      Inputs.SecurityType,
      `'TrustedLaunch' images can only be gallery image versions, not managed images. Remove 'image-name' or use a gallery target.`
    )
  }

  const locationInput = text(read, Inputs.Location)
  if (locationInput !== undefined && !/^[a-z0-9]+$/.test(normaliseRegion(locationInput))) {
    throw new InputError(
      Inputs.Location,
      `expected an Azure region such as 'eastus' or 'West Europe', got '${locationInput}'.`
    )
  }
  const userTags = (() => {
    try {
      return parseTags(text(read, Inputs.Tags) ?? '')
    } catch (e) {
      throw new InputError(Inputs.Tags, (e as Error).message)
    }
  })()
  const provenance = bool(read, Inputs.ProvenanceTags, true)
  const inputValues: Record<string, string> = {}
  for (const name of Object.values(Inputs)) {
    if (name !== Inputs.ClientSecret) inputValues[name] = read(name).trim()
  }
  const owner = {
    runId: context.run.runId,
    key: ownerKey(context.run, inputValues),
    attempt: context.run.runAttempt
  }
  const tags = (() => {
    try {
      // Upload disks carry the 4 tags of their source file's identity besides these (resume).
      const reserved =
        source.mode === 'upload' && source.destination.kind === 'managed-disk' ? 4 : 0
      return buildTags(userTags, context.run, { provenance, reserved, ownerKey: owner.key })
    } catch (e) {
      throw new InputError(Inputs.Tags, (e as Error).message)
    }
  })()

  return {
    connection,
    subscriptionId,
    resourceGroup: targetGroup,
    location: locationInput === undefined ? undefined : normaliseRegion(locationInput),
    source,
    managedImage,
    gallery,
    tags,
    run: context.run,
    owner,
    timeoutMinutes: integer(read, Inputs.TimeoutMinutes, 120, 1, 1440),
    dryRun: bool(read, Inputs.DryRun, false)
  }
}
