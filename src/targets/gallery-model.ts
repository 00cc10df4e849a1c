/**
 * The gallery target as pure data: what a definition must look like for a source, whether an
 * existing one fits, the version body, what to do with an existing version, which versions retention
 * removes, and the replication table. No Azure calls here, so every rule is unit-tested.
 */
import type {
  GalleryImage,
  GalleryImageVersion,
  GalleryImageVersionStorageProfile,
  RegionalReplicationStatus
} from '@azure/arm-compute'
import { normaliseRegion } from '../azure/region.js'
import { resourceId } from '../azure/resource-id.js'
import type { GalleryTarget, Owner, TargetRegion } from '../plan.js'
import type { ImageContent, SourceDisk, SourceFacts } from '../source-facts.js'
import { madeBy } from '../tags.js'
import { compareVersions } from './version-number.js'

/** Values Azure accepts for the `SecurityType` feature of a gallery image definition. */
/** A definition's SecurityType feature values (a wider set than the `security-type` input's). */
const DEFINITION_SECURITY_TYPES = [
  'Standard',
  'TrustedLaunch',
  'TrustedLaunchSupported',
  'ConfidentialVM',
  'ConfidentialVMSupported',
  'TrustedLaunchAndConfidentialVmSupported'
] as const
export type DefinitionSecurityType = (typeof DEFINITION_SECURITY_TYPES)[number]

/** Where the version's content comes from, for rules that depend on it and for error messages. */
export interface SourceOrigin {
  kind: ImageContent['kind']
  /** VM name, image name or file name, as the user knows it. */
  name: string
}

export interface GalleryIds {
  galleryId: string
  definitionId: string
  versionId: string
}

export function galleryIds(target: GalleryTarget, version: string): GalleryIds {
  const g = target.gallery
  const galleryId = resourceId(g, 'Microsoft.Compute', 'galleries')
  const definitionId = `${galleryId}/images/${target.imageDefinition}`
  return { galleryId, definitionId, versionId: `${definitionId}/versions/${version}` }
}

// ---------------------------------------------------------------------------------------------
// Definitions

/** An existing definition, normalised the way Azure interprets missing properties. */
export interface DefinitionFacts {
  osType: string
  osState: string
  /** Azure treats a definition without hyperVGeneration as V1. */
  hyperVGeneration: string
  /** ... and one without architecture as x64. */
  architecture: string
  securityType: string
}

/**
 * Reads an existing definition. From gallery API 2025-03-03 a NEW definition created without a
 * SecurityType feature, or with a null value, becomes TrustedLaunchSupported and, without
 * hyperVGeneration, V2 (MicrosoftDocs/azure-compute-docs compute-gallery-whats-new.md, July 2025;
 * azure-compute-gallery.md "Trusted Launch validation"). Definitions made before keep their meaning:
 * no feature is Standard, no generation V1. So a definition read back with no feature at all predates
 * the default (Azure records the value it applied); a feature present with no value is read as the
 * value Azure gives it, TrustedLaunchSupported.
 */
export function definitionFacts(image: GalleryImage): DefinitionFacts {
  const feature = image.features?.find(f => f.name?.toLowerCase() === 'securitytype')
  const securityType =
    feature === undefined ? 'Standard' : feature.value ? feature.value : 'TrustedLaunchSupported'
  return {
    osType: image.osType ?? 'unknown',
    osState: image.osState ?? 'unknown',
    hyperVGeneration: image.hyperVGeneration ?? 'V1',
    architecture: image.architecture ?? 'x64',
    securityType
  }
}

/** The security type a definition created for this source gets. */
export function securityTypeFor(source: SourceFacts): DefinitionSecurityType {
  return source.securityType
}

