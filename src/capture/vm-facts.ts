/** Reads the source VM once (with its instance view) into plain facts the other steps decide on. */
import type { Disk, VirtualMachine } from '@azure/arm-compute'
import type { AzureClients } from '../azure/clients.js'
import type { Architecture, HyperVGeneration, OsType, ResourceRef, SecurityType } from '../plan.js'
import { normaliseRegion } from '../azure/region.js'
import { parseResourceId } from '../azure/resource-id.js'
import { powerStateOf, type PowerState } from '../azure/power-state.js'

// The power state is read in one place (azure/power-state.ts), for capture and build alike.
export { powerStateOf, type PowerState } from '../azure/power-state.js'

export interface VmDisk {
  /** 'os' or the data disk's LUN. */
  lun: 'os' | number
  id: string
  name: string
  /** From the disk resource: a deallocated VM's GET has no disk sizes (see vmFacts). */
  sizeGB?: number
  /** The disk's SKU (Premium_LRS, PremiumV2_LRS, UltraSSD_LRS, ...), from the disk resource. */
  sku?: string
}

export interface VmFacts {
  id: string
  name: string
  location: string
  osType: OsType
  hyperVGeneration: HyperVGeneration
  architecture: Architecture
  securityType: SecurityType | 'ConfidentialVM'
  powerState: PowerState
  generalized: boolean
  disks: VmDisk[]
  tags: Record<string, string>
}

export function isGeneralized(statuses: Array<{ code?: string }> | undefined): boolean {
  return statuses?.some(s => s.code?.toLowerCase() === 'osstate/generalized') ?? false
}

/**
 * Arm64 VM sizes carry a 'p' feature letter after the vCPU count (Standard_D2ps_v5, Standard_E4pds_v6);
 * the VM model has no architecture field, so the size is the only source.
 */
export function architectureOfSize(vmSize: string | undefined): Architecture {
  return /^Standard_[A-Z]+\d+[a-z]*p[a-z]*_v\d+$/i.test(vmSize ?? '') ? 'Arm64' : 'x64'
}

/**
 * The VM's facts from its GET (with instance view) and its disk resources. The disks are the
 * source for what the VM GET may lack: a deallocated VM's GET has no `osDisk.diskSizeGB` and no
 * `managedDisk.storageAccountType` (Azure CLI recording test_vm_capture_zone_resilient_image.yaml;
 * "by design", Azure/azure-powershell#13213), and the Hyper-V generation is a property of the OS
 * disk (`hyperVGeneration`; the instance view's copy is optional in the API spec). An OS disk
 * without it is V1, Azure's default for disks (Disk.hyperVGeneration in the Compute spec).
 */
export function vmFacts(vm: VirtualMachine, ref: ResourceRef, diskResources: Disk[] = []): VmFacts {
  const statuses = vm.instanceView?.statuses
  const osDisk = vm.storageProfile?.osDisk
  const osType = osDisk?.osType
  if (osType !== 'Linux' && osType !== 'Windows') {
    throw new Error(`VM '${ref.name}' does not report its OS type (storageProfile.osDisk.osType).`)
  }
  if (!osDisk?.managedDisk?.id) {
    throw new Error(
      `VM '${ref.name}' has an unmanaged OS disk: only VMs on managed disks can be captured. Convert it first (az vm convert).`
    )
  }
  const resource = (id: string): Disk | undefined =>
    diskResources.find(d => d.id?.toLowerCase() === id.toLowerCase())
  const describe = (lun: 'os' | number, id: string, name: string): VmDisk => {
    const r = resource(id)
    return {
      lun,
      id,
      name,
      ...(r?.diskSizeGB !== undefined ? { sizeGB: r.diskSizeGB } : {}),
      ...(r?.sku?.name ? { sku: r.sku.name } : {})
    }
  }
  const disks: VmDisk[] = [describe('os', osDisk.managedDisk.id, osDisk.name ?? 'osdisk')]
  for (const d of vm.storageProfile?.dataDisks ?? []) {
    if (!d.managedDisk?.id) {
      throw new Error(
        `VM '${ref.name}' data disk at LUN ${d.lun} is unmanaged: only managed disks can be captured.`
      )
    }
    disks.push(describe(d.lun, d.managedDisk.id, d.name ?? `lun${d.lun}`))
  }
  const securityType = vm.securityProfile?.securityType
  const osResource = resource(osDisk.managedDisk.id)
  const generation = osResource?.hyperVGeneration
  const arch = osResource?.supportedCapabilities?.architecture
  return {
    id: vm.id ?? '',
    name: ref.name,
    location: normaliseRegion(vm.location),
    osType,
    hyperVGeneration: generation === 'V2' ? 'V2' : 'V1',
    // The OS disk records the architecture the VM boots (supportedCapabilities); the size is a fallback.
    architecture:
      arch === 'Arm64' || arch === 'x64' ? arch : architectureOfSize(vm.hardwareProfile?.vmSize),
    securityType:
      securityType === 'TrustedLaunch' || securityType === 'ConfidentialVM'
        ? securityType
        : 'Standard',
    powerState: powerStateOf(statuses),
    generalized: isGeneralized(statuses),
    disks,
    tags: vm.tags ?? {}
  }
}

export async function readVm(
  clients: AzureClients,
  ref: ResourceRef,
  signal: AbortSignal
): Promise<VmFacts> {
  const vm = await clients.compute.virtualMachines.get(ref.resourceGroup, ref.name, {
    expand: 'instanceView',
    abortSignal: signal
  })
  const ids = [
    vm.storageProfile?.osDisk?.managedDisk?.id,
    ...(vm.storageProfile?.dataDisks ?? []).map(d => d.managedDisk?.id)
  ].filter((id): id is string => id !== undefined)
  const disks = await Promise.all(
    ids.map(id => {
      const p = parseResourceId(id)
      return clients.compute.disks.get(p.resourceGroup, p.name, { abortSignal: signal })
    })
  )
  return vmFacts(vm, ref, disks)
}
