/**
 * The base image, read before anything is created: which exact image (a Marketplace `latest`
 * resolved to its newest version in the region, a gallery definition to its latest version), and
 * what it is (OS, Hyper-V generation, architecture, purchase plan, security features), so what
 * cannot work is refused up front instead of after a VM was made.
 *
 * Sources: the VM image API (`virtualMachineImages.list` names the versions,
 * `virtualMachineImages.get` has `plan`, `osDiskImage`, `hyperVGeneration`, `architecture`,
 * `features` with `SecurityType`), the Compute Gallery API (a definition's `osType`, `osState`,
 * `hyperVGeneration`, `architecture`, `purchasePlan`, `features`; a version's
 * `publishingProfile.excludeFromLatest` and `targetRegions`), managed images
 * (`storageProfile.osDisk`). "latest" of a gallery definition is its highest version not excluded
 * from latest (image-version.md: "Exclude from latest ... won't be used when 'latest' is
 * specified"); versions compare as numbers, part by part.
 */
import type {
  GalleryImage,
  GalleryImageFeature,
  ImageReference,
  VirtualMachineImageFeature
} from '@azure/arm-compute'
import type { AzureClients } from '../azure/clients.js'
import { getOrUndefined } from '../azure/not-found.js'
import { normaliseRegion } from '../azure/region.js'
import { resourceId, type ResourceRef } from '../azure/resource-id.js'
import type { Architecture, BaseImage, HyperVGeneration, OsType } from '../plan.js'
import { StepFailure } from '../run-context.js'
import { oneLine } from '../untrusted.js'

/** A Marketplace purchase plan, carried to the VM (`plan`) and to a definition the action creates. */
export interface PurchasePlan {
  name: string
  publisher: string
  product: string
}

export interface BaseImageFacts {
  /** What the VM's `storageProfile.imageReference` names: an exact version, never `latest`. */
  reference: ImageReference
  /** The version resolved (Marketplace version, gallery version name, or '' for a managed image). */
  version: string
  /** The `base-image` tag: `publisher:offer:sku:version`, or the source's ID (with its version). */
  provenance: string
  osType: OsType
  hyperVGeneration: HyperVGeneration
  architecture: Architecture
  plan?: PurchasePlan
  /**
   * The image's own security: 'TrustedLaunchSupported' (either works), 'TrustedLaunch' (only a
   * Trusted Launch VM boots it), 'Standard' (no Trusted Launch), 'ConfidentialVM' (not for this action).
   */
  security: 'Standard' | 'TrustedLaunchSupported' | 'TrustedLaunch' | 'ConfidentialVM'
  /** The OS disk size of the image, when the API says it (managed images and gallery versions). */
  osDiskSizeGb?: number
}

/** Compares dotted version numbers part by part, as numbers ('1.10.0' > '1.9.0'). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0)
    if (d !== 0) return d
  }
  return 0
}

/** The newest of `versions`, or undefined when there is none. */
export function newestVersion(versions: string[]): string | undefined {
  return [...versions].sort(compareVersions).at(-1)
}

/**
 * The image's security from its `SecurityType` feature (Marketplace images and gallery
 * definitions list it the same way): 'TrustedLaunchSupported' and
 * 'TrustedLaunchAndConfidentialVmSupported' boot either way; 'TrustedLaunch' only as Trusted Launch;
 * 'ConfidentialVM*' are confidential images; no feature means Standard. (The Azure CLI decides its
 * Trusted Launch default from the same feature: azure-cli vm/_validators.py.)
 */
export function securityOf(
  features: Array<VirtualMachineImageFeature | GalleryImageFeature> | undefined,
  generation: HyperVGeneration
): BaseImageFacts['security'] {
  const value = features
    ?.find(f => f.name?.toLowerCase() === 'securitytype')
    ?.value?.toLowerCase()
  if (value === undefined || value === 'standard') return 'Standard'
  if (value === 'trustedlaunch') return 'TrustedLaunch'
  if (value === 'trustedlaunchsupported' || value === 'trustedlaunchandconfidentialvmsupported')
    return generation === 'V2' ? 'TrustedLaunchSupported' : 'Standard'
  return 'ConfidentialVM'
}