export function definitionBody(
  target: GalleryTarget,
  source: SourceFacts,
  location: string,
  tags: Record<string, string>
): GalleryImage {
  const security = securityTypeFor(source)
  return {
    location,
    tags,
    osType: source.osType,
    osState: source.osState,
    hyperVGeneration: source.hyperVGeneration,
    architecture: source.architecture,
    identifier: { publisher: target.publisher, offer: target.offer, sku: target.sku },
    // A build from a Marketplace image with a plan: VMs from this image must name the plan too.
    ...(source.purchasePlan ? { purchasePlan: { ...source.purchasePlan } } : {}),
    // Always explicit, Standard included: left out, Azure (API ≥ 2025-03-03) makes the definition
    // TrustedLaunchSupported, which refuses versions from a VM or a managed disk.
    features: [{ name: 'SecurityType', value: security }]
  }
}

function describeOrigin(origin: SourceOrigin | undefined): string {
  if (origin === undefined) return 'the source'
  switch (origin.kind) {
    case 'vm':
    case 'managed-image':
      return `the source VM '${origin.name}'`
    case 'disks':
    case 'blobs':
      return `the uploaded image '${origin.name}'`
  }
}

const same = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase()

function isCapture(origin: SourceOrigin | undefined): boolean {
  return origin === undefined || origin.kind === 'vm' || origin.kind === 'managed-image'
}

/**
 * Every way an existing definition cannot take a version from this source, as messages naming both
 * sides and the way out. Empty when it fits. Checked before anything changes the VM.
 */
export function definitionMismatches(
  definitionName: string,
  def: DefinitionFacts,
  source: SourceFacts,
  origin?: SourceOrigin
): string[] {
  const who = describeOrigin(origin)
  const capture = isCapture(origin)
  const prefix = `Gallery image definition '${definitionName}'`
  const errors: string[] = []

  if (!same(def.osType, source.osType)) {
    errors.push(
      `${prefix} is for ${def.osType} but ${who} is ${source.osType}: publish into a ${source.osType} definition.`
    )
  }
  if (!same(def.osState, source.osState)) {
    const fix = capture
      ? source.osState === 'Specialized'
        ? 'set generalize: true'
        : 'set generalize: false'
      : `set os-state: ${def.osState} if the image really is ${def.osState}`
    errors.push(
      `${prefix} is ${def.osState} but ${who} will be ${source.osState}: ${fix}, or use a ${source.osState} definition.`
    )
  }
  if (!same(def.hyperVGeneration, source.hyperVGeneration)) {
    const fix = capture
      ? `create a ${source.hyperVGeneration} definition or use another gallery-image`
      : `create a ${source.hyperVGeneration} definition, or set hyper-v-generation: ${def.hyperVGeneration} if the image really is ${def.hyperVGeneration}`
    errors.push(
      `${prefix} is Hyper-V generation ${def.hyperVGeneration} but ${who} is ${source.hyperVGeneration}: ${fix}.`
    )
  }
  if (!same(def.architecture, source.architecture)) {
    const fix = capture
      ? `create a ${source.architecture} definition or use another gallery-image`
      : `create a ${source.architecture} definition, or set architecture: ${def.architecture} if the image really is ${def.architecture}`
    errors.push(
      `${prefix} is for ${def.architecture} but ${who} is ${source.architecture}: ${fix}.`
    )
  }
  const security = securityMismatch(def.securityType, source, origin)
  if (security !== undefined) errors.push(`${prefix} ${security}`)
  return errors
}

/**
 * What Azure accepts, as far as it is documented and reported:
 * - a TrustedLaunch VM carries its guest state: only a `TrustedLaunch` definition takes it (Azure
 *   refuses VM sources for the `…Supported` types, and a managed image cannot be made from such a VM);
 * - a ConfidentialVM source needs a `ConfidentialVM` definition;
 * - the `…Supported` types take only VHD blob, managed image and gallery version sources ("Currently
 *   only Vhd Blob, User Image and Gallery Image Version sources are supported"), so a direct VM
 *   capture of a Standard VM into one fails; VMs of either kind can later be created from them;
 * - a Standard source into a `ConfidentialVM` definition cannot work (no confidential guest state).
 * Uploads declare their security type (`security-type`), used only to create a definition, so an
 * existing definition is only held against what Azure itself refuses.
 */
