import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { startArmEmulator, type ArmEmulator } from '../emulator/index.js'
import { arm, trustEmulator } from './helpers.js'

/**
 * Azure ends an operation on its own: a client may read only the resource (`az … --no-wait` then
 * `az sig image-version wait --created`) and still sees it end. A client killed right after its PUT
 * was answered must not leave the resource Creating forever (README, "Where each behaviour comes
 * from", LROs).
 */
describe('an operation nobody polls still ends when its resource is read', () => {
  let emu: ArmEmulator
  const rg = 'rg-unpolled'
  const compute = (path: string, apiVersion: string): string =>
    `/subscriptions/${emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Compute/${path}?api-version=${apiVersion}`

  beforeAll(async () => {
    emu = await startArmEmulator({ lro: { pollsBeforeDone: 3, retryAfterSeconds: 0 } })
    trustEmulator(emu)
    emu.addResourceGroup(rg, 'westus')
    emu.addGallery(rg, 'g', 'westus')
    emu.addVm({
      resourceGroup: rg,
      name: 'vm',
      location: 'westus',
      osType: 'Linux',
      powerState: 'deallocated',
      generalized: true,
      hyperVGeneration: 'V2'
    })
  })
  afterAll(async () => emu.close())

  const states = async (path: string, apiVersion: string, reads: number): Promise<string[]> => {
    const seen: string[] = []
    for (let i = 0; i < reads; i++) {
      const got = await arm(emu, 'GET', compute(path, apiVersion))
      seen.push(got.body.properties.provisioningState)
    }
    return seen
  }

  it('a gallery image version (Azure-AsyncOperation only) reaches Succeeded by GETs of the version', async () => {
    const def = await arm(emu, 'PUT', compute('galleries/g/images/def', '2025-03-03'), {
      location: 'westus',
      properties: {
        osType: 'Linux',
        osState: 'Generalized',
        hyperVGeneration: 'V2',
        identifier: { publisher: 'p', offer: 'o', sku: 's' },
        features: [{ name: 'SecurityType', value: 'Standard' }]
      }
    })
    expect(def.status).toBe(201)
    await states('galleries/g/images/def', '2025-03-03', 3)

    const put = await arm(
      emu,
      'PUT',
      compute('galleries/g/images/def/versions/1.0.0', '2025-03-03'),
      {
        location: 'westus',
        properties: {
          storageProfile: {
            source: {
              virtualMachineId: `/subscriptions/${emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachines/vm`
            }
          }
        }
      }
    )
    expect(put.status).toBe(201)
    expect(put.headers.get('azure-asyncoperation')).toBeTruthy()
    // The status URL is never read: only the version, as `az sig image-version wait` does.
    expect(await states('galleries/g/images/def/versions/1.0.0', '2025-03-03', 4)).toEqual([
      'Creating',
      'Creating',
      'Succeeded',
      'Succeeded'
    ])
    const statusUrl = new URL(put.headers.get('azure-asyncoperation')!)
    const status = await arm(emu, 'GET', statusUrl.pathname + statusUrl.search)
    expect(status.body.status).toBe('Succeeded')
  })

  it('a managed image (async style) reaches Succeeded by GETs of the image', async () => {
    const put = await arm(emu, 'PUT', compute('images/img', '2024-11-01'), {
      location: 'westus',
      properties: {
        sourceVirtualMachine: {
          id: `/subscriptions/${emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachines/vm`
        },
        hyperVGeneration: 'V2'
      }
    })
    expect(put.status).toBe(201)
    expect(await states('images/img', '2024-11-01', 3)).toEqual([
      'Creating',
      'Creating',
      'Succeeded'
    ])
  })
})
