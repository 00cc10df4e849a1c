/**
 * The Marketplace VM image catalogue (Compute "VirtualMachineImages": publishers / offers / skus /
 * versions per location) and the Marketplace terms of the subscription
 * (Microsoft.MarketplaceOrdering agreements). Seeded by tests; read by the action.
 */
import type { Body, Ctx, Reply, State } from './types.js'
import { armError } from './errors.js'

/** The `SecurityType` feature a Marketplace image version carries (VirtualMachineImageFeature). */
export type ImageSecurityType =
  | 'Standard'
  | 'TrustedLaunchSupported'
  | 'TrustedLaunchAndConfidentialVmSupported'
  | 'ConfidentialVmSupported'
  | 'TrustedLaunch'

export interface MarketplaceImageSeed {
  publisher: string
  offer: string
  sku: string
  /** versions of the SKU, in any order (e.g. '24.04.202611250') */
  versions: string[]
  /** regions the SKU is offered in (default: every region) */
  locations?: string[]
  osType: 'Linux' | 'Windows'
  /** Hyper-V generation of the SKU's versions (default V1); Gen1 and Gen2 are separate SKUs */
  hyperVGeneration?: 'V1' | 'V2'
  architecture?: 'x64' | 'Arm64'
  /** purchase plan (third-party images): the VM must name it and the terms must be accepted */
  plan?: { name: string; product: string; publisher: string }
  /** whether the subscription has accepted the plan's terms (default false) */
  termsAccepted?: boolean
  /** the `SecurityType` feature; absent: no such feature (a Standard-only image) */
  securityType?: ImageSecurityType
  /** other features as the catalogue lists them (name/value pairs) */
  features?: { name: string; value: string }[]
  /** OS disk size of the image in GiB (default 30 Linux, 127 Windows) */
  osDiskSizeGB?: number
  /** `automaticOSUpgradeProperties.automaticOSUpgradeSupported` (default false; recorded true for Canonical 18.04) */
  automaticOSUpgradeSupported?: boolean
  /** `imageDeprecationStatus.imageState` of every version (default Active) */
  imageState?: 'Active' | 'ScheduledForDeprecation' | 'Deprecated'
}

/** One stored SKU of the catalogue. */
export interface MarketplaceSku extends MarketplaceImageSeed {
  locations: string[]
}

export function addMarketplaceImage(state: State, seed: MarketplaceImageSeed): MarketplaceSku {
  if (!seed.versions.length) throw new Error('addMarketplaceImage: at least one version')
  const sku: MarketplaceSku = {
    ...seed,
    versions: [...seed.versions],
    locations: (seed.locations ?? ['*']).map(l => l.replace(/\s+/g, '').toLowerCase())
  }
  state.marketplace.push(sku)
  if (sku.plan && sku.termsAccepted) state.acceptedTerms.add(termsKey(sku.plan))
  return sku
}

export const termsKey = (plan: { publisher: string; product: string; name: string }): string =>
  `${plan.publisher}/${plan.product}/${plan.name}`.toLowerCase()

const GiB = 1024 ** 3

/** A request's catalogue coordinates (path segments as sent). */
export interface ImagePath {
  location: string
  publisher: string
  offer: string
  sku: string
}

const eq = (a: string, b: string): boolean => a.toLowerCase() === b.toLowerCase()

/** The seeded SKU at these coordinates in this region, if any. */
export function findSku(state: State, p: ImagePath): MarketplaceSku | undefined {
  const loc = normLoc(p.location)
  return state.marketplace.find(
    s =>
      eq(s.publisher, p.publisher) &&
      eq(s.offer, p.offer) &&
      eq(s.sku, p.sku) &&
      (s.locations.includes('*') || s.locations.includes(loc))
  )
}

const normLoc = (l: string): string => l.replace(/\s+/g, '').toLowerCase()

/**
 * 404 for any unknown publisher, offer, SKU or version: `NotFound` "Artifact: VMImage was not
 * found." (Azure/vagrant-azure#147 quotes the body; danielsollondon/azvmimagebuilder#80 the same
 * text for a versions list with `$orderby=name desc&$top=1`).
 */
export function vmImageNotFound(): Reply {
  return armError(404, 'NotFound', 'Artifact: VMImage was not found.')
}

/** ID as recorded (REC test_vm_create_ubuntu.yaml): capitalised segments, the request's location. */
function versionId(state: State, sku: MarketplaceSku, location: string, version: string): string {
  return `/Subscriptions/${state.config.subscriptionId}/Providers/Microsoft.Compute/Locations/${location}/Publishers/${sku.publisher}/ArtifactTypes/VMImage/Offers/${sku.offer}/Skus/${sku.sku}/Versions/${version}`
}

/** Default features as recorded for a Canonical image (REC test_vm_create_ubuntu.yaml). */
const RECORDED_FEATURES = [
  { name: 'IsAcceleratedNetworkSupported', value: 'True' },
  { name: 'DiskControllerTypes', value: 'SCSI' },
  { name: 'IsHibernateSupported', value: 'False' }
]

/** The facts a VM made from this SKU takes (OS disk size in GiB as the VM gets it). */
export function imageFacts(sku: MarketplaceSku): {
  osType: 'Linux' | 'Windows'
  hyperVGeneration: 'V1' | 'V2'
  architecture: 'x64' | 'Arm64'
  diskSizeGB: number
  securityType?: ImageSecurityType
} {
  return {
    osType: sku.osType,
    hyperVGeneration: sku.hyperVGeneration ?? 'V1',
    architecture: sku.architecture ?? 'x64',
    diskSizeGB: sku.osDiskSizeGB ?? (sku.osType === 'Windows' ? 127 : 30),
    securityType: sku.securityType
  }
}

