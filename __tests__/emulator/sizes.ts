/**
 * The VM sizes every emulator run knows (a test adds or replaces sizes with `addVmSize`). Family
 * names, vCPUs, memory, architecture and Hyper-V generations as the Resource SKUs API lists them
 * for these sizes (README "VM sizes and usages" names the sources).
 */
import type { VmSizeSeed } from './usages.js'

export const DEFAULT_SIZES: VmSizeSeed[] = [
  {
    name: 'Standard_D2s_v5',
    family: 'standardDSv5Family',
    vCPUs: 2,
    memoryGB: 8,
    architecture: 'x64',
    hyperVGenerations: ['V1', 'V2']
  },
  {
    name: 'Standard_D4s_v5',
    family: 'standardDSv5Family',
    vCPUs: 4,
    memoryGB: 16,
    architecture: 'x64',
    hyperVGenerations: ['V1', 'V2']
  },
  {
    name: 'Standard_D2as_v5',
    family: 'standardDASv5Family',
    vCPUs: 2,
    memoryGB: 8,
    architecture: 'x64',
    hyperVGenerations: ['V1', 'V2']
  },
  {
    name: 'Standard_D2s_v3',
    family: 'standardDSv3Family',
    vCPUs: 2,
    memoryGB: 8,
    architecture: 'x64',
    hyperVGenerations: ['V1', 'V2']
  },
  {
    name: 'Standard_DS1_v2',
    family: 'standardDSv2Family',
    vCPUs: 1,
    memoryGB: 3.5,
    architecture: 'x64',
    hyperVGenerations: ['V1', 'V2']
  },
  {
    name: 'Standard_B2s',
    family: 'standardBSFamily',
    vCPUs: 2,
    memoryGB: 4,
    architecture: 'x64',
    hyperVGenerations: ['V1', 'V2']
  },
  {
    name: 'Standard_D2ps_v5',
    family: 'standardDPSv5Family',
    vCPUs: 2,
    memoryGB: 8,
    architecture: 'Arm64',
    hyperVGenerations: ['V2']
  },
  {
    name: 'Standard_A2_v2',
    family: 'standardAv2Family',
    vCPUs: 2,
    memoryGB: 4,
    architecture: 'x64',
    hyperVGenerations: ['V1'],
    trustedLaunchDisabled: true
  }
]
