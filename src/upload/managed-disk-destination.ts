/**
 * Direct upload to a managed disk: a disk with createOption Upload, a write SAS, Put Pages, then
 * the SAS revoked whatever happened. A re-run attempt of the same run resumes its own disk when the
 * source file is the same (size, mtime, first and last MiB), sending only the missing ranges.
 */
import type { Disk } from '@azure/arm-compute'
import { getOrUndefined } from '../azure/not-found.js'
import { waitFor } from '../azure/operation.js'
import { parseResourceId, resourceId } from '../azure/resource-id.js'
import { maskUrlSecrets } from '../secrets.js'
import type { Plan, UploadDiskSku } from '../plan.js'
import type { RunContext } from '../run-context.js'
import { ProvenanceTag } from '../constants.js'
import { madeBy } from '../tags.js'
import { createPageBlobClient, createPageBlobSink } from './page-blob-sink.js'
import {
  sameSourceIdentity,
  sourceIdentityFromMetadata,
  sourceIdentityToMetadata,
  UPLOAD_COMPLETE_TAG
} from './resume.js'
import { sendDisk, type UploadDisk } from './send-disk.js'
import { sealUploadDisk } from './upload-disk-release.js'
import { createRenewingSink, WRITE_ACCESS_SECONDS, type RenewingSink } from './write-access.js'
import { oneLine } from '../untrusted.js'
import { errorMessage } from '../error-message.js'

/** What both destinations name their temporary uploads after: the image's or the definition's name. */
export function uploadNameBase(plan: Pick<Plan, 'managedImage' | 'gallery'>): string {
  return plan.managedImage?.image.name ?? plan.gallery?.imageDefinition ?? 'image'
}

/** Name of a temporary upload disk: the image's name, the run and the LUN; at most 80 characters. */
export function uploadDiskName(base: string, runId: string, lun: 'os' | number): string {
  const suffix = `-upload-${runId}-${lun === 'os' ? 'os' : `lun${lun}`}`
  return `${base.slice(0, 80 - suffix.length)}${suffix}`
}

export interface ManagedDiskUpload {
  diskId: string
  bytesSent: number
}

export interface ManagedDiskUploadOptions {
  disk: UploadDisk
  location: string
  diskSku: UploadDiskSku
  /** This disk's share of the upload concurrency. */
  concurrency: number
}

export async function uploadToManagedDisk(
  ctx: RunContext,
  options: ManagedDiskUploadOptions
): Promise<ManagedDiskUpload> {
  const { plan, clients, log, signal } = ctx
  const disk: UploadTarget = {
    name: uploadDiskName(uploadNameBase(plan), plan.run.runId, options.disk.lun),
    rg: plan.resourceGroup
  }
  const { diskId, found, tags } = await findOrCreateUploadDisk(ctx, options, disk)
  if (found === 'finished') return { diskId, bytesSent: 0 }
  const resumable = found === 'resumable'
  // Short grants, renewed while the upload runs (write-access.ts), so a SAS left open by a killed
  // runner expires within the hour rather than after the whole time limit.
  const grant = (): Promise<string> => grantWrite(ctx, disk, diskId)
  const sink = createRenewingSink({
    firstSas: await grant(),
    grant,
    sinkFor: sas => createPageBlobSink(createPageBlobClient(sas))
  })

  const bytesSent = await sendOrSeal(ctx, options, { sink, name: disk.name, resumable })
  // The SAS is a live write credential and the disk is unusable until it is revoked.
  await waitFor(
    `Revoke write access to disk '${disk.name}'`,
    clients.compute.disks.revokeAccess(disk.rg, disk.name, { abortSignal: signal }),
    { log, signal }
  )
  ctx.ledger.update(diskId, { writeAccess: false })
  // Only now is the disk known to hold the whole file.
  await markUploadComplete(ctx, disk, tags)
  return { diskId, bytesSent }
}

/**
 * Sends the file into the disk through the renewing SAS (after what an earlier attempt wrote, when
 * resuming); on failure seals the disk for its cleanup and rethrows. Returns the bytes sent.
 */