/** VirtualMachineImage body, key order as recorded (REC test_vm_create_ubuntu.yaml). */
export function imageBody(
  state: State,
  sku: MarketplaceSku,
  location: string,
  version: string
): Body {
  const facts = imageFacts(sku)
  // Recorded: a 30 GiB Ubuntu image is 30 GiB + 1 MiB + the 512-byte VHD footer (32213303808),
  // reported as sizeInGb 31.
  const sizeInBytes = facts.diskSizeGB * GiB + 1024 * 1024 + 512
  const features = [
    ...(sku.securityType ? [{ name: 'SecurityType', value: sku.securityType }] : []),
    ...(sku.features ?? RECORDED_FEATURES)
  ]
  return {
    properties: {
      ...(sku.plan ? { plan: { ...sku.plan } } : {}),
      hyperVGeneration: facts.hyperVGeneration,
      architecture: facts.architecture,
      replicaType: 'Unmanaged',
      disallowed: { vmDiskType: 'None' },
      automaticOSUpgradeProperties: {
        automaticOSUpgradeSupported: sku.automaticOSUpgradeSupported ?? false
      },
      imageDeprecationStatus: { imageState: sku.imageState ?? 'Active' },
      features,
      osDiskImage: {
        operatingSystem: facts.osType,
        sizeInGb: Math.ceil(sizeInBytes / GiB),
        sizeInBytes
      },
      dataDiskImages: []
    },
    location,
    name: version,
    id: versionId(state, sku, location, version)
  }
}

/**
 * `$orderby=name desc` orders version names as STRINGS: "8.9.2024022012" before "8.10.2024070513"
 * (Azure/azure-rest-api-specs#30142, ansible-collections/azure#1667). Without `$orderby` the order
 * is not documented; ascending string order here (unverified).
 */
function orderVersions(versions: string[], orderby: string | undefined): string[] {
  const asc = [...versions].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  const o = (orderby ?? '').trim().toLowerCase()
  return /^name\s+desc$/.test(o) ? asc.reverse() : asc
}

/** VirtualMachineImages_List (array of {location, name, id}) and ListWithProperties ($expand=Properties). */
export function listImageVersions(ctx: Ctx, p: ImagePath): Reply {
  const sku = findSku(ctx.state, p)
  if (!sku) return vmImageNotFound()
  let names = orderVersions(sku.versions, ctx.query['$orderby'])
  const top = ctx.query['$top']
  if (top !== undefined && /^\d+$/.test(top)) names = names.slice(0, Number(top))
  if ((ctx.query['$expand'] ?? '').toLowerCase() === 'properties')
    return {
      status: 200,
      body: { value: names.map(v => imageBody(ctx.state, sku, p.location, v)) }
    }
  return {
    status: 200,
    body: names.map(v => ({
      location: p.location,
      name: v,
      id: versionId(ctx.state, sku, p.location, v)
    }))
  }
}

/** VirtualMachineImages_Get: exact version only; this API has no `latest` (azure-powershell#15248). */
export function getImageVersion(ctx: Ctx, p: ImagePath, version: string): Reply {
  const sku = findSku(ctx.state, p)
  const v = sku?.versions.find(x => eq(x, version))
  if (!sku || !v) return vmImageNotFound()
  return { status: 200, body: imageBody(ctx.state, sku, p.location, v) }
}

/**
 * The newest version as a VM PUT's `version: latest` resolves it: by version number (the service
 * side of `latest`; Azure/azure-rest-api-specs#30142 reports that only client-side `$orderby` sorts
 * as strings; unverified beyond that).
 */
export function newestVersion(sku: MarketplaceSku): string {
  const num = (v: string): number[] => v.split('.').map(n => Number(n) || 0)
  return [...sku.versions].sort((a, b) => {
    const x = num(a)
    const y = num(b)
    for (let i = 0; i < Math.max(x.length, y.length); i++)
      if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0)
    return 0
  })[sku.versions.length - 1]
}

/**
 * MarketplaceAgreements_Get (`…/offerTypes/virtualmachine/publishers/{p}/offers/{o}/plans/{plan}/agreements/current`),
 * shape of the spec example GetMarketplaceTerms.json (MarketplaceOrdering 2021-01-01): any plan
 * answers, `accepted` says whether the subscription accepted it.
 */
export function getAgreement(ctx: Ctx, publisher: string, product: string, plan: string): Reply {
  const sub = ctx.state.config.subscriptionId
  return {
    status: 200,
    body: {
      id: `/subscriptions/${sub}/providers/Microsoft.MarketplaceOrdering/offerTypes/VirtualMachine/publishers/${publisher}/offers/${product}/plans/${plan}/agreements/current`,
      name: plan,
      type: 'Microsoft.MarketplaceOrdering/offertypes',
      properties: {
        publisher,
        product,
        plan,
        licenseTextLink: `https://mpcprodsa.blob.core.windows.net/legalterms/3E5ED_legalterms_${publisher.toUpperCase()}.txt`,
        privacyPolicyLink: 'https://example.invalid/privacy',
        marketplaceTermsLink:
          'https://mpcprodsa.blob.core.windows.net/marketplaceterms/3EDEF_marketplaceterms_VIRTUALMACHINE.txt',
        retrieveDatetime: new Date().toISOString(),
        signature: 'EMULATORSIGNATURE',
        accepted: ctx.state.acceptedTerms.has(termsKey({ publisher, product, name: plan }))
      }
    }
  }
}
