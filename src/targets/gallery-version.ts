/**
 * Publishing the gallery image version: create the gallery and definition when the preflight found
 * them missing, clear the way for the version number as the preflight decided, PUT the version and
 * follow its replication region by region until Azure says it is done.
 */
import type { GalleryImageVersion } from '@azure/arm-compute'
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
import { errorMessage } from '../error-message.js'

export interface PublishVersionOptions {
  target: GalleryTarget
  pre: GalleryPreflight
  /** Undefined when execute skipped capture/upload because an earlier attempt's version was found. */
  content: ImageContent | undefined
  source: SourceFacts
  /** How often replication progress is read (the heartbeat logs it). */
  progressIntervalMs?: number
  /** LRO poll interval; by default the SDK's, which honours Retry-After. */
  pollIntervalMs?: number
  heartbeatMs?: number
}

export interface PublishedVersion {
  id: string
  version: string
  location: string
}

const PROGRESS_INTERVAL_MS = 15_000
const EXPAND = { expand: 'ReplicationStatus' }

/** What every part of publishing shares: where the version goes and how to wait for Azure. */
interface VersionCalls {
  ctx: RunContext
  options: PublishVersionOptions
  rg: string
  gallery: string
  def: string
  version: string
  lro: { abortSignal: AbortSignal; updateIntervalInMs?: number }
  wait: { log: RunContext['log']; signal: AbortSignal; heartbeatMs?: number }
  get(): Promise<GalleryImageVersion>
}

export async function publishGalleryVersion(
  ctx: RunContext,
  options: PublishVersionOptions
): Promise<PublishedVersion> {
  const v = versionCalls(ctx, options)
  await createMissingParents(v)
  const earlier = await settleEarlierAttempt(v)
  if (earlier.reuse) return finish(v, earlier.reuse, true)
  if (earlier.mustDelete !== undefined) await deleteVersion(v, earlier.mustDelete)
  // execute skips capture/upload only for a version found Succeeded; should it vanish since, say so.
  if (options.content === undefined) {
    throw new Error(
      `Gallery image version ${v.version} from an earlier attempt of this run is gone, and this attempt has no captured or uploaded content to publish it again: re-run the workflow.`
    )
  }
  // Recorded before the PUT: if the run dies from here on, the post step removes the half-made version.
  ctx.ledger.add({ kind: 'gallery-image-version', id: options.pre.versionId })
  await createVersion(v, options.content)
  const done = await checkCreated(v)
  ctx.ledger.remove(options.pre.versionId)
  return finish(v, done, false)
}

function versionCalls(ctx: RunContext, options: PublishVersionOptions): VersionCalls {
  const { target, pre } = options
  const rg = target.gallery.resourceGroup
  const gallery = target.gallery.name
  const def = target.imageDefinition
  const version = pre.version
  const { signal } = ctx
  return {
    ctx,
    options,
    rg,
    gallery,
    def,
    version,
    lro: {
      abortSignal: signal,
      ...(options.pollIntervalMs ? { updateIntervalInMs: options.pollIntervalMs } : {})
    },
    wait: { log: ctx.log, signal, heartbeatMs: options.heartbeatMs },
    get: () =>
      ctx.clients.compute.galleryImageVersions.get(rg, gallery, def, version, {
        ...EXPAND,
        abortSignal: signal
      })
  }
}

