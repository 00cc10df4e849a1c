/**
 * The local cloud a build-mode run starts from, for the end-to-end tests and `npm run demo -- build`:
 * one resource group and, in the Marketplace catalogue, Canonical's Ubuntu 24.04 server SKU with the
 * versions the caller names. `WINDOWS_SERVER_2022` is the catalogue entry of the Windows builds.
 */
import type { MarketplaceImageSeed } from '../emulator/marketplace.js'
import { startLocalCloud, type LocalCloud } from './cloud.js'

export const UBUNTU_URN = 'Canonical:ubuntu-24_04-lts:server:latest'

/** Canonical's Ubuntu 24.04 LTS server SKU (Gen2), the one `UBUNTU_URN` names. */
export const UBUNTU_SERVER: MarketplaceImageSeed = {
  publisher: 'Canonical',
  offer: 'ubuntu-24_04-lts',
  sku: 'server',
  versions: ['24.04.202611250'],
  osType: 'Linux',
  hyperVGeneration: 'V2'
}

/** Windows Server 2022 Datacenter, Gen2 SKU. */
export const WINDOWS_SERVER_2022: MarketplaceImageSeed = {
  publisher: 'MicrosoftWindowsServer',
  offer: 'WindowsServer',
  sku: '2022-datacenter-g2',
  versions: ['20348.4405.251105'],
  osType: 'Windows',
  hyperVGeneration: 'V2'
}

/** Resource types a build creates only for the run: none may be left once the post step ran. */
export const BUILD_TEMPORARY_TYPES = [
  'Microsoft.Compute/virtualMachines',
  'Microsoft.Compute/disks',
  'Microsoft.Network/networkInterfaces',
  'Microsoft.Network/networkSecurityGroups',
  'Microsoft.Network/virtualNetworks',
  'Microsoft.Network/publicIPAddresses'
]

export type UbuntuVariant = Partial<
  Pick<MarketplaceImageSeed, 'versions' | 'securityType' | 'architecture'>
>

/** The resource group and the Ubuntu SKU (`ubuntu` overrides its versions and features). */
export function seedBuildCatalogue(
  cloud: LocalCloud,
  resourceGroup: string,
  location: string,
  ubuntu: UbuntuVariant = {}
): void {
  cloud.emu.addResourceGroup(resourceGroup, location)
  cloud.emu.addMarketplaceImage({ ...UBUNTU_SERVER, ...ubuntu })
}

/** A fresh cloud whose operations finish on their first poll, seeded by `seedBuildCatalogue`. */
export async function startBuildCloud(
  resourceGroup: string,
  location: string,
  ubuntu: UbuntuVariant = {}
): Promise<LocalCloud> {
  const cloud = await startLocalCloud({ lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 } })
  seedBuildCatalogue(cloud, resourceGroup, location, ubuntu)
  return cloud
}
