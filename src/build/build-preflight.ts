/**
 * Build mode's read-only preflight: the region, the base image, the subnet, the VM size (offered
 * in the region, its architecture, Hyper-V generations and Trusted Launch support, from the Resource
 * SKUs API), the vCPU quota (Compute usages API), the Marketplace plan's terms (Marketplace
 * agreements API), the build VM's security type, and the names of the temporary resources. What
 * cannot work is refused here, before anything is created.
 */
import { createDefaultHttpClient, createPipelineRequest } from '@azure/core-rest-pipeline'
import type { ResourceSku } from '@azure/arm-compute'
import type { AzureClients } from '../azure/clients.js'
import { parseResourceId, sameResourceId } from '../azure/resource-id.js'
import { buildResourceIds } from '../ledger.js'
import type { Logger } from '../log.js'
import type { Architecture, BuildSource, HyperVGeneration, Owner, SecurityType } from '../plan.js'
import { StepFailure } from '../run-context.js'
import { isOwnedBy } from '../tags.js'
import { oneLine } from '../untrusted.js'
import { readBaseImage, type BaseImageFacts, type PurchasePlan } from './base-image.js'
import { readGivenSubnet, TEMPORARY_ADDRESS_SPACE, type GivenSubnet } from './build-network.js'
import { readBuildResource } from './build-cleanup.js'
import { errorMessage } from '../error-message.js'

/** What the Resource SKUs API says of the VM size in the region. */
export interface SizeFacts {
  name: string
  family?: string
  vCPUs?: number
  /** Undefined when the Resource SKUs API could not be read (then not checked). */
  architecture?: Architecture
  hyperVGenerations: HyperVGeneration[]
  trustedLaunchDisabled: boolean
}

export interface BuildPreflight {
  location: string
  image: BaseImageFacts
  subnet?: GivenSubnet
  size: SizeFacts
  /** The build VM's security type. */
  vmSecurityType: 'Standard' | 'TrustedLaunch'
  /** The image's, for the targets: `security-type` when given, else the VM's. */
  imageSecurityType: SecurityType
  /** Temporary resources an earlier attempt of this job left (re-run): replaced. */
  leftovers: string[]
}

/** An existing gallery image definition the version goes into: its name and SecurityType feature. */
export interface ExistingDefinition {
  name: string
  securityType: string
}

/**
 * The build VM's security type, per the contract: `security-type` when given, else Trusted Launch
 * when the base image supports it and the targets allow it (a gallery only: Azure makes no managed
 * image of a Trusted Launch VM), else Standard. Returns a refusal when the combination cannot work.
 * An existing definition decides too: one without the SecurityType feature (Standard) takes only a
 * Standard VM, a TrustedLaunch one only a Trusted Launch VM, and the `…Supported` kinds no VM
 * source at all, only a managed image of a Standard VM (`securityMismatch` in
 * src/targets/gallery-model.ts; real-azure.md row 1).
 */
export function decideSecurity(
  given: SecurityType | undefined,
  image: Pick<BaseImageFacts, 'security' | 'hyperVGeneration'>,
  managedImageTarget: boolean,
  definition?: ExistingDefinition
): { vm: 'Standard' | 'TrustedLaunch'; image: SecurityType } | { refusal: string } {
  if (image.security === 'ConfidentialVM') {
    return {
      refusal: `The base image is a confidential VM image (SecurityType ConfidentialVM): the action builds Standard and Trusted Launch images only.`
    }
  }
  if (definition !== undefined) {
    const decided = followDefinition(given, image, definition)
    if (decided !== undefined) return decided
  }
  if (given !== undefined && given !== 'Standard') {
    if (image.hyperVGeneration === 'V1') {
      return {
        refusal: `Input 'security-type': '${given}' needs a Hyper-V generation 2 image (Trusted Launch boots with UEFI), but the base image is V1. Use a Gen2 base image, or 'security-type: Standard'.`
      }
    }
    if (image.security === 'Standard') {
      return {
        refusal: `Input 'security-type': '${given}', but the base image does not support Trusted Launch (no SecurityType feature). Use 'security-type: Standard', or a base image that supports Trusted Launch.`
      }
    }
    if (managedImageTarget) {
      return {
        refusal: `Input 'security-type': '${given}' makes the build VM Trusted Launch, and Azure makes no managed image of a Trusted Launch VM. Remove 'image-name' and publish to a gallery, or use 'security-type: Standard'.`
      }
    }
    return { vm: 'TrustedLaunch', image: given }
  }
  if (given === 'Standard') {
    if (image.security === 'TrustedLaunch') {
      return {
        refusal: `Input 'security-type': 'Standard', but the base image boots only as Trusted Launch (SecurityType TrustedLaunch). Remove 'security-type' and publish to a gallery only.`
      }
    }
    return { vm: 'Standard', image: 'Standard' }
  }
  if (image.security === 'TrustedLaunch' && managedImageTarget) {
    return {
      refusal: `Input 'image-name': the base image boots only as Trusted Launch, and Azure makes no managed image of a Trusted Launch VM. Remove 'image-name' and publish to a gallery.`
    }
  }
  if (image.security !== 'Standard' && !managedImageTarget) {
    return { vm: 'TrustedLaunch', image: 'TrustedLaunch' }
  }
  return { vm: 'Standard', image: 'Standard' }
}