function securityMismatch(
  defType: string,
  source: SourceFacts,
  origin: SourceOrigin | undefined
): string | undefined {
  const who = describeOrigin(origin)
  const def = DEFINITION_SECURITY_TYPES.find(t => same(t, defType)) ?? defType
  const has =
    def === 'Standard' ? 'has no SecurityType feature (Standard)' : `has security type ${def}`
  const capture = isCapture(origin)
  const supportedKind =
    def === 'TrustedLaunchSupported' ||
    def === 'ConfidentialVMSupported' ||
    def === 'TrustedLaunchAndConfidentialVmSupported'

  if (capture && source.securityType === 'TrustedLaunch' && def !== 'TrustedLaunch') {
    return `${has} but ${who} is TrustedLaunch: publish into a definition created with the feature SecurityType=TrustedLaunch (or let the action create one with create-gallery-image: true and a new gallery-image name).`
  }
  if (capture && source.securityType === 'ConfidentialVM' && def !== 'ConfidentialVM') {
    return `${has} but ${who} is a ConfidentialVM: publish into a definition created with the feature SecurityType=ConfidentialVM.`
  }
  if (source.securityType === 'Standard' && def === 'ConfidentialVM') {
    return `${has} but ${who} is Standard: a ConfidentialVM definition needs a confidential VM as its source.`
  }
  if (supportedKind && origin?.kind === 'vm') {
    return `${has}, and Azure accepts only VHD blob, managed image and gallery image version sources for it, not ${who} directly: also set image-name (the version is then made from that managed image), or use a definition without that feature.`
  }
  if (supportedKind && origin?.kind === 'disks') {
    return `${has}, and Azure accepts only VHD blob, managed image and gallery image version sources for it, not the managed disks ${who} is uploaded to: set upload-via: storage-account, or also set image-name, or use a definition without that feature.`
  }
  return undefined
}

/**
 * A definition/source mismatch Azure reported only in the version's operation (after a 201), in the
 * action's words: "The resource with id '…' has a different Hypervisor generation ['V2'] than the
 * parent gallery image Hypervisor generation ['V1']." (Conflict, MicrosoftDocs/azure-docs#118774),
 * the same for "OS state" (BadRequest, Azure/azure-cli#24972) and "OS type"
 * (troubleshooting-shared-images.md). Undefined for any other failure.
 */
export function lateMismatch(definitionName: string, azureMessage: string): string | undefined {
  const m =
    /different (Hypervisor generation|OS state|OS type) \['([^'\]]*)'\] than the parent gallery image [A-Za-z ]*?\['([^'\]]*)'\]/i.exec(
      azureMessage
    )
  if (m === null) return undefined
  const [, property, source, definition] = m
  const what = /hypervisor/i.test(property) ? 'Hyper-V generation' : property
  const fix = /hypervisor/i.test(property)
    ? `publish into a ${source} definition`
    : /state/i.test(property)
      ? `publish into a ${source} definition, or set generalize to match the definition`
      : `publish into a ${source} definition`
  return `Azure refused the version: gallery image definition '${definitionName}' has ${what} ${definition} but the source has ${source}; ${fix}.`
}

/**
 * Full replication copies a source disk of at most 2048 GiB: "The image size should be less than
 * 2 TB, but you can use shallow replication to support larger image sizes (up to 32 TB)"
 * (azure-compute-gallery.md); a bigger disk fails in replication, possibly hours in ("The
 * GalleryImageVersion source resource size 2520 exceeds the max size 2048 supported",
 * troubleshooting-shared-images.md).
 */
export const FULL_REPLICATION_MAX_GIB = 2048

