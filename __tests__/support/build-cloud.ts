/**
 * The local cloud a build-mode end-to-end test starts from: one resource group, Canonical's Ubuntu
 * 24.04 server SKU in the Marketplace catalogue (with the versions a test names), operations that
 * finish on their first poll.
 */
import type { MarketplaceImageSeed } from '../emulator/marketplace.js'
import { startLocalCloud, type LocalCloud } from './cloud.js'

export const UBUNTU_URN = 'Canonical:ubuntu-24_04-lts:server:latest'

export async function startBuildCloud(
  resourceGroup: string,
  location: string,
  ubuntu: Pick<MarketplaceImageSeed, 'versions' | 'securityType'> = {
    versions: ['24.04.202611250']
  }
): Promise<LocalCloud> {
  const cloud = await startLocalCloud({ lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 } })
  cloud.emu.addResourceGroup(resourceGroup, location)
  cloud.emu.addMarketplaceImage({
    publisher: 'Canonical',
    offer: 'ubuntu-24_04-lts',
    sku: 'server',
    osType: 'Linux',
    hyperVGeneration: 'V2',
    ...ubuntu
  })
  return cloud
}
