/**
 * The gallery target's read-only preflight: does the gallery and definition exist, does the
 * definition fit the source, and what happens to the version number. Runs before anything changes
 * the VM or uploads a byte, so every conflict fails the run while it is still free to fail.
 */
import type { GalleryImage } from '@azure/arm-compute'
import { getOrUndefined } from '../azure/not-found.js'
import { normaliseRegion } from '../azure/region.js'
import type { GalleryTarget, TargetRegion } from '../plan.js'
import type { PreflightDeps } from '../run-context.js'
import type { SourceFacts } from '../source-facts.js'
import { madeBy } from '../tags.js'
import { withSourceRegion } from './target-regions.js'
import { compareVersions, isValidVersion } from './version-number.js'
import {
  decideVersionAction,
  definitionBody,
  definitionFacts,
  definitionMismatches,
  fullReplicationProblem,
  galleryIds,
  securityTypeFor,
  type SourceOrigin,
  type VersionAction
} from './gallery-model.js'
import { oneLine } from '../untrusted.js'
import { errorMessage } from '../error-message.js'

export interface GalleryPreflight {
  galleryExists: boolean
  definitionExists: boolean
  version: string
  versionId: string
  action: VersionAction
  /** Where the version is published: the source's region first, then the requested ones. */
  regions: TargetRegion[]
  /** The version's region: its source's (Azure makes a version only where its source is). */
  location: string
  /** The gallery's region (existing) or the one it will be created in (the source's). */
  galleryLocation: string
  galleryId: string
  definitionId: string
  /** The state of the version found under that number, when there is one. */
  existingState?: string
  /** The definition's security type as it is, or as it will be created. */
  securityType: string
}

/**
 * `origin` (the content's kind and the name the user knows it by) sharpens the checks and messages;
 * without it the source is treated as a VM capture.
 */
export interface GalleryCheckOptions {
  target: GalleryTarget
  source: SourceFacts
  /** What the version will be made from (see above); without it, messages say 'the source'. */
  origin?: SourceOrigin
  /** The definition as the caller already read it (`readDefinition`): not read again. */
  definition?: DefinitionRead
}

/** One read of the target definition: `image` is undefined when it does not exist. */
export interface DefinitionRead {
  image: GalleryImage | undefined
}

export async function checkGalleryTarget(
  deps: PreflightDeps,
  options: GalleryCheckOptions
): Promise<GalleryPreflight> {
  const { target, source, origin } = options
  const { compute } = deps.clients
  const rg = target.gallery.resourceGroup
  const galleryName = target.gallery.name
  const def = target.imageDefinition
  const opts = { abortSignal: deps.signal }
  const missingHint = `create it first, or set create-gallery-image: true (with publisher, offer and sku) to let the action create it`

  const gallery = await getOrUndefined(compute.galleries.get(rg, galleryName, opts))
  if (gallery === undefined && !target.createIfMissing) {
    throw new Error(
      `Azure Compute Gallery '${galleryName}' does not exist in resource group '${rg}': ${missingHint}.`
    )
  }
  const galleryLocation = normaliseRegion(gallery?.location ?? source.location)
  const { location, regions } = versionRegions(target, source)

  const image =
    gallery === undefined
      ? undefined
      : options.definition !== undefined
        ? options.definition.image
        : await getOrUndefined(compute.galleryImages.get(rg, galleryName, def, opts))
  if (image === undefined && !target.createIfMissing) {
    throw new Error(
      `Gallery image definition '${def}' does not exist in gallery '${galleryName}': ${missingHint}.`
    )
  }
  if (image === undefined && (!target.publisher || !target.offer || !target.sku)) {
    throw new Error(
      `Gallery image definition '${def}' does not exist and creating it needs publisher, offer and sku: set all three.`
    )
  }

  // A definition the action is about to create is checked like an existing one: what Azure would
  // refuse for it (e.g. a managed disk into a TrustedLaunchSupported definition) fails here.
  const facts = definitionFacts(image ?? definitionBody(target, source, source.location, {}))
  const securityType: string = image === undefined ? securityTypeFor(source) : facts.securityType
  const mismatches = definitionMismatches(def, facts, source, origin)
  if (mismatches.length > 0) throw new Error(mismatches.join('\n'))

  const version = image === undefined ? target.version.value : await versionNumber(deps, target)
  const ids = galleryIds(target, version)

  // The version only matters when the definition exists; otherwise it cannot exist either.
  const existing =
    image === undefined
      ? undefined
      : await getOrUndefined(compute.galleryImageVersions.get(rg, galleryName, def, version, opts))
  const action = decideVersionAction(existing, deps.owner, target.overwrite, {
    version,
    definition: def
  })

  return {
    galleryExists: gallery !== undefined,
    definitionExists: image !== undefined,
    version,
    // Built, not echoed: Azure's responses have shown other casings and paths (…/locations/…/Galleries/…),
    // and the ledger and the post step need an ID that addresses the version for sure.
    versionId: ids.versionId,
    action,
    regions,
    location,
    galleryLocation,
    galleryId: ids.galleryId,
    definitionId: ids.definitionId,
    existingState: existing?.provisioningState,
    securityType
  }
}

/**
 * The definition the version goes into, read once before the source is checked: a build chooses
 * its VM's security type by it (`existingDefinitionFacts`), and `checkGalleryTarget` takes the same
 * read instead of asking Azure again.
 */