/**
 * What an existing definition decides alone: a `security-type` it cannot take is refused, and
 * without one, a definition other than TrustedLaunch gets a Standard VM (refused when the base
 * image boots only as Trusted Launch). Undefined when the general rules decide.
 */
function followDefinition(
  given: SecurityType | undefined,
  image: Pick<BaseImageFacts, 'security'>,
  definition: ExistingDefinition
): { vm: 'Standard'; image: 'Standard' } | { refusal: string } | undefined {
  const trustedLaunch = definition.securityType.toLowerCase() === 'trustedlaunch'
  const standard = definition.securityType.toLowerCase() === 'standard'
  const named = `gallery image definition '${definition.name}'`
  if (given !== undefined && ((standard && given !== 'Standard') || (trustedLaunch && given !== 'TrustedLaunch'))) {
    const has = standard
      ? 'has no SecurityType feature (Standard) and takes only a Standard VM'
      : 'has security type TrustedLaunch and takes only a Trusted Launch VM'
    return {
      refusal: `Input 'security-type': '${given}', but ${named} ${has}. Remove 'security-type' (the build then follows the definition), or publish into another definition.`
    }
  }
  if (given !== undefined || trustedLaunch) return undefined
  if (image.security === 'TrustedLaunch') {
    return {
      refusal: oneLine(
        `The base image boots only as Trusted Launch (SecurityType TrustedLaunch), but ${named} has security type ${definition.securityType}, which takes no Trusted Launch VM. Publish into a definition created with the feature SecurityType=TrustedLaunch.`
      )
    }
  }
  return { vm: 'Standard', image: 'Standard' }
}

/** What the image and the size cannot do together; empty when the build can start. */
export function buildProblems(
  settings: Pick<BuildSource, 'vmSize' | 'osDiskSizeGb'>,
  image: BaseImageFacts,
  size: SizeFacts,
  vmSecurityType: 'Standard' | 'TrustedLaunch',
  managedImageTarget: boolean
): string[] {
  const problems: string[] = []
  if (size.architecture !== undefined && image.architecture !== size.architecture) {
    problems.push(
      `Input 'vm-size': ${settings.vmSize} is an ${size.architecture} size, but the base image is ${image.architecture}. Choose an ${image.architecture} size${image.architecture === 'Arm64' ? " (such as 'Standard_D2ps_v5')" : " (such as 'Standard_D2s_v5')"}.`
    )
  }
  if (size.hyperVGenerations.length > 0 && !size.hyperVGenerations.includes(image.hyperVGeneration)) {
    problems.push(
      `Input 'vm-size': ${settings.vmSize} runs Hyper-V generation ${size.hyperVGenerations.join('/')} only, but the base image is ${image.hyperVGeneration}. Choose a size that supports ${image.hyperVGeneration}.`
    )
  }
  if (vmSecurityType === 'TrustedLaunch' && size.trustedLaunchDisabled) {
    problems.push(
      `Input 'vm-size': ${settings.vmSize} cannot run Trusted Launch VMs (TrustedLaunchDisabled), and the build VM is Trusted Launch. Choose another size, or set 'security-type: Standard'.`
    )
  }
  if (managedImageTarget && image.architecture === 'Arm64') {
    problems.push(
      `Input 'image-name': the base image is Arm64, and Azure makes managed images of x64 VMs only. Remove 'image-name' and publish to a gallery.`
    )
  }
  if (
    settings.osDiskSizeGb !== undefined &&
    image.osDiskSizeGb !== undefined &&
    settings.osDiskSizeGb < image.osDiskSizeGb
  ) {
    problems.push(
      `Input 'os-disk-size-gb': ${settings.osDiskSizeGb} GiB is smaller than the base image's OS disk (${image.osDiskSizeGb} GiB); Azure only grows a disk. Set at least ${image.osDiskSizeGb}, or leave it out.`
    )
  }
  return problems
}