async function sendOrSeal(
  ctx: RunContext,
  options: ManagedDiskUploadOptions,
  upload: { sink: RenewingSink; name: string; resumable: boolean }
): Promise<number> {
  const { log, signal } = ctx
  const { sink, name, resumable } = upload
  try {
    const alreadyWritten = resumable ? await sink.listWrittenRanges(signal) : undefined
    // No Content-MD5 on Put Pages to a managed disk's SAS: no known client sends one there
    // (AzCopy sends none and refuses --put-md5 for md-impexp accounts, which "have special
    // restrictions of which APIs operations they support"; Add-AzVhd computes a chunk MD5 but does
    // not send it), and no source shows Azure accepting it. TLS already protects the bytes.
    const result = await sendDisk(ctx, {
      disk: options.disk,
      target: { sink, alreadyWritten, md5: false },
      concurrency: options.concurrency
    })
    return result.bytesSent
  } catch (e) {
    // Azure refuses to revoke write access to a disk without a VHD footer (InvalidVhd) and the disk
    // then stays ActiveUpload: write the footer this upload would have written last, so the cleanup
    // (this step's, or the post step's after a cancellation) can revoke access and delete the disk.
    // The upload's error is the one reported; a failed seal is only a warning (the cleanup retries).
    try {
      await sealUploadDisk(sink.currentSas(), options.disk.uploadSize, options.disk.footer)
    } catch (sealError) {
      log.warning(
        oneLine(
          `Could not write the VHD footer of disk '${name}' after the upload stopped: ${errorMessage(sealError)}`
        )
      )
    }
    throw e
  }
}

/**
 * Says on the disk that it holds the whole file, for a re-run attempt whose earlier attempt was
 * killed after this point (resume.ts, UPLOAD_COMPLETE_TAG). A PATCH of `tags` replaces them all,
 * so the disk's own are sent with it. Without the tag the disk is still good for this run: a
 * failure is only a warning (a re-run attempt would send the file again).
 */
async function markUploadComplete(
  ctx: RunContext,
  disk: UploadTarget,
  tags: Record<string, string>
): Promise<void> {
  const { clients, log, signal } = ctx
  try {
    await waitFor(
      `Mark upload disk '${disk.name}' complete`,
      clients.compute.disks.update(
        disk.rg,
        disk.name,
        { tags: { ...tags, [UPLOAD_COMPLETE_TAG]: 'true' } },
        { abortSignal: signal }
      ),
      { log, signal }
    )
  } catch (e) {
    if (signal.aborted) throw e
    log.warning(oneLine(`Could not tag disk '${disk.name}' as complete: ${errorMessage(e)}`))
  }
}

/** The temporary disk's name and resource group. */
interface UploadTarget {
  name: string
  rg: string
}

/** What findOrCreateUploadDisk found: a disk to write into, or one that already holds the file. */
interface FoundUploadDisk {
  diskId: string
  found: 'created' | 'resumable' | 'finished'
  /** The disk's tags (a PATCH of tags replaces them all). */
  tags: Record<string, string>
}

/**
 * The disk an earlier attempt of this job left for this same file (resumed, or reused when it is
 * marked complete), or a new one; each is in the ledger before anything is written to it. An earlier
 * attempt's finished disk that is not provably this file's is deleted (it is this job's, by owner
 * key) and a new one made. Any other disk of that name is refused.
 */
async function findOrCreateUploadDisk(
  ctx: RunContext,
  options: ManagedDiskUploadOptions,
  target: UploadTarget
): Promise<FoundUploadDisk> {
  const { plan, clients, signal } = ctx
  const { name, rg } = target
  const named = resourceId(
    { subscriptionId: plan.subscriptionId, resourceGroup: rg, name },
    'Microsoft.Compute',
    'disks'
  )
  const existing: Disk | undefined = await getOrUndefined(
    clients.compute.disks.get(rg, name, { abortSignal: signal })
  )
  if (existing !== undefined) {
    const earlier = await settleExistingDisk(ctx, options, { target, named, existing })
    if (earlier !== undefined) return earlier
  }
  return createUploadDisk(ctx, options, { target, named })
}

/**
 * A disk of that name exists: resumed or reused when an earlier attempt of this job left it for
 * this same file, deleted (undefined) when that attempt's disk is not provably this file's,
 * refused otherwise.
 */
