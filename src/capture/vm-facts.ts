/** Reads the source VM once (with its instance view) into plain facts the other steps decide on. */
import type { VirtualMachine } from '@azure/arm-compute'
import type { AzureClients } from '../azure/clients.js'
import type { Architecture, HyperVGeneration, OsType, ResourceRef, SecurityType } from '../plan.js'
import { normaliseRegion } from '../azure/region.js'
import { parseResourceId } from '../azure/resource-id.js'

export type PowerState =
  'running' | 'starting' | 'stopping' | 'stopped' | 'deallocating' | 'deallocated' | 'unknown'

export interface VmDisk {
  /** 'os' or the data disk's LUN. */
  lun: 'os' | number
  id: string
  name: string
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

export function powerStateOf(statuses: Array<{ code?: string }> | undefined): PowerState {
  const code = statuses?.find(s => s.code?.toLowerCase().startsWith('powerstate/'))?.code
  const state = code?.split('/')[1]?.toLowerCase()
  const known: PowerState[] = [
    'running',
    'starting',
    'stopping',
    'stopped',
    'deallocating',
    'deallocated'
  ]
  return (known as string[]).includes(state ?? '') ? (state as PowerState) : 'unknown'
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

export function vmFacts(vm: VirtualMachine, ref: ResourceRef): VmFacts {
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
  const disks: VmDisk[] = [{ lun: 'os', id: osDisk.managedDisk.id, name: osDisk.name ?? 'osdisk' }]
  for (const d of vm.storageProfile?.dataDisks ?? []) {
    if (!d.managedDisk?.id) {
      throw new Error(
        `VM '${ref.name}' data disk at LUN ${d.lun} is unmanaged: only managed disks can be captured.`
      )
    }
    disks.push({ lun: d.lun, id: d.managedDisk.id, name: d.name ?? `lun${d.lun}` })
  }
  const securityType = vm.securityProfile?.securityType
  return {
    id: vm.id ?? '',
    name: ref.name,
    location: normaliseRegion(vm.location),
    osType,
    hyperVGeneration: vm.instanceView?.hyperVGeneration === 'V2' ? 'V2' : 'V1',
    architecture: architectureOfSize(vm.hardwareProfile?.vmSize),
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
  const facts = vmFacts(vm, ref)
  // The OS disk records the architecture the VM boots (supportedCapabilities); the size is a fallback.
  const os = parseResourceId(facts.disks[0].id)
  const disk = await clients.compute.disks.get(os.resourceGroup, os.name, { abortSignal: signal })
  const arch = disk.supportedCapabilities?.architecture
  return arch === 'Arm64' || arch === 'x64' ? { ...facts, architecture: arch } : facts
}
