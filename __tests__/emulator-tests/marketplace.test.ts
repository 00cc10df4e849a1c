import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import type { ComputeManagementClient } from '@azure/arm-compute'
import { startArmEmulator, type ArmEmulator } from '../emulator/index.js'
import { arm, computeClient, trustEmulator } from './helpers.js'

describe('ARM emulator Marketplace image catalogue', () => {
  let emu: ArmEmulator
  let client: ComputeManagementClient
  beforeAll(async () => {
    emu = await startArmEmulator()
    trustEmulator(emu)
    client = computeClient(emu)
    emu.addMarketplaceImage({
      publisher: 'RedHat',
      offer: 'RHEL',
      sku: '8-lvm-gen2',
      versions: ['8.9.2024022012', '8.10.2024070513', '8.8.2023080313'],
      osType: 'Linux',
      hyperVGeneration: 'V2',
      securityType: 'TrustedLaunchSupported'
    })
    emu.addMarketplaceImage({
      publisher: 'thirdparty',
      offer: 'appliance',
      sku: 'arm',
      versions: ['1.0.0'],
      locations: ['eastus'],
      osType: 'Linux',
      architecture: 'Arm64',
      plan: { name: 'arm', product: 'appliance', publisher: 'thirdparty' }
    })
  })
  afterAll(async () => emu.close())

  it('orders versions as strings for $orderby=name desc, as Azure does', async () => {
    const top = await client.virtualMachineImages.list('westus', 'RedHat', 'RHEL', '8-lvm-gen2', {
      orderby: 'name desc',
      top: 1
    })
    // azure-rest-api-specs#30142: 8.9.* sorts after 8.10.* as a string.
    expect(top.map(v => v.name)).toEqual(['8.9.2024022012'])
    const all = await client.virtualMachineImages.list('westus', 'redhat', 'rhel', '8-LVM-GEN2')
    expect(all.map(v => v.name)).toEqual(['8.10.2024070513', '8.8.2023080313', '8.9.2024022012'])
    expect(all[0]).toMatchObject({
      location: 'westus',
      id: expect.stringMatching(
        /^\/Subscriptions\/.+\/Providers\/Microsoft\.Compute\/Locations\/westus\/Publishers\/RedHat\/ArtifactTypes\/VMImage\/Offers\/RHEL\/Skus\/8-lvm-gen2\/Versions\/8\.10\.2024070513$/
      )
    })
  })

  it('gets a version with OS, generation, architecture, features and plan', async () => {
    const img = await client.virtualMachineImages.get(
      'westus',
      'RedHat',
      'RHEL',
      '8-lvm-gen2',
      '8.10.2024070513'
    )
    expect(img.osDiskImage?.operatingSystem).toBe('Linux')
    expect(img.hyperVGeneration).toBe('V2')
    expect(img.architecture).toBe('x64')
    expect(img.features).toContainEqual({ name: 'SecurityType', value: 'TrustedLaunchSupported' })
    expect(img.imageDeprecationStatus?.imageState).toBe('Active')
    expect(img.plan).toBeUndefined()

    const arm64 = await client.virtualMachineImages.get(
      'eastus',
      'thirdparty',
      'appliance',
      'arm',
      '1.0.0'
    )
    expect(arm64.architecture).toBe('Arm64')
    expect(arm64.plan).toEqual({ name: 'arm', product: 'appliance', publisher: 'thirdparty' })
    expect(arm64.features?.some(f => f.name === 'SecurityType')).toBe(false)
  })

  it('answers 404 NotFound for an unknown SKU, region, version or `latest`', async () => {
    const base = `/subscriptions/${emu.subscriptionId}/providers/Microsoft.Compute/locations`
    for (const path of [
      `${base}/westus/publishers/RedHat/artifacttypes/vmimage/offers/RHEL/skus/nope/versions?api-version=2024-11-01`,
      `${base}/westus/publishers/thirdparty/artifacttypes/vmimage/offers/appliance/skus/arm/versions?api-version=2024-11-01`,
      `${base}/westus/publishers/RedHat/artifacttypes/vmimage/offers/RHEL/skus/8-lvm-gen2/versions/8.1.0?api-version=2024-11-01`,
      `${base}/westus/publishers/RedHat/artifacttypes/vmimage/offers/RHEL/skus/8-lvm-gen2/versions/latest?api-version=2024-11-01`
    ]) {
      const r = await arm(emu, 'GET', path)
      expect({ path, status: r.status, body: r.body }).toEqual({
        path,
        status: 404,
        body: { error: { code: 'NotFound', message: 'Artifact: VMImage was not found.' } }
      })
    }
  })

  it('tells whether the Marketplace terms of a plan are accepted', async () => {
    const path = (plan: string): string =>
      `/subscriptions/${emu.subscriptionId}/providers/Microsoft.MarketplaceOrdering/offerTypes/virtualmachine/publishers/thirdparty/offers/appliance/plans/${plan}/agreements/current?api-version=2021-01-01`
    const r = await arm(emu, 'GET', path('arm'))
    expect(r.status).toBe(200)
    expect(r.body.properties).toMatchObject({
      publisher: 'thirdparty',
      product: 'appliance',
      plan: 'arm',
      accepted: false
    })
    emu.addMarketplaceImage({
      publisher: 'thirdparty',
      offer: 'appliance',
      sku: 'x64',
      versions: ['1.0.0'],
      osType: 'Linux',
      plan: { name: 'x64', product: 'appliance', publisher: 'thirdparty' },
      termsAccepted: true
    })
    expect((await arm(emu, 'GET', path('x64'))).body.properties.accepted).toBe(true)
  })
})