const capability = (sku: ResourceSku, name: string): string | undefined =>
  sku.capabilities?.find(c => c.name?.toLowerCase() === name.toLowerCase())?.value

/**
 * The size as the Resource SKUs API lists it in `location`; refuses one not offered there. A list
 * that cannot be read (Azure Stack Hub has no such API) is a warning: Azure decides at creation.
 */
async function readSize(
  clients: AzureClients,
  vmSize: string,
  location: string,
  log: Logger,
  signal: AbortSignal
): Promise<SizeFacts> {
  let found: ResourceSku | undefined
  try {
    for await (const sku of clients.compute.resourceSkus.list({
      filter: `location eq '${location}'`,
      abortSignal: signal
    })) {
      if (
        sku.resourceType === 'virtualMachines' &&
        sku.name?.toLowerCase() === vmSize.toLowerCase()
      ) {
        found = sku
        break
      }
    }
  } catch (e) {
    if (signal.aborted) throw e
    log.warning(
      oneLine(
        `Could not read the VM sizes offered in ${location} (${errorMessage(e)}); the size '${vmSize}' is not checked against the image, Azure decides when the VM is created.`
      )
    )
    return { name: vmSize, hyperVGenerations: [], trustedLaunchDisabled: false }
  }
  if (found === undefined) {
    throw new StepFailure(
      `Input 'vm-size': ${vmSize} is not offered in ${location} (Resource SKUs). List the sizes there with 'az vm list-skus --location ${location} --resource-type virtualMachines --output table'.`
    )
  }
  const restricted = (found.restrictions ?? []).find(
    r => r.type === 'Location' && (r.values ?? []).some(v => v.toLowerCase() === location)
  )
  if (restricted !== undefined) {
    throw new StepFailure(
      oneLine(
        `Input 'vm-size': ${vmSize} is restricted for this subscription in ${location} (${restricted.reasonCode ?? 'restricted'}). Choose another size or region, or ask Azure support to enable it.`
      )
    )
  }
  const vCPUs = Number(capability(found, 'vCPUs'))
  const generations = (capability(found, 'HyperVGenerations') ?? '')
    .split(',')
    .map(g => g.trim().toUpperCase())
    .filter((g): g is HyperVGeneration => g === 'V1' || g === 'V2')
  return {
    name: found.name ?? vmSize,
    family: found.family,
    vCPUs: Number.isFinite(vCPUs) ? vCPUs : undefined,
    architecture:
      capability(found, 'CpuArchitectureType')?.toLowerCase() === 'arm64' ? 'Arm64' : 'x64',
    hyperVGenerations: generations,
    trustedLaunchDisabled: capability(found, 'TrustedLaunchDisabled')?.toLowerCase() === 'true'
  }
}

/**
 * Room for the build VM in the region's vCPU quota (Compute usages: 'cores', Total Regional vCPUs,
 * and the size's family). A quota that cannot be read is a warning: Azure decides at creation.
 */
