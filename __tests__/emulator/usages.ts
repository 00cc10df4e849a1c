/**
 * VM sizes (Resource SKUs, `Microsoft.Compute/skus`) and Compute usages (quota per VM family,
 * `locations/{location}/usages`). Seedable; the defaults are listed in `DEFAULT_SIZES`.
 */
import type { State } from './types.js'

export interface VmSizeSeed {
  /** e.g. 'Standard_D2s_v5' */
  name: string
  /** quota family as usages name it, e.g. 'standardDSv5Family' */
  family: string
  vCPUs: number
  memoryGB: number
  architecture: 'x64' | 'Arm64'
  /** capability HyperVGenerations, e.g. ['V1', 'V2'] */
  hyperVGenerations: ('V1' | 'V2')[]
  /** capability TrustedLaunchDisabled: true for sizes that cannot run Trusted Launch */
  trustedLaunchDisabled?: boolean
  /** regions the size is offered in (default: every region) */
  locations?: string[]
  /** regions where the subscription may not use it (restriction NotAvailableForSubscription) */
  notAvailableIn?: string[]
}

export interface UsageSeed {
  location: string
  /** 'cores' (Total Regional vCPUs) or a family such as 'standardDSv5Family' */
  name: string
  currentValue: number
  limit: number
}

export function addVmSize(state: State, seed: VmSizeSeed): void {
  const i = state.vmSizes.findIndex(s => s.name.toLowerCase() === seed.name.toLowerCase())
  if (i >= 0) state.vmSizes[i] = { ...seed }
  else state.vmSizes.push({ ...seed })
}

export function setUsage(state: State, seed: UsageSeed): void {
  state.usages.set(
    `${seed.location.replace(/\s+/g, '').toLowerCase()}/${seed.name.toLowerCase()}`,
    {
      ...seed
    }
  )
}
