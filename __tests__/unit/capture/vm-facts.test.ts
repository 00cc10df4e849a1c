import { describe, expect, it } from '@jest/globals'
import type { Disk, VirtualMachine } from '@azure/arm-compute'
import {
  architectureOfSize,
  isGeneralized,
  powerStateOf,
  vmFacts
} from '../../../src/capture/vm-facts.js'
import type { ResourceRef } from '../../../src/plan.js'

describe('powerStateOf', () => {
  it.each([
    ['PowerState/running', 'running'],
    ['PowerState/starting', 'starting'],
    ['PowerState/stopping', 'stopping'],
    ['PowerState/stopped', 'stopped'],
    ['PowerState/deallocating', 'deallocating'],
    ['PowerState/deallocated', 'deallocated']
  ])('%s → %s', (code, state) => {
    expect(
      powerStateOf([{ code: 'ProvisioningState/succeeded' }, { code }, { code: 'OSState/x' }])
    ).toBe(state)
  })

  it('ignores case', () => {
    expect(powerStateOf([{ code: 'powerstate/Deallocated' }])).toBe('deallocated')
  })

  it('is unknown without statuses, without a power state or with an unlisted one', () => {
    expect(powerStateOf(undefined)).toBe('unknown')
    expect(powerStateOf([])).toBe('unknown')
    expect(powerStateOf([{}, { code: 'ProvisioningState/succeeded' }])).toBe('unknown')
    expect(powerStateOf([{ code: 'PowerState/hibernated' }])).toBe('unknown')
    expect(powerStateOf([{ code: 'PowerState' }])).toBe('unknown')
  })
})

describe('isGeneralized', () => {
  it('reads the OSState/generalized status, in any case', () => {
    expect(isGeneralized([{ code: 'PowerState/stopped' }, { code: 'OSState/generalized' }])).toBe(
      true
    )
    expect(isGeneralized([{ code: 'osstate/GENERALIZED' }])).toBe(true)
  })

  it('is false otherwise', () => {
    expect(isGeneralized(undefined)).toBe(false)
    expect(isGeneralized([])).toBe(false)
    expect(isGeneralized([{ code: 'PowerState/running' }, {}])).toBe(false)
    expect(isGeneralized([{ code: 'OSState/specialized' }])).toBe(false)
  })
})

describe('architectureOfSize', () => {
  it.each([
    'Standard_D2ps_v5',
    'Standard_D4pds_v5',
    'Standard_D2pls_v5',
    'Standard_E4pds_v6',
    'Standard_E2ps_v5',
    'Standard_D16plds_v6',
    'Standard_B2pts_v2',
    'Standard_B2pls_v2',
    'standard_d2ps_v5'
  ])('%s is Arm64', size => {
    expect(architectureOfSize(size)).toBe('Arm64')
  })

  it.each([
    'Standard_D2s_v5',
    'Standard_B2s',
    'Standard_D2ds_v5',
    'Standard_E4ads_v5',
    'Standard_F2s_v2',
    'Standard_DS1_v2',
    'Standard_NC24ads_A100_v4',
    'Standard_NP10s',
    'Standard_M128ms',
    'Standard_HB120rs_v3',
    'Basic_A1',
    ''
  ])('%s is x64', size => {
    expect(architectureOfSize(size)).toBe('x64')
  })

  it('defaults to x64 without a size', () => {
    expect(architectureOfSize(undefined)).toBe('x64')
  })
})

const SUB = '11111111-2222-3333-4444-555555555555'
const ref: ResourceRef = { subscriptionId: SUB, resourceGroup: 'build-rg', name: 'golden' }
const diskId = (name: string): string =>
  `/subscriptions/${SUB}/resourceGroups/BUILD-RG/providers/Microsoft.Compute/disks/${name}`
const vmId = `/subscriptions/${SUB}/resourceGroups/build-rg/providers/Microsoft.Compute/virtualMachines/golden`

function osDisk(name: string, over: Partial<Disk>): Disk {
  return {
    id: diskId(name),
    name,
    location: 'eastus2',
    sku: { name: 'Premium_LRS' },
    diskSizeGB: 30,
    creationData: { createOption: 'FromImage' },
    ...over
  }
}