async function checkQuota(
  clients: AzureClients,
  size: SizeFacts,
  location: string,
  log: Logger,
  signal: AbortSignal
): Promise<void> {
  if (size.vCPUs === undefined) return
  const wanted = ['cores', size.family?.toLowerCase()].filter(n => n !== undefined)
  const short: string[] = []
  try {
    for await (const usage of clients.compute.usage.list(location, { abortSignal: signal })) {
      const name = usage.name?.value?.toLowerCase()
      if (name === undefined || !wanted.includes(name)) continue
      if (usage.currentValue + size.vCPUs > usage.limit) {
        short.push(
          `${usage.name?.localizedValue ?? usage.name?.value} (${usage.currentValue} of ${usage.limit} vCPUs used, the build VM needs ${size.vCPUs})`
        )
      }
    }
  } catch (e) {
    if (signal.aborted) throw e
    log.warning(
      oneLine(
        `Could not read the vCPU quota in ${location} (${errorMessage(e)}); going on, Azure decides when the VM is created.`
      )
    )
    return
  }
  if (short.length > 0) {
    throw new StepFailure(
      oneLine(
        `Not enough vCPU quota in ${location} for a ${size.name}: ${short.join('; ')}. Request more quota (Azure portal, Quotas) or choose another 'vm-size' or region.`
      )
    )
  }
}

/**
 * The Marketplace terms of the image's plan must be accepted in the subscription, or Azure refuses
 * the VM (MarketplacePurchaseEligibilityFailed). Read with the Marketplace agreements API
 * (MarketplaceAgreements_Get, `…/offerTypes/virtualmachine/…/agreements/current`, api-version
 * 2021-01-01), which has no client in this action's SDKs: sent through the Compute client's
 * pipeline (same endpoint, credential, retries). Unreadable: a warning.
 */
async function checkTerms(
  clients: AzureClients,
  plan: PurchasePlan,
  log: Logger,
  signal: AbortSignal
): Promise<void> {
  const path = [
    'subscriptions',
    clients.subscriptionId,
    'providers/Microsoft.MarketplaceOrdering/offerTypes/virtualmachine/publishers',
    encodeURIComponent(plan.publisher),
    'offers',
    encodeURIComponent(plan.product),
    'plans',
    encodeURIComponent(plan.name),
    'agreements/current'
  ].join('/')
  const url = `${clients.cloud.resourceManagerEndpoint}/${path}?api-version=2021-01-01`
  const accept = `az vm image terms accept --publisher ${plan.publisher} --offer ${plan.product} --plan ${plan.name}`
  let accepted: unknown
  try {
    const response = await clients.compute.pipeline.sendRequest(
      createDefaultHttpClient(),
      createPipelineRequest({ url, method: 'GET', abortSignal: signal })
    )
    if (response.status !== 200) throw new Error(`HTTP ${response.status}`)
    accepted = (JSON.parse(response.bodyAsText ?? '{}') as { properties?: { accepted?: unknown } })
      .properties?.accepted
  } catch (e) {
    if (signal.aborted) throw e
    log.warning(
      oneLine(
        `Could not read whether the Marketplace terms of plan ${plan.publisher}/${plan.product}/${plan.name} are accepted (${errorMessage(e)}); going on. If Azure refuses the VM, accept them once: ${accept}`
      )
    )
    return
  }
  if (accepted !== true) {
    throw new StepFailure(
      oneLine(
        `The base image has a Marketplace plan (${plan.publisher}/${plan.product}/${plan.name}) whose terms this subscription has not accepted: Azure would refuse the VM. Accept them once: ${accept}`
      )
    )
  }
}

/**
 * The temporary resources' names must be free or this job's own (an earlier attempt's, replaced):
 * a resource of that name without this job's owner key is refused, never overwritten.
 */
async function checkNames(
  clients: AzureClients,
  ids: string[],
  owner: Owner,
  signal: AbortSignal
): Promise<string[]> {
  const leftovers: string[] = []
  for (const id of ids) {
    const { resourceGroup: rg, name } = parseResourceId(id)
    const found = await readBuildResource(clients, id, signal)
    if (found === undefined) continue
    // Azure names the OS disk as asked but does not tag it with the VM; build-vm.ts tags it right
    // after. A run killed in between leaves an untagged disk attached to this job's own VM (the
    // first id, checked first): it is this job's too, and goes with the VM (deleteOption Delete).
    // Chaos seed 1233833524.
    const withOwnVm =
      found.managedBy !== undefined &&
      leftovers.length > 0 &&
      sameResourceId(found.managedBy, leftovers[0]) &&
      sameResourceId(leftovers[0], ids[0])
    if (!sameResourceId(found.id ?? '', id) || !(isOwnedBy(found.tags, owner.key) || withOwnVm)) {
      throw new StepFailure(
        oneLine(
          `'${name}' already exists in resource group '${rg}' and was not made by this job: the build's temporary resources take that name. Delete it, or use another resource group.`
        )
      )
    }
    leftovers.push(id)
  }
  return leftovers
}