/** The gallery and the definition, when the preflight found them missing. */
async function createMissingParents(v: VersionCalls): Promise<void> {
  const { ctx, rg, gallery, def, lro, wait } = v
  const { target, pre, source } = v.options
  const { compute } = ctx.clients
  const tags = ctx.plan.tags
  if (!pre.galleryExists) {
    ctx.log.info(oneLine(`Creating gallery '${gallery}' in ${pre.galleryLocation}`))
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
    ctx.log.info(
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
}

/**
 * What the preflight's decision means now: an earlier attempt's version that succeeded is reused
 * (after waiting for it to settle, as it may still be replicating); one that failed, or one to
 * overwrite, must be deleted first.
 */
async function settleEarlierAttempt(
  v: VersionCalls
): Promise<{ reuse?: GalleryImageVersion; mustDelete?: string }> {
  const { pre } = v.options
  if (pre.action === 'replace-failed')
    return {
      mustDelete: `the earlier attempt's version ended ${pre.existingState ?? 'unsuccessfully'}`
    }
  if (pre.action === 'overwrite') return { mustDelete: 'overwrite: true' }
  if (pre.action !== 'reuse') return {}
  const settled = await waitUntil(
    `Gallery image version ${v.version} from an earlier attempt`,
    async () => {
      const found = await getOrUndefined(v.get())
      const state = found?.provisioningState ?? 'gone'
      return { done: found === undefined || isTerminal(state) ? { found } : undefined, state }
    },
    {
      ...v.wait,
      intervalMs: v.options.progressIntervalMs ?? PROGRESS_INTERVAL_MS,
      limitMs: Number.POSITIVE_INFINITY,
      onLimit: () => new Error('unreachable')
    }
  )
  if (settled.found?.provisioningState === 'Succeeded') {
    v.ctx.log.info(
      oneLine(
        `Reusing gallery image version ${v.version}, created by an earlier attempt of this run.`
      )
    )
    return { reuse: settled.found }
  }
  if (settled.found !== undefined)
    return { mustDelete: `the earlier attempt's version ended ${settled.found.provisioningState}` }
  return {}
}

async function deleteVersion(v: VersionCalls, why: string): Promise<void> {
  v.ctx.log.info(oneLine(`Deleting gallery image version ${v.version}: ${why}`))
  await waitFor(
    `Deleting gallery image version ${v.version}`,
    v.ctx.clients.compute.galleryImageVersions.delete(v.rg, v.gallery, v.def, v.version, v.lro),
    v.wait
  )
}

/** The PUT and its long-running operation, with replication progress read beside it. */
async function createVersion(v: VersionCalls, content: ImageContent): Promise<void> {
  const { ctx, rg, gallery, def, version } = v
  const { target, pre } = v.options
  const body = versionBody(target, pre.regions, pre.location, content, ctx.plan.tags)
  ctx.log.info(
    oneLine(
      `Creating gallery image version ${version} from ${describeContent(content)}, replicating to ${pre.regions
        .map(r => r.name)
        .join(', ')}`
    )
  )
  const replication = watchReplication(v)
  try {
    await waitFor(
      `Creating gallery image version ${version}`,
      ctx.clients.compute.galleryImageVersions.createOrUpdate(
        rg,
        gallery,
        def,
        version,
        body,
        v.lro
      ),
      { ...v.wait, detail: replication.detail }
    )
  } catch (error) {
    const detail = await failureDetail(v.get)
    const message = errorMessage(error)
    // A mismatch the preflight could not see (Azure checks some only while creating): say which.
    const mismatch = lateMismatch(def, message)
    throw new Error(
      `${mismatch === undefined ? '' : `${mismatch} `}Creating gallery image version ${version} of '${def}' failed: ${message}${detail}`,
      { cause: error }
    )
  } finally {
    await replication.stop()
  }
}

/**
 * Reads the version's replication status every progress interval, so the LRO's heartbeat can say
 * where each region stands. Stops with the run's signal or with `stop()`.
 */
function watchReplication(v: VersionCalls): {
  detail: () => string | undefined
  stop: () => Promise<void>
} {
  const { ctx, rg, gallery, def, version } = v
  let rows: ReplicationRow[] = []
  const progress = new AbortController()
  const stopProgress = (): void => progress.abort()
  ctx.signal.addEventListener('abort', stopProgress, { once: true })
  const watcher = (async () => {
    let last = ''
    while (!progress.signal.aborted) {
      try {
        await sleep(v.options.progressIntervalMs ?? PROGRESS_INTERVAL_MS, progress.signal)
        const found = await ctx.clients.compute.galleryImageVersions.get(
          rg,
          gallery,
          def,
          version,
          {
            ...EXPAND,
            abortSignal: progress.signal
          }
        )
        rows = replicationRows(found, v.options.pre.regions)
        const line = replicationProgressLine(rows)
        if (line !== last) ctx.log.debug(oneLine(`Replication: ${line}`))
        last = line
      } catch (error) {
        // The version may not be readable yet, or the watch was stopped: neither is the run's concern.
        if (!progress.signal.aborted)
          ctx.log.debug(oneLine(`Reading replication status: ${String(error)}`))
      }
    }
  })()
  return {
    detail: () => (rows.length > 0 ? replicationProgressLine(rows) : undefined),
    stop: async () => {
      stopProgress()
      ctx.signal.removeEventListener('abort', stopProgress)
      await watcher
    }
  }
}

/** The ID and the state come from a fresh GET, not from the PUT's echo. */
async function checkCreated(v: VersionCalls): Promise<GalleryImageVersion> {
  const { version, def, ctx } = v
  const { pre } = v.options
  const done = await v.get()
  // Another matrix leg writing the same number at the same moment leaves its owner key on the
  // version: then it is not this job's to output (issue 14).
  if (!isOwnedBy(done.tags, ctx.plan.owner.key)) {
    throw new Error(
      `Input 'gallery-image-version': version ${version} of '${def}' was rewritten by another job of this workflow run while this one created it: give each matrix leg its own version (e.g. with \${{ strategy.job-index }}).`
    )
  }
  const progress = replicationProgressLine(replicationRows(done, pre.regions))
  if (done.provisioningState !== 'Succeeded') {
    throw new Error(
      `Gallery image version ${version} of '${def}' ended ${done.provisioningState ?? 'in an unknown state'}: ${progress}`
    )
  }
  ctx.log.info(oneLine(`Gallery image version ${version} succeeded: ${progress}`))
  return done
}

/** The summary's replication table and, for a version made now, its place in "created". */
function finish(v: VersionCalls, found: GalleryImageVersion, reused: boolean): PublishedVersion {
  const { pre } = v.options
  const id = found.id ?? pre.versionId
  const location = found.location ? normaliseRegion(found.location) : pre.location
  v.ctx.report.sections.push({
    title: `Gallery image version ${v.version} replication`,
    markdown: replicationTable(replicationRows(found, pre.regions))
  })
  if (!reused) v.ctx.report.created.push({ kind: 'Gallery image version', id, location })
  return { id, version: v.version, location }
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
