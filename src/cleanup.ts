/**
 * Finishing the job after a failure or cancellation: revoke disk write access, delete temporary
 * disks and blobs, delete an image or gallery version this run started that never succeeded. Only what
 * the ledger lists, re-read right before it is deleted, when the ID Azure answers with is the one
 * listed and the resource carries this job's owner key (a bare run-id match is another matrix leg's:
 * issue 14). A temporary blob is deleted only if it is still the blob read (If-Match on its ETag).
 * Compute offers no such condition for what cleanup deletes: Disks, Images and GalleryImageVersions
 * carry no `etag` and their DELETE takes no If-Match (Azure REST API specs as generated into
 * @azure/arm-compute 25.1.1: `*DeleteOptionalParams`; only VirtualMachine/VMSS PUT and PATCH take
 * If-Match), so for those the re-read right before the DELETE is the guard.
 * Each failure is a warning.
 */
import type { AzureClients } from './azure/clients.js'
import { buildDeletionOrder, deleteBuildResource } from './build/build-cleanup.js'
import { getOrUndefined } from './azure/not-found.js'
import { parseResourceId, sameResourceId } from './azure/resource-id.js'
import { waitFor } from './azure/operation.js'
import { entryId, type Ledger, type LedgerEntry } from './ledger.js'
import type { Logger } from './log.js'
import { isOwnedBy } from './tags.js'
import { deleteUploadBlob } from './upload/storage-account-destination.js'
import { revokeUploadAccess } from './upload/upload-disk-release.js'
import { oneLine } from './untrusted.js'
import { errorMessage } from './error-message.js'
import { isRetryLater } from './azure/errors.js'
import { sleep } from './sleep.js'

export interface CleanupDeps {
  clients: AzureClients
  ledger: Ledger
  /** This job's owner key (tags, blob metadata). */
  ownerKey: string
  log: Logger
  signal: AbortSignal
}

type EntryOf<K extends LedgerEntry['kind']> = Extract<LedgerEntry, { kind: K }>

/** A temporary upload disk: write access revoked first (it would stay billed), then deleted. */
async function cleanUploadDisk(deps: CleanupDeps, entry: EntryOf<'upload-disk'>): Promise<string> {
  const { clients, log, signal, ownerKey } = deps
  const opts = { log, signal }
  const { resourceGroup: rg, name } = parseResourceId(entry.id)
  const disk = await getOrUndefined(clients.compute.disks.get(rg, name, { abortSignal: signal }))
  if (!disk) return `disk '${name}' is already gone`
  if (!sameResourceId(disk.id ?? '', entry.id) || !isOwnedBy(disk.tags, ownerKey))
    return `disk '${name}' is not this job's (owner key): left alone`
  // A failed revoke must not keep the disk: it would stay ActiveUpload, billed. Delete it anyway
  // and report the revoke's error, the first one, if the delete fails too.
  let revokeError: { message: string; cause: unknown } | undefined
  if (entry.writeAccess || disk.diskState === 'ActiveUpload' || disk.diskState === 'ActiveSAS') {
    try {
      await revokeUploadAccess(deps, rg, { ...disk, name })
      log.info(oneLine(`Revoked write access to disk '${name}'`))
    } catch (e) {
      revokeError = { message: errorMessage(e), cause: e }
      log.warning(
        oneLine(
          `Revoking access to disk '${name}' failed: ${revokeError.message}; deleting it anyway`
        )
      )
    }
  }
  try {
    await waitFor(
      `Delete disk '${name}'`,
      clients.compute.disks.delete(rg, name, { abortSignal: signal }),
      opts
    )
  } catch (e) {
    if (!revokeError) throw e
    throw new Error(
      `${revokeError.message} (then deleting the disk failed too: ${errorMessage(e)})`,
      { cause: revokeError.cause }
    )
  }
  return `deleted temporary disk '${name}'`
}

/** A managed image this run started: deleted unless it succeeded. */
async function cleanManagedImage(
  deps: CleanupDeps,
  entry: EntryOf<'managed-image'>
): Promise<string> {
  const { clients, log, signal, ownerKey } = deps
  const opts = { log, signal }
  const { resourceGroup: rg, name } = parseResourceId(entry.id)
  const image = await getOrUndefined(clients.compute.images.get(rg, name, { abortSignal: signal }))
  if (!image) return `managed image '${name}' was never created`
  if (!sameResourceId(image.id ?? '', entry.id) || !isOwnedBy(image.tags, ownerKey))
    return `managed image '${name}' is not this job's (owner key): left alone`
  if (image.provisioningState === 'Succeeded') return `managed image '${name}' succeeded: kept`
  await waitFor(
    `Delete image '${name}'`,
    clients.compute.images.delete(rg, name, { abortSignal: signal }),
    opts
  )
  return `deleted unfinished managed image '${name}'`
}