const osTypeOf = (value: string | undefined, what: string): OsType => {
  const lower = value?.toLowerCase()
  if (lower === 'linux') return 'Linux'
  if (lower === 'windows') return 'Windows'
  throw new StepFailure(oneLine(`${what} does not say its OS type (Linux or Windows).`))
}
const generationOf = (value: string | undefined): HyperVGeneration =>
  value?.toUpperCase() === 'V2' ? 'V2' : 'V1'
const architectureOf = (value: string | undefined): Architecture =>
  value?.toLowerCase() === 'arm64' ? 'Arm64' : 'x64'

function planOf(
  plan: { name?: string; publisher?: string; product?: string } | undefined
): PurchasePlan | undefined {
  if (!plan?.name || !plan.publisher || !plan.product) return undefined
  return { name: plan.name, publisher: plan.publisher, product: plan.product }
}

async function marketplace(
  clients: AzureClients,
  base: Extract<BaseImage, { kind: 'marketplace' }>,
  location: string,
  signal: AbortSignal
): Promise<BaseImageFacts> {
  const { publisher, offer, sku } = base
  const urn = `${publisher}:${offer}:${sku}`
  let version = base.version
  if (version === 'latest') {
    const listed = await getOrUndefined(
      clients.compute.virtualMachineImages.list(location, publisher, offer, sku, {
        abortSignal: signal
      })
    )
    const newest = newestVersion((listed ?? []).map(v => v.name))
    if (newest === undefined) {
      throw new StepFailure(
        `Input 'base-image': no Marketplace image ${urn} in ${location} (the VM image API lists no version). Check the URN with 'az vm image list --location ${location} --publisher ${publisher} --offer ${offer} --sku ${sku} --all'.`
      )
    }
    version = newest
  }
  const image = await getOrUndefined(
    clients.compute.virtualMachineImages.get(location, publisher, offer, sku, version, {
      abortSignal: signal
    })
  )
  if (image === undefined) {
    throw new StepFailure(
      `Input 'base-image': Marketplace image ${urn}:${version} does not exist in ${location}. Use 'latest', or a version 'az vm image list --location ${location} --publisher ${publisher} --offer ${offer} --sku ${sku} --all' shows.`
    )
  }
  const generation = generationOf(image.hyperVGeneration)
  return {
    reference: { publisher, offer, sku, version },
    version,
    provenance: `${urn}:${version}`,
    osType: osTypeOf(image.osDiskImage?.operatingSystem, `Marketplace image ${urn}:${version}`),
    hyperVGeneration: generation,
    architecture: architectureOf(image.architecture),
    plan: planOf(image.plan),
    security: securityOf(image.features, generation)
  }
}

async function managedImage(
  clients: AzureClients,
  base: Extract<BaseImage, { kind: 'managed-image' }>,
  location: string,
  signal: AbortSignal
): Promise<BaseImageFacts> {
  const id = resourceId(base.image, 'Microsoft.Compute', 'images')
  const image = await getOrUndefined(
    clients.compute.images.get(base.image.resourceGroup, base.image.name, { abortSignal: signal })
  )
  if (image === undefined) {
    throw new StepFailure(`Input 'base-image': managed image ${id} does not exist.`)
  }
  // A VM is made from a managed image only in the image's region.
  if (normaliseRegion(image.location) !== location) {
    throw new StepFailure(
      oneLine(
        `Input 'base-image': managed image '${base.image.name}' is in ${normaliseRegion(image.location)}, but the build runs in ${location}: a VM is made from a managed image in its own region. Set 'location: ${normaliseRegion(image.location)}'.`
      )
    )
  }
  const os = image.storageProfile?.osDisk
  if (os?.osState !== undefined && os.osState !== 'Generalized') {
    throw new StepFailure(
      `Input 'base-image': managed image '${base.image.name}' is not generalized: a build VM needs a generalized image.`
    )
  }
  return {
    reference: { id },
    version: '',
    provenance: id,
    osType: osTypeOf(os?.osType, `Managed image '${base.image.name}'`),
    hyperVGeneration: generationOf(image.hyperVGeneration),
    // Azure makes managed images from x64 sources only (see plan-rules.ts).
    architecture: 'x64',
    // Trusted Launch VMs are not made from managed images ("Managed images" is among Trusted
    // Launch's unsupported features, trusted-launch.md): use a gallery for that.
    security: 'Standard',
    osDiskSizeGb: os?.diskSizeGB
  }
}

