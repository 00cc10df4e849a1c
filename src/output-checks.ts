/**
 * The last gate before GITHUB_OUTPUT: every ID output must be the resource this run made or chose,
 * as the plan names it, and every other output must have its documented shape. The IDs come back
 * from Azure's responses; a job that deploys `image-id` must get the image this run published and
 * nothing else (issue 13: outputs never carry text from outside). Resource IDs compare
 * case-insensitively, as ARM treats them (ARM returns group names in the case it stored).
 */
import { Outputs } from './constants.js'
import { resourceId } from './azure/resource-id.js'
import type { Plan } from './plan.js'
import { oneLine } from './untrusted.js'

function same(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase()
}

function expectedManagedImageId(plan: Plan): string | undefined {
  return plan.managedImage
    ? resourceId(plan.managedImage.image, 'Microsoft.Compute', 'images')
    : undefined
}

function expectedVersionId(plan: Plan, version: string | undefined): string | undefined {
  if (!plan.gallery || version === undefined) return undefined
  const gallery = resourceId(plan.gallery.gallery, 'Microsoft.Compute', 'galleries')
  return `${gallery}/images/${plan.gallery.imageDefinition}/versions/${version}`
}

const VERSION = /^\d{1,10}\.\d{1,10}\.\d{1,10}$/
const REGION = /^[a-z0-9]{1,64}$/

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/** Snapshot IDs as backup-snapshots.ts names them: in the plan's group, ending in this run's suffix. */
function isOwnSnapshotId(plan: Plan, id: string): boolean {
  const group = resourceId(
    { subscriptionId: plan.subscriptionId, resourceGroup: plan.resourceGroup, name: '' },
    'Microsoft.Compute',
    'snapshots'
  )
  const suffix = `-(os|lun\\d{1,2})-backup-${escapeRegExp(plan.run.runId)}-${plan.run.runAttempt}`
  return new RegExp(`^${escapeRegExp(group)}[A-Za-z0-9_.-]{0,80}${suffix}$`, 'i').test(id)
}

/**
 * What is wrong with `outputs` for this plan, one sentence per output (empty: all fine). The
 * messages quote the offending value through oneLine.
 */
export function outputProblems(plan: Plan, outputs: Record<string, string>): string[] {
  const problems: string[] = []
  const bad = (name: string, why: string): void => {
    problems.push(`output '${name}' (${oneLine(JSON.stringify(outputs[name]))}) ${why}`)
  }
  const version = outputs[Outputs.GalleryImageVersion]
  const managedId = expectedManagedImageId(plan)
  const versionId = expectedVersionId(plan, version)

  for (const [name, value] of Object.entries(outputs)) {
    switch (name) {
      case Outputs.ManagedImageId:
        if (managedId === undefined || !same(value, managedId))
          bad(name, `is not the managed image this run targets (${managedId ?? 'none'})`)
        break
      case Outputs.GalleryImageVersion:
        if (!plan.gallery || !VERSION.test(value))
          bad(name, 'is not a gallery image version number of this run')
        else if (plan.gallery.version.kind === 'explicit' && value !== plan.gallery.version.value)
          bad(name, `is not the version given in 'gallery-image-version'`)
        break
      case Outputs.GalleryImageVersionId:
        if (versionId === undefined || !same(value, versionId))
          bad(name, `is not the gallery image version this run targets (${versionId ?? 'none'})`)
        break
      case Outputs.ImageId: {
        const primary = plan.gallery ? versionId : managedId
        if (primary === undefined || !same(value, primary))
          bad(name, `is not the image this run targets (${primary ?? 'none'})`)
        break
      }
      case Outputs.Location:
        if (!REGION.test(value)) bad(name, 'is not an Azure region name')
        break
      case Outputs.UploadedBytes:
        if (plan.source.mode !== 'upload' || !/^\d{1,16}$/.test(value))
          bad(name, 'is not a byte count of this upload')
        break
      case Outputs.BackupSnapshotIds: {
        let ids: unknown
        try {
          ids = JSON.parse(value)
        } catch {
          ids = undefined
        }
        if (
          plan.source.mode !== 'capture' ||
          !Array.isArray(ids) ||
          !ids.every(id => typeof id === 'string' && isOwnSnapshotId(plan, id))
        )
          bad(name, `is not a list of this run's backup snapshots in '${plan.resourceGroup}'`)
        break
      }
      default:
        // Outputs added later get at least the single-line, no-controls shape.
        if (/[\p{Cc}\p{Cf}\u2028\u2029]/u.test(value)) bad(name, 'holds line breaks or controls')
    }
  }
  return problems
}
