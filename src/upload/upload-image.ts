/**
 * Upload mode, end to end: inspect every file before Azure is touched, then upload each disk image
 * to its destination (managed disks through a write SAS, or page blobs) in parallel under one
 * concurrency budget, and hand the image targets the content to build from.
 */
import { allOrAbort } from '../parallel.js'
import type { RunContext } from '../run-context.js'
import type { UploadSource } from '../plan.js'
import type { ImageContent } from '../source-facts.js'
import { inspectDiskImage, InvalidDiskImageError, type DiskImage } from './disk-format.js'
import { Inputs } from '../constants.js'
import { InputError } from '../input-error.js'
import { deleteUploadDisk, uploadToManagedDisk } from './managed-disk-destination.js'
import {
  deleteUploadBlob,
  prepareStorageAccount,
  uploadToPageBlob
} from './storage-account-destination.js'
import { gib, type UploadDisk } from './send-disk.js'
import { oneLine } from '../untrusted.js'

export type { UploadDisk }

export interface InspectedUpload {
  disks: UploadDisk[]
}

/**
 * Inspects every file before Azure is touched. A file that is missing, unreadable, not a regular
 * file or not a disk image Azure takes is a bad input: the error names the input it came from.
 */
export async function inspectUploadSource(source: UploadSource): Promise<InspectedUpload> {
  const inspect = async (path: string, role: 'os' | 'data', input: string): Promise<DiskImage> => {
    try {
      return await inspectDiskImage(path, role)
    } catch (e) {
      if (e instanceof InvalidDiskImageError) throw new InputError(input, e.message)
      throw e
    }
  }
  const disks: UploadDisk[] = []
  const os = await inspect(source.osDiskPath, 'os', Inputs.Vhd)
  disks.push({ ...os, lun: 'os', description: `${os.format}, ${gib(os.virtualSize)}` })
  for (const [lun, path] of source.dataDiskPaths.entries()) {
    const data = await inspect(path, 'data', Inputs.DataVhds)
    disks.push({
      ...data,
      lun,
      description: `${data.format}, ${gib(data.virtualSize)}, LUN ${lun}`
    })
  }
  return { disks }
}

/**
 * The one concurrency budget split across the disks of an image by how much each has to read
 * (largest remainders get the writers left over), each disk getting at least one writer, so small
 * data disks do not starve the OS disk or the reverse. Only with more disks than writers does the
 * total exceed the budget: one writer each.
 */
export function shareConcurrency(total: number, weights: number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0)
  const exact = weights.map(w => (sum > 0 ? (total * w) / sum : total / weights.length))
  const shares = exact.map(x => Math.max(1, Math.floor(x)))
  let spare = total - shares.reduce((a, b) => a + b, 0)
  while (spare < 0) {
    const i = shares.indexOf(Math.max(...shares))
    if (shares[i] === 1) break
    shares[i]--
    spare++
  }
  const byRemainder = exact
    .map((x, i) => ({ i, rest: x - shares[i] }))
    .sort((a, b) => b.rest - a.rest)
  for (let k = 0; spare > 0; k = (k + 1) % byRemainder.length, spare--) shares[byRemainder[k].i]++
  return shares
}

export interface UploadImagesOptions {
  source: UploadSource
  inspected: InspectedUpload
  /** Where managed disks are created: the image's region. */
  location: string
}

export async function uploadImages(
  ctx: RunContext,
  options: UploadImagesOptions
): Promise<{ content: ImageContent; uploadedBytes: number }> {
  const { source, inspected, location } = options
  const shares = shareConcurrency(
    source.concurrency,
    inspected.disks.map(d => d.bytesToRead)
  )
  if (source.destination.kind === 'managed-disk') {
    const diskSku = source.destination.diskSku
    const results = await ctx.step('Upload disk images (managed disks)', () =>
      allOrAbort(ctx.signal, inspected.disks, (disk, signal, i) =>
        uploadToManagedDisk({ ...ctx, signal }, { disk, location, diskSku, concurrency: shares[i] })
      )
    )
    return {
      content: {
        kind: 'disks',
        osDiskId: results[0].diskId,
        dataDiskIds: results.slice(1).map(r => r.diskId)
      },
      uploadedBytes: results.reduce((a, r) => a + r.bytesSent, 0)
    }
  }
  const destination = source.destination
  const account = await ctx.step('Storage account', () => prepareStorageAccount(ctx, destination))
  const results = await ctx.step('Upload disk images (page blobs)', () =>
    allOrAbort(ctx.signal, inspected.disks, (disk, signal, i) =>
      uploadToPageBlob({ ...ctx, signal }, { account, disk, concurrency: shares[i] })
    )
  )
  return {
    content: {
      kind: 'blobs',
      storageAccountId: account.id,
      osBlobUri: results[0].url,
      dataBlobUris: results.slice(1).map(r => r.url)
    },
    uploadedBytes: results.reduce((a, r) => a + r.bytesSent, 0)
  }
}

/** After the image exists: delete the temporary disks/blobs, or keep them (keep-upload) and say so. */
export async function finishUploads(ctx: RunContext, source: UploadSource): Promise<void> {
  for (const entry of ctx.ledger.entries()) {
    if (entry.kind !== 'upload-disk' && entry.kind !== 'upload-blob') continue
    const what = entry.kind === 'upload-disk' ? entry.id : entry.url
    if (source.keepUpload) {
      ctx.ledger.remove(what)
      ctx.report.notes.push(
        `Kept the upload ${entry.kind === 'upload-disk' ? 'disk' : 'blob'} ${what} (keep-upload: true).`
      )
    } else if (entry.kind === 'upload-disk') {
      await deleteUploadDisk(ctx, entry.id)
    } else {
      ctx.log.info(
        oneLine(
          await deleteUploadBlob(ctx, {
            url: entry.url,
            storageAccountId: entry.storageAccountId,
            ownerKey: ctx.plan.owner.key
          })
        )
      )
      ctx.ledger.remove(entry.url)
    }
  }
}