export function fullReplicationProblem(
  disks: SourceDisk[],
  mode: GalleryTarget['replicationMode']
): string | undefined {
  if (mode !== 'Full') return undefined
  const big = disks.filter(d => d.sizeGiB > FULL_REPLICATION_MAX_GIB)
  if (big.length === 0) return undefined
  return `replication-mode 'Full' copies disks of at most ${FULL_REPLICATION_MAX_GIB} GiB, but ${big
    .map(d => `'${d.name}' is ${d.sizeGiB} GiB`)
    .join(
      ', '
    )}: set replication-mode: Shallow (one region, one replica, disks up to 32 TiB), or make the disk smaller.`
}

// ---------------------------------------------------------------------------------------------
// Versions

export type VersionAction = 'create' | 'reuse' | 'replace-failed' | 'overwrite'

/** Provisioning states that will not change by themselves any more. */
export function isTerminal(state: string | undefined): boolean {
  return (
    state === 'Succeeded' || state === 'Failed' || state === 'Canceled' || state === 'Cancelled'
  )
}

export interface ExistingVersion {
  provisioningState?: string
  tags?: Record<string, string>
}

/**
 * What to do about the version number, decided before any write: this job's earlier attempt is
 * reused (or waited for, when still running) if it can still succeed and replaced when it ended
 * otherwise; another job of this run (a matrix leg) is never reused nor replaced (issue 14); anyone
 * else's version is only replaced with `overwrite: true`.
 */
export function decideVersionAction(
  existing: ExistingVersion | undefined,
  owner: Owner,
  overwrite: boolean,
  describe: { version: string; definition: string }
): VersionAction {
  if (existing === undefined) return 'create'
  const state = existing.provisioningState ?? 'unknown'
  const maker = madeBy(existing.tags, owner)
  if (maker === 'earlier-attempt') {
    if (state === 'Succeeded' || !isTerminal(state)) return 'reuse'
    return 'replace-failed'
  }
  if (maker === 'same-run') {
    throw new Error(
      `Input 'gallery-image-version': version '${describe.version}' of '${describe.definition}' was made by another job of this workflow run (run ${owner.runId}, ${state}; matrix legs share the run, and 'auto' gives them the same number): give each leg its own version, e.g. gallery-image-version: 1.0.\${{ strategy.job-index }}, or its own gallery-image.`
    )
  }
  if (overwrite) return 'overwrite'
  const maker2 = existing.tags?.['github-run-id']
  throw new Error(
    `Gallery image version '${describe.version}' of '${describe.definition}' already exists (${state}${
      maker2 ? `, made by run ${maker2}` : ', not made by this workflow run'
    }): set another gallery-image-version, or overwrite: true to replace it.`
  )
}

/** The storage profile for each kind of content (see the spec's GalleryImageVersion_Create examples). */
export function storageProfile(content: ImageContent): GalleryImageVersionStorageProfile {
  switch (content.kind) {
    case 'vm':
      return { source: { virtualMachineId: content.vmId } }
    case 'managed-image':
      return { source: { id: content.imageId } }
    case 'disks':
      return {
        osDiskImage: { source: { id: content.osDiskId } },
        ...(content.dataDiskIds.length > 0
          ? { dataDiskImages: content.dataDiskIds.map((id, lun) => ({ lun, source: { id } })) }
          : {})
      }
    case 'blobs':
      return {
        osDiskImage: {
          source: { storageAccountId: content.storageAccountId, uri: content.osBlobUri }
        },
        ...(content.dataBlobUris.length > 0
          ? {
              dataDiskImages: content.dataBlobUris.map((uri, lun) => ({
                lun,
                source: { storageAccountId: content.storageAccountId, uri }
              }))
            }
          : {})
      }
  }
}

