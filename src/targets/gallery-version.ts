/**
 * Publishing the gallery image version: create the gallery and definition when the preflight found
 * them missing, clear the way for the version number as the preflight decided, PUT the version and
 * follow its replication region by region until Azure says it is done.
 */
import type { GalleryImageVersion } from '@azure/arm-compute'
import { Outputs } from '../constants.js'
import { getOrUndefined } from '../azure/not-found.js'
import { waitFor, waitUntil } from '../azure/operation.js'
import { normaliseRegion } from '../azure/region.js'
import { sleep } from '../sleep.js'
import type { RunContext } from '../run-context.js'
import { isOwnedBy } from '../tags.js'
import type { GalleryTarget } from '../plan.js'
import type { ImageContent, SourceFacts } from '../source-facts.js'
import type { GalleryPreflight } from './gallery-preflight.js'
import {
  definitionBody,
  isTerminal,
  lateMismatch,
  replicationProgressLine,
  replicationRows,
  replicationTable,
  versionBody,
  type ReplicationRow
} from './gallery-model.js'
import { oneLine } from '../untrusted.js'

export interface PublishOptions {
  /** How often replication progress is read (the heartbeat logs it). */
  progressIntervalMs?: number
  /** LRO poll interval; by default the SDK's, which honours Retry-After. */
  pollIntervalMs?: number
  heartbeatMs?: number
}

const PROGRESS_INTERVAL_MS = 15_000
const EXPAND = { expand: 'ReplicationStatus' }