export interface BuildPreflightDeps {
  clients: AzureClients
  log: Logger
  signal: AbortSignal
  subscriptionId: string
  resourceGroup: string
  owner: Owner
  /** Explicit `location`, normalised. */
  location?: string
  /** The resource group's region: the default location. */
  groupLocation: string
  managedImageTarget: boolean
  /** The existing gallery image definition the version goes into, if any. */
  existingDefinition?: ExistingDefinition
}

export async function checkBuild(
  deps: BuildPreflightDeps,
  settings: BuildSource
): Promise<BuildPreflight> {
  const { clients, log, signal } = deps
  const subnet = settings.subnet
    ? await readGivenSubnet(clients, settings.subnet, signal)
    : undefined
  if (subnet && deps.location !== undefined && subnet.location !== deps.location) {
    throw new StepFailure(
      `Input 'subnet-id': the subnet is in ${subnet.location}, but 'location' is ${deps.location}: the build VM must be in its subnet's region. Remove 'location' (the subnet's region is then used), or use a subnet in ${deps.location}.`
    )
  }
  const location = deps.location ?? subnet?.location ?? deps.groupLocation
  const image = await readBaseImage(clients, settings.baseImage, location, signal)
  log.info(
    oneLine(
      `Base image ${image.provenance}: ${image.osType}, Hyper-V ${image.hyperVGeneration}, ${image.architecture}, security ${image.security}${image.plan ? `, plan ${image.plan.publisher}/${image.plan.product}/${image.plan.name}` : ''}`
    )
  )
  const security = decideSecurity(
    settings.securityType,
    image,
    deps.managedImageTarget,
    deps.existingDefinition
  )
  if ('refusal' in security) throw new StepFailure(security.refusal)
  const size = await readSize(clients, settings.vmSize, location, log, signal)
  const problems = buildProblems(settings, image, size, security.vm, deps.managedImageTarget)
  if (problems.length > 0) throw new StepFailure(problems.join('\n'))
  if (image.plan) await checkTerms(clients, image.plan, log, signal)
  await checkQuota(clients, size, location, log, signal)
  const ids = buildResourceIds(
    { subscriptionId: deps.subscriptionId, resourceGroup: deps.resourceGroup },
    settings.names
  )
  const leftovers = await checkNames(
    clients,
    [ids.vm, ids.osDisk, ids.nic, ids.nsg, ...(subnet ? [] : [ids.vnet])],
    deps.owner,
    signal
  )
  return {
    location,
    image,
    subnet,
    size,
    vmSecurityType: security.vm,
    imageSecurityType: security.image,
    leftovers
  }
}

/** The build's part of the plan dry run prints. */
export function buildPlanLines(
  settings: BuildSource,
  pre: BuildPreflight,
  scripts: ReadonlyArray<{ name: string }>
): string[] {
  const { names } = settings
  const where = pre.subnet
    ? `in subnet ${pre.subnet.id}`
    : `in a temporary virtual network '${names.vnet}' (${TEMPORARY_ADDRESS_SPACE})`
  return [
    `Create network security group '${names.nsg}' (no inbound allow rule) and network interface '${names.nic}' (no public IP) ${where}`,
    `Create build VM '${names.vm}' (${pre.size.name}, ${pre.vmSecurityType}) in ${pre.location} from ${pre.image.provenance} (${pre.image.osType}, Hyper-V ${pre.image.hyperVGeneration}, ${pre.image.architecture})`,
    ...(pre.leftovers.length > 0
      ? [`Replace what an earlier attempt of this job left: ${pre.leftovers.map(id => id.split('/').at(-1)).join(', ')}`]
      : []),
    ...scripts.map((s, i) => `Run customization script ${i + 1}: ${s.name} (Run Command)`),
    `Generalize the OS in VM '${names.vm}' (${pre.image.osType === 'Windows' ? 'Sysprep' : 'waagent -deprovision+user'}), deallocate it and mark it generalized`
  ]
}