export function versionBody(
  target: GalleryTarget,
  regions: TargetRegion[],
  location: string,
  content: ImageContent,
  tags: Record<string, string>
): GalleryImageVersion {
  return {
    location,
    tags,
    storageProfile: storageProfile(content),
    publishingProfile: {
      // Per-region values win; the profile-wide ones apply to every region that sets none.
      targetRegions: regions.map(r => ({
        name: r.name,
        regionalReplicaCount: r.replicas ?? target.replicaCount,
        storageAccountType: r.storageAccountType ?? target.storageAccountType
      })),
      replicaCount: target.replicaCount,
      storageAccountType: target.storageAccountType,
      excludeFromLatest: target.excludeFromLatest,
      ...(target.replicationMode === 'Shallow' ? { replicationMode: 'Shallow' } : {}),
      ...(target.endOfLifeDate ? { endOfLifeDate: new Date(target.endOfLifeDate) } : {})
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Replication

export interface ReplicationRow {
  region: string
  state: string
  progress?: number
  replicas?: number
  storageAccountType?: string
  details?: string
}

/**
 * One row per target region: the state Azure reports (its summary names regions by display name,
 * 'East US', so names are compared normalised) beside what was asked for.
 */
export function replicationRows(
  version: GalleryImageVersion,
  requested: TargetRegion[]
): ReplicationRow[] {
  const summary: RegionalReplicationStatus[] = version.replicationStatus?.summary ?? []
  const profile = version.publishingProfile
  const regions =
    profile?.targetRegions?.map(r => ({
      name: normaliseRegion(r.name),
      replicas: r.regionalReplicaCount ?? profile.replicaCount,
      storage: r.storageAccountType ?? profile.storageAccountType
    })) ??
    requested.map(r => ({ name: r.name, replicas: r.replicas, storage: r.storageAccountType }))
  const rows = regions.map(r => {
    const status = summary.find(s => s.region !== undefined && normaliseRegion(s.region) === r.name)
    return {
      region: r.name,
      state: status?.state ?? 'Unknown',
      progress: status?.progress,
      replicas: r.replicas,
      storageAccountType: r.storage,
      details: status?.details
    }
  })
  // Regions Azure reports that were not in the request still belong in the table.
  for (const s of summary) {
    if (s.region !== undefined && !rows.some(r => r.region === normaliseRegion(s.region ?? ''))) {
      rows.push({
        region: normaliseRegion(s.region),
        state: s.state ?? 'Unknown',
        progress: s.progress,
        replicas: undefined,
        storageAccountType: undefined,
        details: s.details
      })
    }
  }
  return rows
}

/** The heartbeat's detail: 'eastus Completed 100%, westus2 Replicating 40%'. */
export function replicationProgressLine(rows: ReplicationRow[]): string {
  return rows
    .map(r => `${r.region} ${r.state}${r.progress === undefined ? '' : ` ${r.progress}%`}`)
    .join(', ')
}

export function replicationTable(rows: ReplicationRow[]): string {
  const cell = (v: string | number | undefined): string =>
    v === undefined ? '-' : String(v).replace(/\|/g, '\\|').replace(/\r?\n/g, ' ')
  const lines = [
    '| Region | State | Progress | Replicas | Storage type |',
    '|---|---|---|---|---|',
    ...rows.map(
      r =>
        `| ${cell(r.region)} | ${cell(r.state)}${r.details ? ` (${cell(r.details)})` : ''} | ${
          r.progress === undefined ? '-' : `${r.progress}%`
        } | ${cell(r.replicas)} | ${cell(r.storageAccountType)} |`
    )
  ]
  return lines.join('\n')
}

// ---------------------------------------------------------------------------------------------
// Retention

export interface VersionListing {
  name: string
  id: string
  provisioningState?: string
}

/**
 * The versions retention deletes: all but the `keep` newest by version order. The new version is
 * never deleted (even if, oddly, it is not among the newest) and neither is any version whose state
 * can still change: someone else may be publishing or deleting it right now.
 */
export function selectVersionsToPrune(
  versions: VersionListing[],
  keep: number,
  keepVersion: string
): VersionListing[] {
  if (keep <= 0) return []
  const ordered = [...versions].sort((a, b) => compareVersions(b.name, a.name))
  return ordered
    .slice(keep)
    .filter(v => v.name !== keepVersion)
    .filter(v => isTerminal(v.provisioningState))
}