async function settleExistingDisk(
  ctx: RunContext,
  options: ManagedDiskUploadOptions,
  found: { target: UploadTarget; named: string; existing: Disk }
): Promise<FoundUploadDisk | undefined> {
  const { plan, log } = ctx
  const { disk } = options
  const { target, named, existing } = found
  const { name, rg } = target
  const diskId = existing.id ?? named
  const tags = existing.tags ?? {}
  const earlier = madeBy(tags, plan.owner) === 'earlier-attempt'
  const sameFile =
    existing.creationData?.uploadSizeBytes === disk.uploadSize &&
    sameSourceIdentity(sourceIdentityFromMetadata(tags), disk.identity)
  if (
    earlier &&
    sameFile &&
    (existing.diskState === 'ReadyToUpload' || existing.diskState === 'ActiveUpload')
  ) {
    ctx.ledger.add({
      kind: 'upload-disk',
      id: diskId,
      writeAccess: existing.diskState === 'ActiveUpload'
    })
    log.info(
      oneLine(
        `Resuming the upload into disk '${name}' left by an earlier attempt of this run (${existing.diskState})`
      )
    )
    return { diskId, found: 'resumable', tags }
  }
  if (!earlier || existing.diskState !== 'Unattached') {
    throw new Error(
      `Disk '${name}' already exists in resource group '${rg}' and is not an unfinished upload of this file by this run. Delete it and run again.`
    )
  }
  // An earlier attempt killed after its upload finished (e.g. while the image was being made from
  // it) left the disk Unattached. It is reused only when it is proven to hold this file: the
  // completion tag (set only after the revoke that followed a whole upload), the same size and
  // the same source identity. Otherwise it may be a failed upload sealed for its cleanup, or
  // another file's: it is this job's own (owner key), so it is deleted and the file sent again.
  ctx.ledger.add({ kind: 'upload-disk', id: diskId, writeAccess: false })
  if (sameFile && tags[UPLOAD_COMPLETE_TAG] === 'true') {
    log.info(
      oneLine(`Reusing disk '${name}': an earlier attempt of this run uploaded this file into it`)
    )
    return { diskId, found: 'finished', tags }
  }
  log.info(
    oneLine(
      `Deleting disk '${name}' left by an earlier attempt of this run: it is not known to hold this whole file`
    )
  )
  await deleteUploadDisk(ctx, diskId)
  return undefined
}

/** A new upload disk, in the ledger before it is created, tagged with the run and the file. */
async function createUploadDisk(
  ctx: RunContext,
  options: ManagedDiskUploadOptions,
  where: { target: UploadTarget; named: string }
): Promise<FoundUploadDisk> {
  const { plan, clients, log, signal } = ctx
  const { disk } = options
  const { target, named } = where
  const { name, rg } = target
  ctx.ledger.add({ kind: 'upload-disk', id: named, writeAccess: false })
  // Temporary disks always carry the run id: cleanup and resume recognise them by it.
  const tags = {
    ...plan.tags,
    [ProvenanceTag.RunId]: plan.run.runId,
    ...sourceIdentityToMetadata(disk.identity)
  }
  const created = await waitFor(
    `Create upload disk '${name}'`,
    clients.compute.disks.createOrUpdate(
      rg,
      name,
      {
        location: options.location,
        sku: { name: options.diskSku },
        tags,
        // The OS disk says what it boots: DiskProperties.supportedCapabilities.architecture in
        // the Disks API spec (New-AzDiskConfig -Architecture). Without it Azure takes the disk
        // as x64, and an image or gallery version made from it inherits that.
        ...(disk.lun === 'os' && plan.source.mode === 'upload'
          ? {
              osType: plan.source.osType,
              hyperVGeneration: plan.source.hyperVGeneration,
              supportedCapabilities: { architecture: plan.source.architecture }
            }
          : {}),
        creationData: { createOption: 'Upload', uploadSizeBytes: disk.uploadSize }
      },
      { abortSignal: signal }
    ),
    { log, signal }
  )
  return { diskId: created.id ?? named, found: 'created', tags }
}

/** A write SAS on the disk (masked at once); the ledger notes the open access for the cleanup. */
async function grantWrite(ctx: RunContext, target: UploadTarget, diskId: string): Promise<string> {
  const { clients, log, signal } = ctx
  const access = await waitFor(
    `Grant write access to disk '${target.name}'`,
    clients.compute.disks.grantAccess(
      target.rg,
      target.name,
      { access: 'Write', durationInSeconds: WRITE_ACCESS_SECONDS },
      { abortSignal: signal }
    ),
    { log, signal }
  )
  ctx.ledger.update(diskId, { writeAccess: true })
  const sas = access.accessSAS
  if (!sas) throw new Error(`Granting write access to disk '${target.name}' returned no SAS URL.`)
  maskUrlSecrets(sas, log.secret)
  return sas
}

export async function deleteUploadDisk(ctx: RunContext, diskId: string): Promise<void> {
  const { name } = parseResourceId(diskId)
  await waitFor(
    `Delete upload disk '${name}'`,
    ctx.clients.compute.disks.delete(ctx.plan.resourceGroup, name, { abortSignal: ctx.signal }),
    { log: ctx.log, signal: ctx.signal }
  )
  ctx.ledger.remove(diskId)
}