export async function readDefinition(
  deps: Pick<PreflightDeps, 'clients' | 'signal'>,
  target: GalleryTarget
): Promise<DefinitionRead> {
  const image = await getOrUndefined(
    deps.clients.compute.galleryImages.get(
      target.gallery.resourceGroup,
      target.gallery.name,
      target.imageDefinition,
      { abortSignal: deps.signal }
    )
  )
  return { image }
}

/** The name and SecurityType of a definition that exists (what a build's security type follows). */
export function existingDefinitionFacts(
  target: GalleryTarget,
  read: DefinitionRead
): { name: string; securityType: string } | undefined {
  return read.image === undefined
    ? undefined
    : { name: target.imageDefinition, securityType: definitionFacts(read.image).securityType }
}

/**
 * The version is made in its source's region, wherever the gallery is ("Source … is not found.
 * Please check source exists, and is in the same region as gallery image version being created",
 * troubleshooting-shared-images.md), and Azure wants that region among the target regions.
 */
function versionRegions(
  target: GalleryTarget,
  source: SourceFacts
): { location: string; regions: TargetRegion[] } {
  const location = normaliseRegion(source.location)
  const regions = withSourceRegion(target.targetRegions, location)
  if (target.replicationMode === 'Shallow' && regions.length > 1) {
    throw new Error(
      `replication-mode 'Shallow' publishes to one region only, but this version needs ${regions
        .map(r => r.name)
        .join(
          ', '
        )} (the source's region is always included): use replication-mode 'Full', or leave out the other target-regions.`
    )
  }
  const tooBig = fullReplicationProblem(source.disks ?? [], target.replicationMode)
  if (tooBig !== undefined) throw new Error(tooBig)
  return { location, regions }
}

/**
 * The version number, for a definition that exists. An `auto` number comes from today's date: a
 * re-run attempt on a later day would compute another one and publish the image twice. The version
 * an earlier attempt of this run made is the one.
 */
async function versionNumber(deps: PreflightDeps, target: GalleryTarget): Promise<string> {
  const computed = target.version.value
  if (target.version.kind !== 'auto' || deps.run.runAttempt <= 1) return computed
  const own = await earlierAttemptVersion(deps, target).catch((error: unknown) => {
    if (deps.signal.aborted) throw error
    deps.log.warning(
      oneLine(
        `Could not list the versions of '${target.imageDefinition}' to find this run's earlier version: ${errorMessage(error)}`
      )
    )
    return undefined
  })
  if (own === undefined || own === computed) return computed
  deps.log.info(
    oneLine(
      `gallery-image-version auto: an earlier attempt of this run made version ${own}; using it instead of ${computed}.`
    )
  )
  return own
}

/** The newest version of the definition an earlier attempt of this job made (its owner key), if any. */
async function earlierAttemptVersion(
  deps: PreflightDeps,
  target: GalleryTarget
): Promise<string | undefined> {
  let newest: string | undefined
  for await (const v of deps.clients.compute.galleryImageVersions.listByGalleryImage(
    target.gallery.resourceGroup,
    target.gallery.name,
    target.imageDefinition,
    { abortSignal: deps.signal }
  )) {
    if (
      v.name !== undefined &&
      madeBy(v.tags, deps.owner) === 'earlier-attempt' &&
      isValidVersion(v.name)
    ) {
      if (newest === undefined || compareVersions(v.name, newest) > 0) newest = v.name
    }
  }
  return newest
}

/** The dry run's account of the gallery target: what exists, what will be created or replaced. */
export function describeGalleryPlan(target: GalleryTarget, pre: GalleryPreflight): string[] {
  const g = target.gallery
  const lines: string[] = []
  lines.push(
    pre.galleryExists
      ? `Gallery '${g.name}' (resource group ${g.resourceGroup}, ${pre.galleryLocation}) exists.`
      : `Gallery '${g.name}' will be created in resource group ${g.resourceGroup} (${pre.galleryLocation}).`
  )
  lines.push(
    pre.definitionExists
      ? `Image definition '${target.imageDefinition}' exists and fits the source (security type ${pre.securityType}).`
      : `Image definition '${target.imageDefinition}' will be created (${target.publisher}/${target.offer}/${target.sku}, security type ${pre.securityType}).`
  )
  const v = `Version ${pre.version}${target.version.kind === 'auto' ? ' (auto)' : ''}`
  switch (pre.action) {
    case 'create':
      lines.push(`${v} will be created: ${pre.versionId}`)
      break
    case 'reuse':
      lines.push(
        pre.existingState === 'Succeeded'
          ? `${v} was already created by an earlier attempt of this run: it is reused.`
          : `${v} is being created by an earlier attempt of this run (${pre.existingState}): it is waited for and reused, or replaced if it fails.`
      )
      break
    case 'replace-failed':
      lines.push(
        `${v} from an earlier attempt of this run is ${pre.existingState}: it will be deleted and created again.`
      )
      break
    case 'overwrite':
      lines.push(
        `${v} exists (${pre.existingState}) and will be deleted and created again (overwrite: true).`
      )
      break
  }
  const regions = pre.regions
    .map(
      r =>
        `${r.name}×${r.replicas ?? target.replicaCount} ${r.storageAccountType ?? target.storageAccountType}`
    )
    .join(', ')
  lines.push(
    `Replication (${target.replicationMode}) to ${regions}${target.excludeFromLatest ? ', excluded from latest' : ''}${
      target.endOfLifeDate ? `, end of life ${target.endOfLifeDate}` : ''
    }.`
  )
  if (target.keepVersions > 0) {
    lines.push(
      `After success, all but the ${target.keepVersions} newest versions of the definition are deleted.`
    )
  }
  return lines
}