/** 'latest' of a gallery definition: its newest succeeded version not excluded from latest. */
async function newestUsableVersion(
  clients: AzureClients,
  base: { gallery: ResourceRef; definition: string },
  signal: AbortSignal
): Promise<string> {
  const { gallery: g, definition } = base
  const usable: string[] = []
  for await (const v of clients.compute.galleryImageVersions.listByGalleryImage(
    g.resourceGroup,
    g.name,
    definition,
    { abortSignal: signal }
  )) {
    if (v.provisioningState === 'Succeeded' && v.publishingProfile?.excludeFromLatest !== true)
      usable.push(v.name ?? '')
  }
  const newest = newestVersion(usable.filter(v => v !== ''))
  if (newest === undefined) {
    throw new StepFailure(
      oneLine(
        `Input 'base-image': gallery image definition '${definition}' has no succeeded version that is not excluded from latest.`
      )
    )
  }
  return newest
}

async function gallery(
  clients: AzureClients,
  base: Extract<BaseImage, { kind: 'gallery-definition' | 'gallery-version' }>,
  location: string,
  signal: AbortSignal
): Promise<BaseImageFacts> {
  const { gallery: g, definition } = base
  const definitionId = `${resourceId(g, 'Microsoft.Compute', 'galleries')}/images/${definition}`
  const image: GalleryImage | undefined = await getOrUndefined(
    clients.compute.galleryImages.get(g.resourceGroup, g.name, definition, { abortSignal: signal })
  )
  if (image === undefined) {
    throw new StepFailure(`Input 'base-image': gallery image definition ${definitionId} does not exist.`)
  }
  if (image.osState !== undefined && image.osState !== 'Generalized') {
    throw new StepFailure(
      oneLine(
        `Input 'base-image': gallery image definition '${definition}' is ${image.osState}: a build VM needs a generalized image (it is given a new admin account).`
      )
    )
  }
  const version =
    base.kind === 'gallery-version'
      ? base.version
      : await newestUsableVersion(clients, { gallery: g, definition }, signal)
  const found = await getOrUndefined(
    clients.compute.galleryImageVersions.get(g.resourceGroup, g.name, definition, version, {
      abortSignal: signal
    })
  )
  if (found === undefined) {
    throw new StepFailure(
      oneLine(`Input 'base-image': gallery image version ${definitionId}/versions/${version} does not exist.`)
    )
  }
  if (found.provisioningState !== undefined && found.provisioningState !== 'Succeeded') {
    throw new StepFailure(
      oneLine(
        `Input 'base-image': gallery image version ${version} of '${definition}' is ${found.provisioningState}, not Succeeded.`
      )
    )
  }
  // A VM is made from a gallery version only where it has a replica.
  const regions = (found.publishingProfile?.targetRegions ?? []).map(r => normaliseRegion(r.name))
  const home = normaliseRegion(found.location)
  if (![home, ...regions].includes(location)) {
    throw new StepFailure(
      oneLine(
        `Input 'base-image': gallery image version ${version} of '${definition}' has no replica in ${location} (it is in ${[...new Set([home, ...regions])].join(', ')}). Set 'location' to one of those, or replicate the version to ${location}.`
      )
    )
  }
  const generation = generationOf(image.hyperVGeneration)
  const versionId = `${definitionId}/versions/${version}`
  return {
    reference: { id: versionId },
    version,
    provenance: versionId,
    osType: osTypeOf(image.osType, `Gallery image definition '${definition}'`),
    hyperVGeneration: generation,
    architecture: architectureOf(image.architecture),
    plan: planOf(image.purchasePlan),
    security: securityOf(image.features, generation),
    osDiskSizeGb: found.storageProfile?.osDiskImage?.sizeInGB
  }
}

/** Reads the base image in `location` (normalised). Read-only. */
export async function readBaseImage(
  clients: AzureClients,
  base: BaseImage,
  location: string,
  signal: AbortSignal
): Promise<BaseImageFacts> {
  switch (base.kind) {
    case 'marketplace':
      return marketplace(clients, base, location, signal)
    case 'managed-image':
      return managedImage(clients, base, location, signal)
    case 'gallery-definition':
    case 'gallery-version':
      return gallery(clients, base, location, signal)
  }
}
