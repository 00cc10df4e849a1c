/** The writing half of a run: capture or upload, then the image targets, then tidy up. */
import { Outputs } from './constants.js'
import { takeBackupSnapshots } from './capture/backup-snapshots.js'
import { generalizeGuest } from './capture/guest-generalization.js'
import { deallocateVm, deleteVm, markGeneralized } from './capture/generalize-vm.js'
import type { Preflight } from './preflight.js'
import type { RunContext } from './run-context.js'
import type { ImageContent } from './source-facts.js'
import { createManagedImage } from './targets/managed-image.js'
import { publishGalleryVersion } from './targets/gallery-version.js'
import { pruneGalleryVersions } from './targets/gallery-retention.js'
import { finishUploads, uploadImages } from './upload/upload-image.js'
import { uploadDiskName, uploadNameBase } from './upload/managed-disk-destination.js'
import { prepareStorageAccount, uploadBlobName } from './upload/storage-account-destination.js'
import { cleanUp } from './cleanup.js'
import { entryId, type LedgerEntry } from './ledger.js'
import { resourceId } from './azure/resource-id.js'
import { oneLine } from './untrusted.js'
import { adoptEarlierBuild, buildAndCapture, removeBuildResources } from './execute-build.js'

type CapturePreflight = Extract<Preflight, { mode: 'capture' }>
type UploadPreflight = Extract<Preflight, { mode: 'upload' }>

/**
 * Every target was made by an earlier attempt of this job, killed before it removed its temporary
 * upload disks or blobs (chaos seed 1628895111: the image PUT carried out, then SIGKILL). They are
 * found by the names this job gives them and removed as this run's own; the cleanup deletes only
 * what carries this job's owner key. `keep-upload: true` keeps them, as it would have.
 */
async function removeEarlierUploads(ctx: RunContext, pre: UploadPreflight): Promise<void> {
  const { plan } = ctx
  const { settings } = pre
  if (settings.keepUpload) return
  const base = uploadNameBase(plan)
  const entries: LedgerEntry[] = []
  if (settings.destination.kind === 'managed-disk') {
    for (const d of pre.upload.disks) {
      const name = uploadDiskName(base, plan.run.runId, d.lun)
      const ref = { subscriptionId: plan.subscriptionId, resourceGroup: plan.resourceGroup, name }
      entries.push({
        kind: 'upload-disk',
        id: resourceId(ref, 'Microsoft.Compute', 'disks'),
        writeAccess: false
      })
    }
  } else {
    const account = await prepareStorageAccount(ctx, settings.destination)
    for (const d of pre.upload.disks) {
      const url = account.container.getPageBlobClient(
        uploadBlobName(base, plan.run.runId, d.lun)
      ).url
      entries.push({ kind: 'upload-blob', url, storageAccountId: account.id })
    }
  }
  const ids = new Set(entries.map(entryId))
  for (const e of entries) ctx.ledger.add(e)
  const { failed } = await cleanUp(
    {
      clients: ctx.clients,
      ledger: ctx.ledger,
      ownerKey: plan.owner.key,
      log: ctx.log,
      signal: ctx.signal
    },
    e => ids.has(entryId(e))
  )
  for (const f of failed) ctx.report.notes.push(oneLine(f))
}

/** Whether an earlier attempt of this run already made every target (nothing to capture or upload). */
function everyTargetReused(pre: Preflight): boolean {
  return (
    (pre.managedImage === undefined || pre.managedImage.action === 'reuse') &&
    (pre.gallery === undefined ||
      (pre.gallery.action === 'reuse' && pre.gallery.existingState === 'Succeeded'))
  )
}

/** Capture: backup snapshots, then the guest's generalization and the VM's, unless already done. */
async function captureVm(ctx: RunContext, pre: CapturePreflight): Promise<ImageContent> {
  const { report } = ctx
  const { vm, settings: s } = pre
  if (s.backupSnapshot && vm.generalized) {
    ctx.log.info(
      oneLine(
        `VM '${vm.name}' is already generalized: no backup snapshots (they would copy a disk that no longer boots as the VM; an earlier attempt of this run that generalized it took its backups first)`
      )
    )
  } else if (s.backupSnapshot) {
    const recordIds = (ids: string[]): void => {
      report.outputs[Outputs.BackupSnapshotIds] = JSON.stringify(ids)
    }
    const ids = await ctx.step('Backup snapshots', () =>
      takeBackupSnapshots(ctx, { vm, onTaken: recordIds })
    )
    recordIds(ids)
  }
  if (vm.generalized) {
    ctx.log.info(
      oneLine(
        `VM '${vm.name}' is already generalized (an earlier attempt got this far): going on to the image`
      )
    )
  } else {
    if (pre.deprovision)
      await ctx.step('Generalize the OS (Run Command)', () => generalizeGuest(ctx, vm))
    if (s.generalize) {
      await ctx.step('Deallocate VM', () => deallocateVm(ctx, vm))
      await ctx.step('Mark VM generalized', () => markGeneralized(ctx, vm))
    }
  }
  return { kind: 'vm', vmId: vm.id }
}

