/**
 * The Marketplace VM image catalogue (Compute "VirtualMachineImages": publishers / offers / skus /
 * versions per location) and the Marketplace terms of the subscription
 * (Microsoft.MarketplaceOrdering agreements). Seeded by tests; read by the action.
 */
import type { State } from './types.js'

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
