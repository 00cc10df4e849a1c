/**
 * The read-only half of a run: read the source and every target, refuse what Azure would refuse
 * later, and describe the plan (what dry run prints). Nothing here writes to Azure.
 */
import { isNotFound } from './azure/not-found.js'
import { normaliseRegion } from './azure/region.js'
import { captureProblems } from './capture/capture-checks.js'
import { readVm, type VmFacts } from './capture/vm-facts.js'
import type { Plan } from './plan.js'
import { StepFailure, type RunContext } from './run-context.js'
import type { SourceDisk, SourceFacts } from './source-facts.js'
import { parseResourceId } from './azure/resource-id.js'
import { checkManagedImage, type ManagedImagePreflight } from './targets/managed-image.js'
import {
  checkGalleryTarget,
  describeGalleryPlan,
  type GalleryPreflight
} from './targets/gallery-preflight.js'
import type { InspectedUpload } from './upload/upload-image.js'
import { oneLine } from './untrusted.js'

export interface Preflight {
  vm?: VmFacts
  upload?: InspectedUpload
  source: SourceFacts
  managedImage?: ManagedImagePreflight
  gallery?: GalleryPreflight
}

async function resourceGroupLocation(ctx: RunContext, name: string): Promise<string> {
  try {
    const group = await ctx.clients.resources.resourceGroups.get(name, { abortSignal: ctx.signal })
    return normaliseRegion(group.location)
  } catch (e) {
    if (isNotFound(e)) {
      throw new StepFailure(
        `Resource group '${name}' does not exist in subscription ${ctx.plan.subscriptionId}: create it, or check 'resource-group' and 'gallery-resource-group'.`
      )
    }
    throw e
  }
}

/** The size of each managed disk, from the disk resource (GiB, as Azure reports it). */
async function diskSizes(ctx: RunContext, ids: string[]): Promise<SourceDisk[]> {
  const out: SourceDisk[] = []
  for (const id of ids) {
    const ref = parseResourceId(id)
    const disk = await ctx.clients.compute.disks.get(ref.resourceGroup, ref.name, {
      abortSignal: ctx.signal
    })
    out.push({ name: disk.name ?? ref.name, sizeGiB: disk.diskSizeGB ?? 0 })
  }
  return out
}

export async function preflight(
  ctx: RunContext,
  upload: InspectedUpload | undefined
): Promise<Preflight> {
  const { plan, clients, signal, log } = ctx
  // A missing group would read as "no image there yet" and fail only at the image, after the VM
  // was generalized: check each group the run writes to first.
  const groups = new Map<string, string>()
  for (const rg of new Set([plan.resourceGroup, plan.gallery?.gallery.resourceGroup])) {
    if (rg !== undefined) groups.set(rg, await resourceGroupLocation(ctx, rg))
  }
  let vm: VmFacts | undefined
  let source: SourceFacts
  if (plan.source.mode === 'capture') {
    vm = await readVm(clients, plan.source.vm, signal)
    log.info(
      oneLine(
        `VM '${vm.name}': ${vm.osType}, ${vm.location}, Hyper-V ${vm.hyperVGeneration}, ${vm.architecture}, security ${vm.securityType}, ${vm.powerState}${vm.generalized ? ', generalized' : ''}, ${vm.disks.length - 1} data disk(s)`
      )
    )
    const problems = captureProblems(plan, plan.source, vm)
    if (problems.length > 0) throw new StepFailure(problems.join('\n'))
    source = {
      osType: vm.osType,
      osState: plan.source.generalize ? 'Generalized' : 'Specialized',
      hyperVGeneration: vm.hyperVGeneration,
      architecture: vm.architecture,
      securityType: vm.securityType,
      location: vm.location,
      // Only Full gallery replication limits disk sizes (deallocated VMs' models lack them: read the disks).
      ...(plan.gallery?.replicationMode === 'Full'
        ? {
            disks: await diskSizes(
              ctx,
              vm.disks.map(d => d.id)
            )
          }
        : {})
    }
  } else {
    const u = plan.source
    const location = plan.location ?? (groups.get(plan.resourceGroup) as string)
    source = {
      osType: u.osType,
      osState: u.osState,
      hyperVGeneration: u.hyperVGeneration,
      architecture: u.architecture,
      securityType: u.securityType,
      location,
      disks: (upload?.disks ?? []).map(d => ({
        name: d.path,
        sizeGiB: Math.ceil(d.virtualSize / 1024 ** 3)
      }))
    }
  }
  const managedImage = plan.managedImage
    ? await checkManagedImage(clients, plan.managedImage, plan.run.runId, signal)
    : undefined
  // What the version will be made from: the managed image when there is one, else the VM or the uploads.
  const origin =
    plan.source.mode === 'capture'
      ? {
          kind: plan.managedImage ? ('managed-image' as const) : ('vm' as const),
          name: plan.source.vm.name
        }
      : {
          kind: plan.managedImage
            ? ('managed-image' as const)
            : plan.source.destination.kind === 'managed-disk'
              ? ('disks' as const)
              : ('blobs' as const),
          name: plan.source.osDiskPath
        }
  const gallery = plan.gallery
    ? await checkGalleryTarget(
        { clients, log, signal, run: plan.run },
        plan.gallery,
        source,
        origin
      )
    : undefined
  return { vm, upload, source, managedImage, gallery }
}

export function planLines(plan: Plan, pre: Preflight): string[] {
  const lines: string[] = []
  if (plan.source.mode === 'capture') {
    const s = plan.source
    if (s.backupSnapshot)
      lines.push(
        `Snapshot the OS disk and ${(pre.vm?.disks.length ?? 1) - 1} data disk(s) of VM '${s.vm.name}'`
      )
    if (s.deprovision && !pre.vm?.generalized)
      lines.push(
        `Run the OS's generalization in VM '${s.vm.name}' (${pre.vm?.osType === 'Windows' ? 'Sysprep' : 'waagent -deprovision+user'})`
      )
    if (s.generalize && !pre.vm?.generalized)
      lines.push(`Deallocate VM '${s.vm.name}' and mark it generalized`)
  } else {
    for (const d of pre.upload?.disks ?? []) {
      lines.push(
        `Upload ${d.path} (${d.description}) to a temporary ${plan.source.destination.kind === 'managed-disk' ? 'managed disk' : 'page blob'}`
      )
    }
  }
  if (plan.managedImage && pre.managedImage) {
    const verb = {
      create: 'Create',
      reuse: 'Reuse (made by an earlier attempt of this run)',
      replace: 'Replace'
    }[pre.managedImage.action]
    lines.push(`${verb} managed image ${pre.managedImage.id} in ${pre.source.location}`)
  }
  if (plan.gallery && pre.gallery) lines.push(...describeGalleryPlan(plan.gallery, pre.gallery))
  if (plan.source.mode === 'capture' && plan.source.deleteSourceVm)
    lines.push(`Delete VM '${plan.source.vm.name}'`)
  if (plan.source.mode === 'upload' && !plan.source.keepUpload)
    lines.push('Delete the temporary upload disk(s)/blob(s)')
  return lines
}
