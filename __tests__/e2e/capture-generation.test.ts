/**
 * Where the Hyper-V generation of a captured VM comes from (real-azure.md row 11, issue 8 point 10):
 * the OS disk resource carries `hyperVGeneration`; the instance view's copy is optional in the API
 * spec (VirtualMachineInstanceView), and a deallocated VM's GET lacks other disk facts too
 * (test_vm_capture_zone_resilient_image). A Gen2 VM whose instance view names no generation must
 * still give a V2 definition and a V2 image, never a silent V1 (which Azure would later refuse:
 * "has a different Hypervisor generation ['V2'] than the parent gallery image …", MicrosoftDocs/azure-docs#118774).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { errorLines, runAction } from '../support/action-runner.js'
import { startLocalCloud, type LocalCloud } from '../support/cloud.js'
import type { RecordedRequest } from '../emulator/index.js'

const RG = 'build-rg'
const GALLERY = 'gen_gallery'

let cloud: LocalCloud

beforeAll(async () => {
  cloud = await startLocalCloud({ lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 } })
  cloud.emu.addResourceGroup(RG, 'westeurope')
  cloud.emu.addGallery(RG, GALLERY, 'westeurope')
})
afterAll(async () => cloud?.close())

const bodyOf = (w: RecordedRequest | undefined): any => w?.body

describe('a Gen2 VM whose instance view names no generation', () => {
  it('gives a V2 definition and a V2 managed image, read from the OS disk', async () => {
    const vm = cloud.emu.addVm({
      resourceGroup: RG,
      name: 'gen2-builder',
      location: 'westeurope',
      osType: 'Linux',
      hyperVGeneration: 'V2',
      instanceViewGeneration: false
    })
    // The instance view really lacks it; the OS disk has it.
    const osDiskId: string = (vm.properties as any).storageProfile.osDisk.managedDisk.id
    expect(cloud.emu.resources.get(osDiskId)?.properties.hyperVGeneration).toBe('V2')
    const before = cloud.emu.requests.length
    const run = await runAction({
      inputs: {
        ...cloud.inputs,
        'resource-group': RG,
        'source-vm': 'gen2-builder',
        deprovision: 'true',
        'image-name': 'gen2-image',
        gallery: GALLERY,
        'gallery-image': 'gen2-def',
        'create-gallery-image': 'true',
        'gallery-image-version': '1.0.0',
        publisher: 'Contoso',
        offer: 'gen',
        sku: 'v2'
      },
      env: cloud.env
    })
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.code).toBe(0)
    const writes = cloud.writesSince(before)
    const definition = writes.find(
      w => w.method === 'PUT' && w.path.endsWith(`/galleries/${GALLERY}/images/gen2-def`)
    )
    expect(bodyOf(definition).properties.hyperVGeneration).toBe('V2')
    const image = writes.find(w => w.method === 'PUT' && w.path.endsWith('/images/gen2-image'))
    expect(bodyOf(image).properties.hyperVGeneration).toBe('V2')
    expect(run.outputs['gallery-image-version-id']).toMatch(
      /\/images\/gen2-def\/versions\/1\.0\.0$/
    )
  })
})
