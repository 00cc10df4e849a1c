import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import type { ComputeManagementClient, ResourceSku } from '@azure/arm-compute'
import { startArmEmulator, type ArmEmulator } from '../emulator/index.js'
import { arm, computeClient, trustEmulator } from './helpers.js'

describe('ARM emulator Compute usages and resource SKUs', () => {
  let emu: ArmEmulator
  let client: ComputeManagementClient
  beforeAll(async () => {
    emu = await startArmEmulator()
    trustEmulator(emu)
    client = computeClient(emu)
    emu.addResourceGroup('rg', 'westus')
  })
  afterAll(async () => emu.close())

  async function usages(location: string) {
    const out: Record<string, { current: number; limit: number; label: string }> = {}
    for await (const u of client.usage.list(location))
      out[u.name.value!] = {
        current: u.currentValue,
        limit: u.limit,
        label: u.name.localizedValue!
      }
    return out
  }

  it('counts the vCPUs of allocated VMs per family and in total, on top of seeded usage', async () => {
    emu.setUsage({ location: 'westus', name: 'standardDSv5Family', currentValue: 4, limit: 10 })
    emu.addVm({ resourceGroup: 'rg', name: 'a', location: 'westus', osType: 'Linux' })
    emu.addVm({
      resourceGroup: 'rg',
      name: 'b',
      location: 'westus',
      osType: 'Linux',
      powerState: 'deallocated'
    })
    const u = await usages('westus')
    // addVm seeds Standard_D2s_v5 (2 vCPUs); the deallocated one holds none.
    expect(u.standardDSv5Family).toEqual({
      current: 6,
      limit: 10,
      label: 'Standard DSv5 Family vCPUs'
    })
    expect(u.cores).toEqual({ current: 2, limit: 100, label: 'Total Regional vCPUs' })
    expect((await usages('eastus')).standardDSv5Family.current).toBe(0)
  })

  it('refuses a VM that would exceed the family quota with 409 OperationNotAllowed at the request', async () => {
    emu.setUsage({ location: 'westus', name: 'standardDSv5Family', currentValue: 8, limit: 10 })
    emu.addMarketplaceImage({
      publisher: 'p',
      offer: 'o',
      sku: 's',
      versions: ['1.0.0'],
      osType: 'Linux'
    })
    const r = await arm(
      emu,
      'PUT',
      `/subscriptions/${emu.subscriptionId}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/q?api-version=2025-04-01`,
      {
        location: 'westus',
        properties: {
          hardwareProfile: { vmSize: 'Standard_D2s_v5' },
          storageProfile: {
            imageReference: { publisher: 'p', offer: 'o', sku: 's', version: 'latest' }
          },
          osProfile: {
            computerName: 'q',
            adminUsername: 'builder',
            adminPassword: 'Str0ng-and-long!'
          },
          networkProfile: { networkInterfaces: [] }
        }
      }
    )
    expect(r.status).toBe(409)
    expect(r.body.error).toEqual({
      code: 'OperationNotAllowed',
      message:
        'Operation could not be completed as it results in exceeding approved standardDSv5Family Cores quota. Additional details - Deployment Model: Resource Manager, Location: westus, Current Limit: 10, Current Usage: 10, Additional Required: 2, (Minimum) New Limit Required: 12.'
    })
  })

  it('lists VM sizes as resource SKUs with family, vCPUs, generations, architecture, Trusted Launch and restrictions', async () => {
    emu.addVmSize({
      name: 'Standard_Busy_v5',
      family: 'standardDSv5Family',
      vCPUs: 2,
      memoryGB: 8,
      architecture: 'x64',
      hyperVGenerations: ['V1', 'V2'],
      notAvailableIn: ['westus']
    })
    const skus: ResourceSku[] = []
    for await (const s of client.resourceSkus.list({ filter: "location eq 'westus'" })) skus.push(s)
    const cap = (name: string, key: string) =>
      skus.find(s => s.name === name)?.capabilities?.find(c => c.name === key)?.value
    expect(cap('Standard_D2ps_v5', 'CpuArchitectureType')).toBe('Arm64')
    expect(cap('Standard_D2ps_v5', 'HyperVGenerations')).toBe('V2')
    expect(cap('Standard_D2s_v5', 'vCPUs')).toBe('2')
    expect(cap('Standard_A2_v2', 'TrustedLaunchDisabled')).toBe('True')
    expect(skus.find(s => s.name === 'Standard_D2s_v5')?.family).toBe('standardDSv5Family')
    expect(skus.find(s => s.name === 'Standard_Busy_v5')?.restrictions).toEqual([
      {
        type: 'Location',
        values: ['westus'],
        restrictionInfo: { locations: ['westus'] },
        reasonCode: 'NotAvailableForSubscription'
      }
    ])
  })
})