export async function publishGalleryVersion(
  ctx: RunContext,
  target: GalleryTarget,
  pre: GalleryPreflight,
  /** Undefined when main skipped capture/upload because an earlier attempt's version was found. */
  content: ImageContent | undefined,
  source: SourceFacts,
  options: PublishOptions = {}
): Promise<{ id: string; version: string; location: string }> {
  const { compute } = ctx.clients
  const { log, signal } = ctx
  const rg = target.gallery.resourceGroup
  const gallery = target.gallery.name
  const def = target.imageDefinition
  const version = pre.version
  const tags = ctx.plan.tags
  const lro = {
    abortSignal: signal,
    ...(options.pollIntervalMs ? { updateIntervalInMs: options.pollIntervalMs } : {})
  }
  const wait = { log, signal, heartbeatMs: options.heartbeatMs }

  if (!pre.galleryExists) {
    log.info(oneLine(`Creating gallery '${gallery}' in ${pre.galleryLocation}`))
    const created = await waitFor(
      `Creating gallery '${gallery}'`,
      compute.galleries.createOrUpdate(rg, gallery, { location: pre.galleryLocation, tags }, lro),
      wait
    )
    ctx.report.created.push({
      kind: 'Gallery',
      id: created.id ?? pre.galleryId,
      location: pre.galleryLocation
    })
  }
  if (!pre.definitionExists) {
    log.info(
      oneLine(
        `Creating image definition '${def}' (${target.publisher}/${target.offer}/${target.sku})`
      )
    )
    const created = await waitFor(
      `Creating image definition '${def}'`,
      compute.galleryImages.createOrUpdate(
        rg,
        gallery,
        def,
        definitionBody(target, source, pre.galleryLocation, tags),
        lro
      ),
      wait
    )
    ctx.report.created.push({
      kind: 'Gallery image definition',
      id: created.id ?? pre.definitionId,
      location: pre.galleryLocation
    })
  }

  const getVersion = (): Promise<GalleryImageVersion> =>
    compute.galleryImageVersions.get(rg, gallery, def, version, { ...EXPAND, abortSignal: signal })

  const deleteVersion = async (why: string): Promise<void> => {
    log.info(oneLine(`Deleting gallery image version ${version}: ${why}`))
    await waitFor(
      `Deleting gallery image version ${version}`,
      compute.galleryImageVersions.delete(rg, gallery, def, version, lro),
      wait
    )
  }

  const finish = (
    found: GalleryImageVersion,
    reused: boolean
  ): { id: string; version: string; location: string } => {
    const id = found.id ?? pre.versionId
    const location = found.location ? normaliseRegion(found.location) : pre.location
    const rows = replicationRows(found, pre.regions)
    ctx.report.sections.push({
      title: `Gallery image version ${version} replication`,
      markdown: replicationTable(rows)
    })
    if (!reused) ctx.report.created.push({ kind: 'Gallery image version', id, location })
    ctx.report.outputs[Outputs.GalleryImageVersionId] = id
    ctx.report.outputs[Outputs.GalleryImageVersion] = version
    // The gallery version is the primary image whenever there is one.
    ctx.report.outputs[Outputs.ImageId] = id
    return { id, version, location }
  }

  let mustDelete: string | undefined
  if (pre.action === 'reuse') {
    // An earlier attempt's version, possibly still replicating: wait for it to settle first.
    const settled = await waitUntil(
      `Gallery image version ${version} from an earlier attempt`,
      async () => {
        const found = await getOrUndefined(getVersion())
        const state = found?.provisioningState ?? 'gone'
        return { done: found === undefined || isTerminal(state) ? { found } : undefined, state }
      },
      {
        ...wait,
        intervalMs: options.progressIntervalMs ?? PROGRESS_INTERVAL_MS,
        limitMs: Number.POSITIVE_INFINITY,
        onLimit: () => new Error('unreachable')
      }
    )
    if (settled.found?.provisioningState === 'Succeeded') {
      log.info(
        oneLine(
          `Reusing gallery image version ${version}, created by an earlier attempt of this run.`
        )
      )
      return finish(settled.found, true)
    }
    if (settled.found !== undefined)
      mustDelete = `the earlier attempt's version ended ${settled.found.provisioningState}`
  } else if (pre.action === 'replace-failed') {
    mustDelete = `the earlier attempt's version ended ${pre.existingState ?? 'unsuccessfully'}`
  } else if (pre.action === 'overwrite') {
    mustDelete = 'overwrite: true'
  }
  if (mustDelete !== undefined) await deleteVersion(mustDelete)
  // main skips capture/upload only for a version found Succeeded; should it vanish since, say so.
  if (content === undefined) {
    throw new Error(
      `Gallery image version ${version} from an earlier attempt of this run is gone, and this attempt has no captured or uploaded content to publish it again: re-run the workflow.`
    )
  }

  // Recorded before the PUT: if the run dies from here on, the post step removes the half-made version.
  ctx.ledger.add({ kind: 'gallery-image-version', id: pre.versionId })
  const body = versionBody(target, pre.regions, pre.location, content, tags)
  log.info(
    oneLine(
      `Creating gallery image version ${version} from ${describeContent(content)}, replicating to ${pre.regions
        .map(r => r.name)
        .join(', ')}`
    )
  )

  // Replication progress is read beside the LRO, so the heartbeat can say where each region stands.
  let rows: ReplicationRow[] = []
  const progress = new AbortController()
  const stopProgress = (): void => progress.abort()
  signal.addEventListener('abort', stopProgress, { once: true })
  const watcher = (async () => {
    let last = ''
    while (!progress.signal.aborted) {
      try {
        await sleep(options.progressIntervalMs ?? PROGRESS_INTERVAL_MS, progress.signal)
        const found = await compute.galleryImageVersions.get(rg, gallery, def, version, {
          ...EXPAND,
          abortSignal: progress.signal
        })
        rows = replicationRows(found, pre.regions)
        const line = replicationProgressLine(rows)
        if (line !== last) log.debug(oneLine(`Replication: ${line}`))
        last = line
      } catch (error) {
        // The version may not be readable yet, or the watch was stopped: neither is the run's concern.
        if (!progress.signal.aborted)
          log.debug(oneLine(`Reading replication status: ${String(error)}`))
      }
    }
  })()

  try {
    await waitFor(
      `Creating gallery image version ${version}`,
      compute.galleryImageVersions.createOrUpdate(rg, gallery, def, version, body, lro),
      { ...wait, detail: () => (rows.length > 0 ? replicationProgressLine(rows) : undefined) }
    )
  } catch (error) {
    const detail = await failureDetail(getVersion)
    const message = error instanceof Error ? error.message : String(error)
    // A mismatch the preflight could not see (Azure checks some only while creating): say which.
    const mismatch = lateMismatch(def, message)
    throw new Error(
      `${mismatch === undefined ? '' : `${mismatch} `}Creating gallery image version ${version} of '${def}' failed: ${message}${detail}`,
      { cause: error }
    )
  } finally {
    stopProgress()
    signal.removeEventListener('abort', stopProgress)
    await watcher
  }

  // The ID and the state come from a fresh GET, not from the PUT's echo.
  const done = await getVersion()
  // Another matrix leg writing the same number at the same moment leaves its owner key on the
  // version: then it is not this job's to output (issue 14).
  if (!isOwnedBy(done.tags, ctx.plan.owner.key)) {
    throw new Error(
      `Input 'gallery-image-version': version ${version} of '${def}' was rewritten by another job of this workflow run while this one created it: give each matrix leg its own version (e.g. with \${{ strategy.job-index }}).`
    )
  }
  if (done.provisioningState !== 'Succeeded') {
    throw new Error(
      `Gallery image version ${version} of '${def}' ended ${done.provisioningState ?? 'in an unknown state'}: ${replicationProgressLine(
        replicationRows(done, pre.regions)
      )}`
    )
  }
  ctx.ledger.remove(pre.versionId)
  log.info(
    oneLine(
      `Gallery image version ${version} succeeded: ${replicationProgressLine(replicationRows(done, pre.regions))}`
    )
  )
  return finish(done, false)
}

/** After a failure, the regions' states say more than the LRO's error alone. */
async function failureDetail(get: () => Promise<GalleryImageVersion>): Promise<string> {
  try {
    const found = await get()
    const rows = replicationRows(found, [])
    return rows.length > 0 ? ` (replication: ${replicationProgressLine(rows)})` : ''
  } catch {
    return ''
  }
}

function describeContent(content: ImageContent): string {
  switch (content.kind) {
    case 'vm':
      return `VM ${content.vmId}`
    case 'managed-image':
      return `managed image ${content.imageId}`
    case 'disks':
      return `disk ${content.osDiskId}${content.dataDiskIds.length > 0 ? ` and ${content.dataDiskIds.length} data disk(s)` : ''}`
    case 'blobs':
      return `blob ${content.osBlobUri}${content.dataBlobUris.length > 0 ? ` and ${content.dataBlobUris.length} data blob(s)` : ''}`
  }
}
