import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { startArmEmulator, type ArmEmulator } from '../emulator/index.js'
import { arm, trustEmulator } from './helpers.js'

describe('ARM emulator build-mode seeding and read helpers', () => {
  let emu: ArmEmulator
  beforeAll(async () => {
    emu = await startArmEmulator()
    trustEmulator(emu)
    emu.addResourceGroup('rg', 'westus')
  })
  afterAll(async () => emu.close())

  it('seeds a virtual network with its subnets, which do not count as created by the run', async () => {
    const vnet = emu.addVirtualNetwork({
      resourceGroup: 'rg',
      name: 'vnet',
      location: 'westus',
      subnets: [{ name: 'build', addressPrefix: '10.0.1.0/24' }]
    })
    expect(vnet.properties.addressSpace.addressPrefixes).toEqual(['10.0.0.0/16'])
    const subnet = emu.resources.get(`${vnet.id}/subnets/build`)
    expect(subnet?.properties).toMatchObject({
      addressPrefix: '10.0.1.0/24',
      provisioningState: 'Succeeded'
    })
    expect(emu.resources.list('Microsoft.Network/virtualNetworks/subnets')).toHaveLength(1)
    expect(emu.resources.created()).toEqual([])

    // A resource a request makes is "created"; the seeded ones still are not.
    const diskPath = `/subscriptions/${emu.subscriptionId}/resourceGroups/rg/providers/Microsoft.Compute/disks/d1?api-version=2025-01-02`
    const put = await arm(emu, 'PUT', diskPath, {
      location: 'westus',
      sku: { name: 'Standard_LRS' },
      properties: { creationData: { createOption: 'Empty' }, diskSizeGB: 4 }
    })
    expect(put.status).toBeLessThan(300)
    expect(emu.resources.created().map(r => r.name)).toEqual(['d1'])
    expect(emu.resources.created('Microsoft.Network/virtualNetworks')).toEqual([])
  })
})
