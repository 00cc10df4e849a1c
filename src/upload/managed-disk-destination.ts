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
import type { UploadDiskSku } from '../plan.js'
import type { RunContext } from '../run-context.js'
import { ProvenanceTag } from '../constants.js'
import { isFromRun } from '../tags.js'
import { createPageBlobClient, createPageBlobSink } from './page-blob-sink.js'
import {
  sameSourceIdentity,
  sourceIdentityFromMetadata,
  sourceIdentityToMetadata
} from './resume.js'
import { sendDisk, type UploadDisk } from './upload-image.js'
import { oneLine } from '../untrusted.js'

/** Name of a temporary upload disk: the image's name, the run and the LUN; at most 80 characters. */
export function uploadDiskName(base: string, runId: string, lun: 'os' | number): string {
  const suffix = `-upload-${runId}-${lun === 'os' ? 'os' : `lun${lun}`}`
  return `${base.slice(0, 80 - suffix.length)}${suffix}`
}

/**
 * The write SAS must outlive the upload; the run cannot outlive timeout-minutes, so that (plus a
 * margin for the post step) is long enough and no longer than needed.
 */
export function writeAccessSeconds(timeoutMinutes: number): number {
  return timeoutMinutes * 60 + 15 * 60
}

export interface ManagedDiskUpload {
  diskId: string
  bytesSent: number
}

export async function uploadToManagedDisk(
  ctx: RunContext,
  disk: UploadDisk,
  options: { location: string; diskSku: UploadDiskSku; concurrency: number }
): Promise<ManagedDiskUpload> {
  const { plan, clients, log, signal } = ctx
  const base = plan.managedImage?.image.name ?? plan.gallery?.imageDefinition ?? 'image'
  const name = uploadDiskName(base, plan.run.runId, disk.lun)
  const rg = plan.resourceGroup
  const identityTags = sourceIdentityToMetadata(disk.identity)

  const existing: Disk | undefined = await getOrUndefined(
    clients.compute.disks.get(rg, name, { abortSignal: signal })
  )
  const resumable =
    existing !== undefined &&
    isFromRun(existing.tags, plan.run.runId) &&
    (existing.diskState === 'ReadyToUpload' || existing.diskState === 'ActiveUpload') &&
    existing.creationData?.uploadSizeBytes === disk.uploadSize &&
    sameSourceIdentity(sourceIdentityFromMetadata(existing.tags), disk.identity)
  let diskId: string
  if (existing !== undefined && !resumable) {
    throw new Error(
      `Disk '${name}' already exists in resource group '${rg}' and is not an unfinished upload of this file by this run. Delete it and run again.`
    )
  }
  if (existing !== undefined) {
    diskId = existing.id as string
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
  } else {
    diskId = resourceId(
      { subscriptionId: plan.subscriptionId, resourceGroup: rg, name },
      'Microsoft.Compute',
      'disks'
    )
    ctx.ledger.add({ kind: 'upload-disk', id: diskId, writeAccess: false })
    const created = await waitFor(
      `Create upload disk '${name}'`,
      clients.compute.disks.createOrUpdate(
        rg,
        name,
        {
          location: options.location,
          sku: { name: options.diskSku },
          // Temporary disks always carry the run id: cleanup and resume recognise them by it.
          tags: { ...plan.tags, [ProvenanceTag.RunId]: plan.run.runId, ...identityTags },
          ...(disk.lun === 'os'
            ? {
                osType: plan.source.mode === 'upload' ? plan.source.osType : undefined,
                hyperVGeneration:
                  plan.source.mode === 'upload' ? plan.source.hyperVGeneration : undefined
              }
            : {}),
          creationData: { createOption: 'Upload', uploadSizeBytes: disk.uploadSize }
        },
        { abortSignal: signal }
      ),
      { log, signal }
    )
    diskId = created.id ?? diskId
  }

  const access = await waitFor(
    `Grant write access to disk '${name}'`,
    clients.compute.disks.grantAccess(
      rg,
      name,
      { access: 'Write', durationInSeconds: writeAccessSeconds(plan.timeoutMinutes) },
      { abortSignal: signal }
    ),
    { log, signal }
  )
  ctx.ledger.update(diskId, { writeAccess: true })
  const sas = access.accessSAS
  if (!sas) throw new Error(`Granting write access to disk '${name}' returned no SAS URL.`)
  maskUrlSecrets(sas, log.secret)

  let bytesSent = 0
  try {
    const client = createPageBlobClient(sas)
    const sink = createPageBlobSink(client)
    const alreadyWritten = resumable ? await sink.listWrittenRanges(signal) : undefined
    const result = await sendDisk(ctx, disk, { sink, alreadyWritten }, options.concurrency)
    bytesSent = result.bytesSent
  } finally {
    // Always revoke: an open SAS is a live write credential, and the disk cannot be used until then.
    // Not on cancellation: the runner kills us seconds later, and the post step revokes.
    if (!signal.aborted) {
      await waitFor(
        `Revoke write access to disk '${name}'`,
        clients.compute.disks.revokeAccess(rg, name, {
          abortSignal: AbortSignal.timeout(5 * 60_000)
        }),
        { log, signal: AbortSignal.timeout(5 * 60_000) }
      )
      ctx.ledger.update(diskId, { writeAccess: false })
    }
  }
  return { diskId, bytesSent }
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
