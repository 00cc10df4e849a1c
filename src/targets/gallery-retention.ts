/**
 * `keep-versions`: after a successful publish, delete all but the N newest versions of the
 * definition. The image already exists by then, so nothing here may fail the run: problems are
 * warnings, and each version that could not be deleted is left for the next run.
 */
import type { RunContext } from '../run-context.js'
import type { GalleryTarget } from '../plan.js'
import { waitFor } from '../azure/operation.js'
import { selectVersionsToPrune, type VersionListing } from './gallery-model.js'
import { oneLine } from '../untrusted.js'
import { errorMessage } from '../error-message.js'

/** Deleting a replicated version takes minutes; a few at once, without provoking throttling. */
const PARALLEL_DELETES = 3

export interface PruneOptions {
  target: GalleryTarget
  /** The version this run published: never pruned, whatever its number. */
  keepVersion: string
  pollIntervalMs?: number
}

export async function pruneGalleryVersions(
  ctx: RunContext,
  options: PruneOptions
): Promise<string[]> {
  const { target, keepVersion } = options
  if (target.keepVersions <= 0) return []
  const { compute } = ctx.clients
  const rg = target.gallery.resourceGroup
  const gallery = target.gallery.name
  const def = target.imageDefinition

  let doomed: VersionListing[]
  try {
    const versions: VersionListing[] = []
    for await (const v of compute.galleryImageVersions.listByGalleryImage(rg, gallery, def, {
      abortSignal: ctx.signal
    })) {
      if (v.name !== undefined && v.id !== undefined) {
        versions.push({ name: v.name, id: v.id, provisioningState: v.provisioningState })
      }
    }
    doomed = selectVersionsToPrune(versions, target.keepVersions, keepVersion)
    const skipped = versions.length - target.keepVersions - doomed.length
    ctx.log.info(
      oneLine(
        `keep-versions: ${target.keepVersions}; '${def}' has ${versions.length} version(s), ${doomed.length} to delete${
          skipped > 0
            ? `, ${skipped} older one(s) kept because they are still being created, updated or deleted`
            : ''
        }.`
      )
    )
  } catch (error) {
    if (ctx.signal.aborted) throw error
    ctx.log.warning(
      oneLine(
        `Could not list the versions of '${def}' to apply keep-versions: ${errorMessage(error)}`
      )
    )
    return []
  }

  const deleted: string[] = []
  const deletedNames: string[] = []
  const queue = [...doomed]
  const worker = async (): Promise<void> => {
    for (let v = queue.shift(); v !== undefined; v = queue.shift()) {
      ctx.log.info(
        oneLine(`Deleting gallery image version ${v.name} (keep-versions: ${target.keepVersions})`)
      )
      try {
        await waitFor(
          `Deleting gallery image version ${v.name}`,
          compute.galleryImageVersions.delete(rg, gallery, def, v.name, {
            abortSignal: ctx.signal,
            ...(options.pollIntervalMs ? { updateIntervalInMs: options.pollIntervalMs } : {})
          }),
          { log: ctx.log, signal: ctx.signal }
        )
        deleted.push(v.id)
        deletedNames.push(v.name)
      } catch (error) {
        if (ctx.signal.aborted) throw error
        ctx.log.warning(
          oneLine(
            `Could not delete gallery image version ${v.name} (keep-versions): ${errorMessage(error)}`
          )
        )
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(PARALLEL_DELETES, doomed.length) }, worker))
  if (deleted.length > 0) {
    ctx.report.notes.push(
      `keep-versions deleted ${deleted.length} older version(s) of '${def}': ${deletedNames.join(', ')}.`
    )
  }
  return deleted
}