function vm(over: Partial<VirtualMachine> = {}): VirtualMachine {
  return {
    id: vmId,
    location: 'East US 2',
    hardwareProfile: { vmSize: 'Standard_D2s_v5' },
    storageProfile: {
      osDisk: {
        osType: 'Linux',
        name: 'golden_OsDisk_1',
        createOption: 'FromImage',
        managedDisk: { id: diskId('golden_OsDisk_1') }
      },
      dataDisks: []
    },
    instanceView: {
      hyperVGeneration: 'V2',
      statuses: [{ code: 'ProvisioningState/succeeded' }, { code: 'PowerState/running' }]
    },
    tags: { team: 'infra' },
    ...over
  }
}

describe('vmFacts', () => {
  it('reads the facts of a running Gen2 Linux VM', () => {
    expect(vmFacts(vm(), ref, [osDisk('golden_OsDisk_1', { hyperVGeneration: 'V2' })])).toEqual({
      id: vmId,
      name: 'golden',
      location: 'eastus2',
      osType: 'Linux',
      hyperVGeneration: 'V2',
      architecture: 'x64',
      securityType: 'Standard',
      powerState: 'running',
      generalized: false,
      disks: [
        {
          lun: 'os',
          id: diskId('golden_OsDisk_1'),
          name: 'golden_OsDisk_1',
          sizeGB: 30,
          sku: 'Premium_LRS'
        }
      ],
      tags: { team: 'infra' }
    })
  })

  it('lists data disks with their LUNs after the OS disk', () => {
    const facts = vmFacts(
      vm({
        storageProfile: {
          osDisk: {
            osType: 'Windows',
            createOption: 'FromImage',
            managedDisk: { id: diskId('os') }
          },
          dataDisks: [
            { lun: 3, name: 'logs', createOption: 'Empty', managedDisk: { id: diskId('logs') } },
            { lun: 0, createOption: 'Empty', managedDisk: { id: diskId('unnamed') } }
          ]
        }
      }),
      ref
    )
    expect(facts.osType).toBe('Windows')
    expect(facts.disks).toEqual([
      { lun: 'os', id: diskId('os'), name: 'osdisk' },
      { lun: 3, id: diskId('logs'), name: 'logs' },
      { lun: 0, id: diskId('unnamed'), name: 'lun0' }
    ])
  })

  it('takes the Hyper-V generation from the OS disk resource, not from the instance view', () => {
    // The instance view's hyperVGeneration is optional (Compute spec); the OS disk carries it.
    const gen2 = [osDisk('golden_OsDisk_1', { hyperVGeneration: 'V2' })]
    expect(vmFacts(vm({ instanceView: { statuses: [] } }), ref, gen2).hyperVGeneration).toBe('V2')
    expect(vmFacts(vm({ instanceView: undefined }), ref, gen2).hyperVGeneration).toBe('V2')
    const gen1 = [osDisk('golden_OsDisk_1', { hyperVGeneration: 'V1' })]
    expect(vmFacts(vm(), ref, gen1).hyperVGeneration).toBe('V1')
    // A disk without the field is V1, Azure's default for disks.
    expect(vmFacts(vm(), ref, [osDisk('golden_OsDisk_1', {})]).hyperVGeneration).toBe('V1')
  })

  it("reads sizes and SKUs of a deallocated VM's disks from the disk resources", () => {
    // REC/test_vm_capture_zone_resilient_image.yaml: a deallocated VM's GET has neither
    // osDisk.diskSizeGB nor managedDisk.storageAccountType.
    const deallocated = vm({
      storageProfile: {
        osDisk: {
          osType: 'Linux',
          name: 'golden_OsDisk_1',
          createOption: 'FromImage',
          managedDisk: { id: diskId('golden_OsDisk_1') }
        },
        dataDisks: [
          { lun: 0, name: 'data', createOption: 'Empty', managedDisk: { id: diskId('data') } }
        ]
      },
      instanceView: { statuses: [{ code: 'PowerState/deallocated' }] }
    })
    const facts = vmFacts(deallocated, ref, [
      { ...osDisk('data', {}), diskSizeGB: 1024, sku: { name: 'PremiumV2_LRS' } },
      osDisk('golden_OsDisk_1', { hyperVGeneration: 'V2' })
    ])
    expect(facts.disks).toEqual([
      {
        lun: 'os',
        id: diskId('golden_OsDisk_1'),
        name: 'golden_OsDisk_1',
        sizeGB: 30,
        sku: 'Premium_LRS'
      },
      { lun: 0, id: diskId('data'), name: 'data', sizeGB: 1024, sku: 'PremiumV2_LRS' }
    ])
    expect(facts.hyperVGeneration).toBe('V2')
  })

  it('takes the architecture from the OS disk, else from the VM size', () => {
    const arm = [osDisk('golden_OsDisk_1', { supportedCapabilities: { architecture: 'Arm64' } })]
    expect(vmFacts(vm(), ref, arm).architecture).toBe('Arm64')
  })

  it('reads power state and generalization from the instance view statuses', () => {
    const facts = vmFacts(
      vm({
        instanceView: {
          statuses: [{ code: 'OSState/generalized' }, { code: 'PowerState/deallocated' }]
        }
      }),
      ref
    )
    expect(facts.powerState).toBe('deallocated')
    expect(facts.generalized).toBe(true)
    expect(vmFacts(vm({ instanceView: undefined }), ref).powerState).toBe('unknown')
  })

  it.each([
    [undefined, 'Standard'],
    ['TrustedLaunch', 'TrustedLaunch'],
    ['ConfidentialVM', 'ConfidentialVM'],
    ['SomethingNew', 'Standard']
  ])('security type %s → %s', (securityType, expected) => {
    const facts = vmFacts(vm({ securityProfile: securityType ? { securityType } : {} }), ref)
    expect(facts.securityType).toBe(expected)
  })

  it('guesses Arm64 from an Arm64 size', () => {
    expect(vmFacts(vm({ hardwareProfile: { vmSize: 'Standard_D2ps_v5' } }), ref).architecture).toBe(
      'Arm64'
    )
  })

  it('defaults missing id and tags', () => {
    const facts = vmFacts(vm({ id: undefined, tags: undefined }), ref)
    expect(facts.id).toBe('')
    expect(facts.tags).toEqual({})
  })

  it('refuses a VM that does not report its OS type', () => {
    const noType = vm()
    delete noType.storageProfile!.osDisk!.osType
    expect(() => vmFacts(noType, ref)).toThrow(
      "VM 'golden' does not report its OS type (storageProfile.osDisk.osType)."
    )
    expect(() => vmFacts(vm({ storageProfile: undefined }), ref)).toThrow(/OS type/)
  })

  it('refuses a VM on an unmanaged OS disk', () => {
    const unmanaged = vm({
      storageProfile: {
        osDisk: {
          osType: 'Linux',
          createOption: 'FromImage',
          vhd: { uri: 'https://acct.blob.core.windows.net/vhds/os.vhd' }
        }
      }
    })
    expect(() => vmFacts(unmanaged, ref)).toThrow(
      "VM 'golden' has an unmanaged OS disk: only VMs on managed disks can be captured. Convert it first (az vm convert)."
    )
  })

  it('refuses a VM with an unmanaged data disk, naming its LUN', () => {
    const unmanaged = vm({
      storageProfile: {
        osDisk: { osType: 'Linux', createOption: 'FromImage', managedDisk: { id: diskId('os') } },
        dataDisks: [
          { lun: 0, createOption: 'Empty', managedDisk: { id: diskId('d0') } },
          {
            lun: 2,
            createOption: 'Empty',
            vhd: { uri: 'https://acct.blob.core.windows.net/vhds/d2.vhd' }
          }
        ]
      }
    })
    expect(() => vmFacts(unmanaged, ref)).toThrow(
      "VM 'golden' data disk at LUN 2 is unmanaged: only managed disks can be captured."
    )
  })
})
