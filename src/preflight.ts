/**
 * The read-only half of a run: read the source and every target, refuse what Azure would refuse
 * later, and describe the plan (what dry run prints). Nothing here writes to Azure.
 */
import { isNotFound } from './azure/not-found.js'
import { normaliseRegion } from './azure/region.js'
import { captureProblems, decideDeprovision } from './capture/capture-checks.js'
import { readVm, type VmFacts } from './capture/vm-facts.js'
import { resourceId, sameResourceId } from './azure/resource-id.js'
import type { BuildSource, CaptureSource, Plan, UploadSource } from './plan.js'
import { buildPlanLines, checkBuild, type BuildPreflight } from './build/build-preflight.js'
import type { CustomizeScript } from './build/customize.js'
import { StepFailure, type PreflightDeps, type RunContext } from './run-context.js'
import type { SourceDisk, SourceFacts } from './source-facts.js'
import { parseResourceId } from './azure/resource-id.js'
import { checkManagedImage, type ManagedImagePreflight } from './targets/managed-image.js'
import {
  checkGalleryTarget,
  describeGalleryPlan,
  existingDefinitionFacts,
  readDefinition,
  type DefinitionRead,
  type GalleryPreflight
} from './targets/gallery-preflight.js'
import type { SourceOrigin } from './targets/gallery-model.js'
import type { InspectedUpload } from './upload/upload-image.js'
import { oneLine } from './untrusted.js'

/** What the source is, by mode: the mode's settings from the plan beside what was read of it. */
export type SourcePreflight =
  | {
      mode: 'capture'
      settings: CaptureSource
      vm: VmFacts
      /** Whether the OS is generalized inside the VM first (`deprovision`, `auto` decided). */
      deprovision: boolean
    }
  | { mode: 'upload'; settings: UploadSource; upload: InspectedUpload }
  | {
      mode: 'build'
      settings: BuildSource
      build: BuildPreflight
      /** The customization scripts, read from the workspace before Azure was reached. */
      scripts: CustomizeScript[]
    }