/** A gallery image version this run started: deleted unless it succeeded. */
async function cleanGalleryVersion(
  deps: CleanupDeps,
  entry: EntryOf<'gallery-image-version'>
): Promise<string> {
  const { clients, log, signal, ownerKey } = deps
  const opts = { log, signal }
  const { resourceGroup: rg, names } = parseResourceId(entry.id)
  const [gallery, definition, version] = names
  const v = await getOrUndefined(
    clients.compute.galleryImageVersions.get(rg, gallery, definition, version, {
      abortSignal: signal
    })
  )
  if (!v) return `gallery image version ${version} was never created`
  if (!sameResourceId(v.id ?? '', entry.id) || !isOwnedBy(v.tags, ownerKey))
    return `gallery image version ${version} is not this job's (owner key): left alone`
  if (v.provisioningState === 'Succeeded') return `gallery image version ${version} succeeded: kept`
  await waitFor(
    `Delete gallery image version ${version}`,
    clients.compute.galleryImageVersions.delete(rg, gallery, definition, version, {
      abortSignal: signal
    }),
    opts
  )
  return `deleted unfinished gallery image version ${version}`
}

async function cleanEntry(deps: CleanupDeps, entry: LedgerEntry): Promise<string> {
  switch (entry.kind) {
    case 'upload-disk':
      return cleanUploadDisk(deps, entry)
    case 'upload-blob': {
      return deleteUploadBlob(deps, {
        url: entry.url,
        storageAccountId: entry.storageAccountId,
        ownerKey: deps.ownerKey
      })
    }
    case 'managed-image':
      return cleanManagedImage(deps, entry)
    case 'gallery-image-version':
      return cleanGalleryVersion(deps, entry)
    case 'build-resource':
      return deleteBuildResource(deps, entry.id)
  }
}

/**
 * Pauses before the second and third pass over deletions that failed with a retry-later error: the
 * post step is the last chance to delete what a cancelled run left, and a delete whose operation
 * ended Failed ("Please retry later") would otherwise stay billed (chaos seed 839575928).
 */
export const CLEANUP_RETRY_PAUSES_MS = [5_000, 15_000]

/**
 * Deletes what the ledger lists (or the entries `only` picks), each leaving the ledger once gone;
 * a deletion that ends with a retry-later error is tried twice more (CLEANUP_RETRY_PAUSES_MS).
 */
export async function cleanUp(
  deps: CleanupDeps,
  only: (entry: LedgerEntry) => boolean = () => true
): Promise<{ done: string[]; failed: string[] }> {
  const done: string[] = []
  const failed: string[] = []
  // Versions and images first: they may reference the temporary disks. A build's resources last,
  // the VM before the network it uses.
  const order = (e: LedgerEntry): number =>
    e.kind === 'gallery-image-version' || e.kind === 'managed-image'
      ? 0
      : e.kind === 'build-resource'
        ? 2 + buildDeletionOrder(e.id)
        : 1
  let pending = deps.ledger
    .entries()
    .filter(only)
    .sort((a, b) => order(a) - order(b))
  for (let pass = 0; pending.length > 0; pass++) {
    const again: Array<{ entry: LedgerEntry; message: string }> = []
    const lastPass = pass >= CLEANUP_RETRY_PAUSES_MS.length
    for (const entry of pending) {
      try {
        const what = await cleanEntry(deps, entry)
        deps.log.info(oneLine(`Cleanup: ${what}`))
        done.push(what)
        deps.ledger.remove(entryId(entry))
      } catch (e) {
        const message = `Cleanup of ${entryId(entry)} failed: ${errorMessage(e)}`
        if (!lastPass && !deps.signal.aborted && isRetryLater(e)) {
          deps.log.info(oneLine(`${message} (tried again shortly)`))
          again.push({ entry, message })
        } else {
          deps.log.warning(oneLine(message))
          failed.push(message)
        }
      }
    }
    pending = again.map(a => a.entry)
    if (pending.length === 0) break
    try {
      await sleep(CLEANUP_RETRY_PAUSES_MS[pass], deps.signal)
    } catch {
      // Out of time: what was to be tried again is reported as failed.
      for (const a of again) {
        deps.log.warning(oneLine(a.message))
        failed.push(a.message)
      }
      break
    }
  }
  return { done, failed }
}
