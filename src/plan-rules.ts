/**
 * The rules that relate several inputs, as a table: which inputs, what must hold, and the message
 * naming the first of them when it does not. Checked in this order once every input has been read
 * on its own (inputs.ts), so the first broken rule is the one reported.
 */
import { Inputs } from './constants.js'
import type {
  BuildSource,
  CaptureSource,
  GalleryTarget,
  ManagedImageTarget,
  Source,
  UploadSource
} from './plan.js'

/** The part of the plan the rules look at. */
export interface RuledPlan {
  source: Source
  managedImage?: ManagedImageTarget
  gallery?: GalleryTarget
}

export interface PlanRule {
  /** The inputs the rule relates; the error names the first. */
  inputs: readonly [string, ...string[]]
  /** What must hold. */
  holds(plan: RuledPlan): boolean
  message(plan: RuledPlan): string
}

/** A capture with `generalize: false`: the VM stays a working VM and only a gallery can hold it. */
const specializedCapture = (p: RuledPlan): CaptureSource | undefined =>
  p.source.mode === 'capture' && !p.source.generalize ? p.source : undefined
const upload = (p: RuledPlan): UploadSource | undefined =>
  p.source.mode === 'upload' ? p.source : undefined
const build = (p: RuledPlan): BuildSource | undefined =>
  p.source.mode === 'build' ? p.source : undefined

export const PLAN_RULES: readonly PlanRule[] = [
  {
    inputs: [Inputs.ReplicationMode, Inputs.TargetRegions, Inputs.ReplicaCount],
    holds: p => shallowProblem(p.gallery) === undefined,
    message: p => shallowProblem(p.gallery) ?? ''
  },
  {
    inputs: [Inputs.Generalize, Inputs.Gallery],
    holds: p => !specializedCapture(p) || p.gallery !== undefined,
    message: () =>
      `'false' (a specialized capture) needs a gallery target: managed images are always generalized. Set 'gallery' and 'gallery-image', or drop 'generalize: false'.`
  },
  {
    inputs: [Inputs.ImageName, Inputs.Generalize],
    holds: p => !specializedCapture(p) || p.managedImage === undefined,
    message: () =>
      `cannot be used with 'generalize: false': a managed image is always generalized. Use only the gallery target.`
  },
  {
    inputs: [Inputs.Deprovision, Inputs.Generalize],
    // `auto` means "never" here: nothing is generalized.
    holds: p => specializedCapture(p)?.deprovision !== true,
    message: () => `'true' generalizes the OS, which contradicts 'generalize: false'.`
  },
  {
    inputs: [Inputs.DeleteSourceVm, Inputs.Generalize],
    holds: p => !specializedCapture(p)?.deleteSourceVm,
    message: () =>
      `'true' deletes the VM, but with 'generalize: false' it is still a working VM: delete it yourself if you mean to.`
  },
  {
    inputs: [Inputs.SecurityType, Inputs.HyperVGeneration],
    holds: p => {
      const u = upload(p)
      return !u || u.securityType === 'Standard' || u.hyperVGeneration !== 'V1'
    },
    message: p =>
      `'${upload(p)?.securityType}' needs a Hyper-V generation 2 image: set 'hyper-v-generation: V2' (Trusted Launch boots with UEFI).`
  },
  {
    inputs: [Inputs.OsState, Inputs.ImageName],
    holds: p => upload(p)?.osState !== 'Specialized' || p.managedImage === undefined,
    message: () =>
      `'Specialized' needs a gallery target only: a managed image is always generalized. Remove 'image-name' or use os-state 'Generalized'.`
  },
  {
    inputs: [Inputs.SecurityType, Inputs.ImageName],
    holds: p =>
      (upload(p) ?? build(p))?.securityType !== 'TrustedLaunch' || p.managedImage === undefined,
    message: () =>
      `'TrustedLaunch' images can only be gallery image versions, not managed images. Remove 'image-name' or use a gallery target.`
  },
  {
    // Managed images are x64 only: "Creating an image with snapshot source that has CPU
    // Architecture 'Arm64' is not supported" (Azure/azure-sdk-for-go#19665); Arm64 is "only
    // supported through Azure Compute Gallery" (image-version.md). Refused here, not after the upload.
    inputs: [Inputs.Architecture, Inputs.ImageName],
    holds: p => upload(p)?.architecture !== 'Arm64' || p.managedImage === undefined,
    message: () =>
      `'Arm64' images can only be gallery image versions: Azure makes managed images from x64 disks only. Remove 'image-name' and use a gallery target.`
  }
]

/** Shallow replication copies nothing: one region (the source's) and one replica only. */
function shallowProblem(gallery: GalleryTarget | undefined): string | undefined {
  if (gallery?.replicationMode !== 'Shallow') return undefined
  const { targetRegions, replicaCount } = gallery
  const regions = new Set(targetRegions.map(r => r.name))
  const replicas = [replicaCount, ...targetRegions.map(r => r.replicas ?? replicaCount)]
  if (regions.size <= 1 && replicas.every(r => r === 1)) return undefined
  return `'Shallow' replication needs exactly one target region and one replica (target-regions lists ${regions.size} region(s), replicas ${[...new Set(replicas)].join('/')}).`
}

/** The first rule the plan breaks, as [input, message], or undefined when all hold. */
export function brokenRule(plan: RuledPlan): { input: string; message: string } | undefined {
  const rule = PLAN_RULES.find(r => !r.holds(plan))
  return rule === undefined ? undefined : { input: rule.inputs[0], message: rule.message(plan) }
}