export type Preflight = SourcePreflight & {
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

/**
 * An image or gallery version made from a page blob must be in the blob's region: Azure refuses
 * another (Azure/AgentBaker#7353; for disks, "The source blob … does not belong to the same region as
 * the disk.", microsoft/DefendTheFlag#1). The contract's default location is the resource group's,
 * so a storage account elsewhere is refused here, before the upload, with the fix, rather than
 * silently moving the image to another region than the one the inputs name.
 */
async function checkStorageAccountRegion(
  ctx: RunContext,
  account: { resourceGroup: string; name: string },
  location: string
): Promise<void> {
  const props = await ctx.clients.storage.storageAccounts.getProperties(
    account.resourceGroup,
    account.name,
    { abortSignal: ctx.signal }
  )
  const region = normaliseRegion(props.location ?? '')
  if (region === '' || region === normaliseRegion(location)) return
  const where = ctx.plan.location
    ? `'location' is ${location}`
    : `'location' is not set, so it is the resource group's region, ${location}`
  throw new StepFailure(
    `Storage account '${account.name}' is in ${region}, but ${where}: Azure makes an image or gallery version from a page blob only in the blob's region. Set 'location: ${region}', or use a storage account in ${location}.`
  )
}

/** What main read from the workspace before connecting: upload files or customization scripts. */
export interface Inspected {
  upload?: InspectedUpload
  scripts?: CustomizeScript[]
}

/** What preflight read of the source: the mode's branch of `Preflight` and the source's facts. */
interface SourceRead {
  read: SourcePreflight
  source: SourceFacts
}

/** Capture: the VM named by 'source-vm', checked to be that VM and capturable as the plan asks. */
async function readCaptureSource(ctx: RunContext, settings: CaptureSource): Promise<SourceRead> {
  const { plan, clients, signal, log } = ctx
  const vm = await readVm(clients, settings.vm, signal)
  // Every write to the VM follows from this read: it must be the VM the user named, not one
  // another subscription or a rewritten path leads to.
  const named = resourceId(settings.vm, 'Microsoft.Compute', 'virtualMachines')
  if (!sameResourceId(vm.id, named)) {
    throw new StepFailure(
      `Azure answered for 'source-vm' with VM ${oneLine(vm.id) || '(no ID)'}, not ${named}: nothing was changed.`
    )
  }
  const decision = decideDeprovision(settings, vm)
  const read: SourcePreflight = { mode: 'capture', settings, vm, deprovision: decision.run }
  log.info(
    oneLine(
      `VM '${vm.name}': ${vm.osType}, ${vm.location}, Hyper-V ${vm.hyperVGeneration}, ${vm.architecture}, security ${vm.securityType}, ${vm.powerState}${vm.generalized ? ', generalized' : ''}, ${vm.disks.length - 1} data disk(s)`
    )
  )
  const problems = captureProblems(plan, settings, vm)
  if (problems.length > 0) throw new StepFailure(problems.join('\n'))
  if (decision.warning) log.warning(oneLine(decision.warning))
  const source: SourceFacts = {
    osType: vm.osType,
    osState: settings.generalize ? 'Generalized' : 'Specialized',
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
  return { read, source }
}

/** Build: the base image, size, quota and network the build VM would use (build-preflight.ts). */
async function readBuildSource(
  ctx: RunContext,
  settings: BuildSource,
  groupLocation: string,
  scripts: CustomizeScript[],
  definition: DefinitionRead | undefined
): Promise<SourceRead> {
  const { plan, clients, signal, log } = ctx
  // The existing definition decides the build VM's security type (read before anything is made).
  const existingDefinition =
    plan.gallery && definition ? existingDefinitionFacts(plan.gallery, definition) : undefined
  const build = await checkBuild(
    {
      clients,
      log,
      signal,
      subscriptionId: plan.subscriptionId,
      resourceGroup: plan.resourceGroup,
      owner: plan.owner,
      location: plan.location,
      groupLocation,
      managedImageTarget: plan.managedImage !== undefined,
      ...(existingDefinition ? { existingDefinition } : {})
    },
    settings
  )
  const read: SourcePreflight = { mode: 'build', settings, build, scripts }
  const { image } = build
  const osDiskGiB = settings.osDiskSizeGb ?? image.osDiskSizeGb
  const source: SourceFacts = {
    osType: image.osType,
    osState: 'Generalized',
    hyperVGeneration: image.hyperVGeneration,
    architecture: image.architecture,
    securityType: build.imageSecurityType,
    location: build.location,
    ...(image.plan ? { purchasePlan: image.plan } : {}),
    ...(plan.gallery?.replicationMode === 'Full' && osDiskGiB !== undefined
      ? { disks: [{ name: `${settings.names.vm} OS disk`, sizeGiB: osDiskGiB }] }
      : {})
  }
  return { read, source }
}

/** Upload: the files main inspected, and the storage account's region when uploading through one. */
async function readUploadSource(
  ctx: RunContext,
  settings: UploadSource,
  upload: InspectedUpload | undefined,
  groupLocation: string
): Promise<SourceRead> {
  // main inspects the files before connecting; their absence here is a bug, not a user error.
  if (upload === undefined) throw new Error('preflight: the upload files were not inspected')
  const read: SourcePreflight = { mode: 'upload', settings, upload }
  const location = ctx.plan.location ?? groupLocation
  if (settings.destination.kind === 'storage-account')
    await checkStorageAccountRegion(ctx, settings.destination.account, location)
  const source: SourceFacts = {
    osType: settings.osType,
    osState: settings.osState,
    hyperVGeneration: settings.hyperVGeneration,
    architecture: settings.architecture,
    securityType: settings.securityType,
    location,
    disks: (upload?.disks ?? []).map(d => ({
      name: d.path,
      sizeGiB: Math.ceil(d.virtualSize / 1024 ** 3)
    }))
  }
  return { read, source }
}

/** What the version will be made from: the managed image when there is one, else the VM or the uploads. */
function sourceOrigin(plan: Plan): SourceOrigin {
  return plan.source.mode === 'capture'
    ? { kind: plan.managedImage ? 'managed-image' : 'vm', name: plan.source.vm.name }
    : plan.source.mode === 'build'
      ? { kind: plan.managedImage ? 'managed-image' : 'vm', name: plan.source.names.vm }
      : {
          kind: plan.managedImage
            ? 'managed-image'
            : plan.source.destination.kind === 'managed-disk'
              ? 'disks'
              : 'blobs',
          name: plan.source.osDiskPath
        }
}

export async function preflight(ctx: RunContext, inspected: Inspected): Promise<Preflight> {
  const { plan, clients, signal, log } = ctx
  // A missing group would read as "no image there yet" and fail only at the image, after the VM
  // was generalized: check each group the run writes to first.
  const groupLocation = await resourceGroupLocation(ctx, plan.resourceGroup)
  const galleryGroup = plan.gallery?.gallery.resourceGroup
  if (galleryGroup !== undefined && galleryGroup !== plan.resourceGroup) {
    await resourceGroupLocation(ctx, galleryGroup)
  }
  // A build reads the target definition before its source (its security type follows it); the
  // gallery check then uses that read.
  const definition =
    plan.source.mode === 'build' && plan.gallery
      ? await readDefinition({ clients, signal }, plan.gallery)
      : undefined
  const { read, source } =
    plan.source.mode === 'capture'
      ? await readCaptureSource(ctx, plan.source)
      : plan.source.mode === 'build'
        ? await readBuildSource(
            ctx,
            plan.source,
            groupLocation,
            inspected.scripts ?? [],
            definition
          )
        : await readUploadSource(ctx, plan.source, inspected.upload, groupLocation)
  const deps: PreflightDeps = { clients, log, signal, run: plan.run, owner: plan.owner }
  const managedImage = plan.managedImage
    ? await checkManagedImage(deps, plan.managedImage)
    : undefined
  const gallery = plan.gallery
    ? await checkGalleryTarget(deps, {
        target: plan.gallery,
        source,
        origin: sourceOrigin(plan),
        ...(definition ? { definition } : {})
      })
    : undefined
  return { ...read, source, managedImage, gallery }
}

export function planLines(plan: Plan, pre: Preflight): string[] {
  const lines: string[] = []
  if (pre.mode === 'capture') {
    const { settings: s, vm } = pre
    if (s.backupSnapshot)
      lines.push(
        `Snapshot the OS disk and ${vm.disks.length - 1} data disk(s) of VM '${s.vm.name}'`
      )
    if (pre.deprovision)
      lines.push(
        `Run the OS's generalization in VM '${s.vm.name}' (${vm.osType === 'Windows' ? 'Sysprep' : 'waagent -deprovision+user'})`
      )
    if (s.generalize && !vm.generalized)
      lines.push(`Deallocate VM '${s.vm.name}' and mark it generalized`)
  } else if (pre.mode === 'build') {
    lines.push(...buildPlanLines(pre.settings, pre.build, pre.scripts))
  } else {
    for (const d of pre.upload.disks) {
      lines.push(
        `Upload ${d.path} (${d.description}) to a temporary ${pre.settings.destination.kind === 'managed-disk' ? 'managed disk' : 'page blob'}`
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
  if (pre.mode === 'capture' && pre.settings.deleteSourceVm)
    lines.push(`Delete VM '${pre.settings.vm.name}'`)
  if (pre.mode === 'upload' && !pre.settings.keepUpload)
    lines.push('Delete the temporary upload disk(s)/blob(s)')
  if (pre.mode === 'build')
    lines.push(
      pre.settings.keepBuildVm === 'true'
        ? `Keep build VM '${pre.settings.names.vm}' and its network (keep-build-vm: true)`
        : `Delete the build VM, its OS disk, NIC, NSG${pre.settings.subnet ? '' : ' and virtual network'}`
    )
  return lines
}

/**
 * The plan with what the preflight decided in place of `deprovision: auto`: what the permissions
 * preflight checks and the least-privilege role is made from (no Run Command right for a stopped VM).
 */
export function decidedPlan(plan: Plan, deprovision: boolean): Plan {
  if (plan.source.mode !== 'capture') return plan
  return { ...plan, source: { ...plan.source, deprovision } }
}