/** The source's writing steps by mode: what the image targets are then made from. */
async function prepareContent(ctx: RunContext, pre: Preflight): Promise<ImageContent> {
  if (pre.mode === 'capture') return captureVm(ctx, pre)
  if (pre.mode === 'build') return buildAndCapture(ctx, pre)
  const result = await uploadImages(ctx, {
    source: pre.settings,
    inspected: pre.upload,
    location: pre.source.location
  })
  ctx.report.outputs[Outputs.UploadedBytes] = String(result.uploadedBytes)
  return result.content
}

/** The gallery version (from the managed image when there is one), then the pruning of old ones. */
async function publishToGallery(
  ctx: RunContext,
  pre: Preflight,
  content: ImageContent | undefined,
  managedImageId: string | undefined
): Promise<void> {
  const { plan, report } = ctx
  if (!plan.gallery || !pre.gallery) return
  const target = plan.gallery
  const gp = pre.gallery
  const versionContent: ImageContent | undefined =
    managedImageId !== undefined ? { kind: 'managed-image', imageId: managedImageId } : content
  const version = await ctx.step('Gallery image version', () =>
    publishGalleryVersion(ctx, { target, pre: gp, content: versionContent, source: pre.source })
  )
  report.outputs[Outputs.GalleryImageVersionId] = version.id
  report.outputs[Outputs.GalleryImageVersion] = version.version
  report.outputs[Outputs.ImageId] = version.id
  report.outputs[Outputs.Location] = version.location
  if (target.keepVersions > 0) {
    await ctx.step('Prune old versions', () =>
      pruneGalleryVersions(ctx, { target, keepVersion: version.version })
    )
  }
}

export async function execute(ctx: RunContext, pre: Preflight): Promise<void> {
  const { plan, report } = ctx
  const allReused = everyTargetReused(pre)
  let content: ImageContent | undefined
  if (allReused) {
    ctx.log.info(
      'Every target was created by an earlier attempt of this run: nothing to capture or upload'
    )
    if (pre.mode === 'build') adoptEarlierBuild(ctx, pre)
    if (pre.mode === 'upload')
      await ctx.step('Remove what an earlier attempt left', () => removeEarlierUploads(ctx, pre))
  } else {
    content = await prepareContent(ctx, pre)
  }

  let managedImageId: string | undefined
  if (plan.managedImage && pre.managedImage) {
    const target = plan.managedImage
    const mi = pre.managedImage
    managedImageId = await ctx.step('Managed image', () =>
      createManagedImage(ctx, { target, pre: mi, content, source: pre.source })
    )
    report.outputs[Outputs.ManagedImageId] = managedImageId
    report.outputs[Outputs.ImageId] = managedImageId
  }
  // A build's VM is no longer needed once the managed image exists (a gallery version is then made
  // from the image): its removal runs while the version replicates (not a step of its own: steps
  // are log groups, which cannot overlap). Made from the VM, the version needs it to the end.
  const buildRemoval =
    pre.mode === 'build' && managedImageId !== undefined ? removeBuildResources(ctx) : undefined
  try {
    await publishToGallery(ctx, pre, content, managedImageId)
  } finally {
    // Never left running behind a failure: cleanup after it must not race the same deletions.
    await buildRemoval
  }
  if (pre.mode === 'build' && buildRemoval === undefined)
    await ctx.step('Delete the build VM and network', () => removeBuildResources(ctx))
  // A gallery version lives in its source's region (the gallery may be elsewhere).
  report.outputs[Outputs.Location] ??= pre.source.location
  if (pre.mode === 'upload' && !allReused) {
    const settings = pre.settings
    await ctx.step('Remove temporary uploads', () => finishUploads(ctx, settings))
  }
  if (pre.mode === 'capture' && pre.settings.deleteSourceVm && !allReused) {
    const vm = pre.vm
    await ctx.step('Delete source VM', () => deleteVm(ctx, vm))
  }
}
