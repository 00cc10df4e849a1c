/**
 * VM sizes (Resource SKUs, `Microsoft.Compute/skus`) and Compute usages (quota per VM family,
 * `locations/{location}/usages`). Seedable; the defaults are listed in `DEFAULT_SIZES`.
 */
import type { Ctx, Reply, State } from './types.js'

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

const norm = (l: string): string => l.replace(/\s+/g, '').toLowerCase()

/** Default limit of a quota nobody seeded (the emulator's choice; real defaults vary by offer). */
export const DEFAULT_LIMIT = 100

/** "standardDSv5Family" → "Standard DSv5 Family vCPUs", "cores" → "Total Regional vCPUs" (`az vm list-usage`). */
function localized(name: string): string {
  if (name.toLowerCase() === 'cores') return 'Total Regional vCPUs'
  const m = /^standard(.+)Family$/i.exec(name)
  return m ? `Standard ${m[1]} Family vCPUs` : name
}

function sizeOf(state: State, vmSize: string): VmSizeSeed | undefined {
  return state.vmSizes.find(s => s.name.toLowerCase() === String(vmSize).toLowerCase())
}

/** vCPUs the VMs of a region hold (deallocated VMs hold none), per family and in total ('cores'). */
function allocated(state: State, location: string): Map<string, number> {
  const used = new Map<string, number>()
  for (const r of state.resources.values()) {
    if (r.type !== 'Microsoft.Compute/virtualMachines' || norm(r.body.location) !== norm(location))
      continue
    if (r.state.powerState === 'deallocated') continue
    const size = sizeOf(state, r.body.properties.hardwareProfile?.vmSize)
    if (!size) continue
    const f = size.family.toLowerCase()
    used.set(f, (used.get(f) ?? 0) + size.vCPUs)
    used.set('cores', (used.get('cores') ?? 0) + size.vCPUs)
  }
  return used
}

function usage(state: State, location: string, name: string, used: Map<string, number>): UsageSeed {
  const seeded = state.usages.get(`${norm(location)}/${name.toLowerCase()}`)
  return {
    location,
    name,
    currentValue: (seeded?.currentValue ?? 0) + (used.get(name.toLowerCase()) ?? 0),
    limit: seeded?.limit ?? DEFAULT_LIMIT
  }
}

const offeredIn = (s: VmSizeSeed, location: string): boolean =>
  !s.locations || s.locations.some(l => norm(l) === norm(location))

/** Usage_List: `{ value: [{ unit: 'Count', currentValue, limit, name: { value, localizedValue } }] }` (spec example Usage_List). */
export function listUsages(ctx: Ctx, location: string): Reply {
  const { state } = ctx
  const used = allocated(state, location)
  const names = new Set<string>(['cores'])
  for (const s of state.vmSizes) if (offeredIn(s, location)) names.add(s.family)
  for (const u of state.usages.values()) if (norm(u.location) === norm(location)) names.add(u.name)
  const value = [...names].map(n => {
    const u = usage(state, location, n, used)
    return {
      unit: 'Count',
      currentValue: u.currentValue,
      limit: u.limit,
      name: { value: n, localizedValue: localized(n) }
    }
  })
  return { status: 200, body: { value } }
}

/**
 * A VM of this size would exceed the family's or the region's vCPU quota: 409 OperationNotAllowed
 * at the PUT (Azure/karpenter-provider-azure#192 for the family, nforgeio/neonKUBE#1671 for
 * "Total Regional Cores"). The reply's tail (a portal link) is left out.
 */
export function quotaRefusal(state: State, location: string, size: VmSizeSeed): string | undefined {
  const used = allocated(state, location)
  for (const [name, label] of [
    [size.family, size.family],
    ['cores', 'Total Regional']
  ]) {
    const u = usage(state, location, name, used)
    if (u.currentValue + size.vCPUs > u.limit)
      return `Operation could not be completed as it results in exceeding approved ${label} Cores quota. Additional details - Deployment Model: Resource Manager, Location: ${norm(location)}, Current Limit: ${u.limit}, Current Usage: ${u.currentValue}, Additional Required: ${size.vCPUs}, (Minimum) New Limit Required: ${u.currentValue + size.vCPUs}.`
  }
  return undefined
}

/**
 * ResourceSkus_List (`GET /subscriptions/{s}/providers/Microsoft.Compute/skus[?$filter=location eq 'x']`),
 * shape and capability names of the spec example ListAvailableResourceSkusForARegion (Skus
 * 2021-07-01) plus `CpuArchitectureType` and `TrustedLaunchDisabled`, which the sizes' capability
 * lists carry (Learn "trusted-launch": sizes with TrustedLaunchDisabled=True cannot run it).
 */
export function listResourceSkus(ctx: Ctx): Reply {
  const { state } = ctx
  const filter = /location\s+eq\s+'([^']+)'/i.exec(ctx.query['$filter'] ?? '')?.[1]
  const value = state.vmSizes
    .filter(s => !filter || offeredIn(s, filter))
    .map(s => {
      const locations = filter ? [norm(filter)] : (s.locations ?? ['westus']).map(norm)
      const restricted = locations.filter(l => s.notAvailableIn?.some(n => norm(n) === l))
      return {
        resourceType: 'virtualMachines',
        name: s.name,
        tier: 'Standard',
        size: s.name.replace(/^Standard_/, ''),
        family: s.family,
        locations,
        locationInfo: locations.map(location => ({ location, zones: [] })),
        capabilities: [
          { name: 'vCPUs', value: String(s.vCPUs) },
          { name: 'MemoryGB', value: String(s.memoryGB) },
          { name: 'HyperVGenerations', value: s.hyperVGenerations.join(',') },
          { name: 'CpuArchitectureType', value: s.architecture },
          { name: 'PremiumIO', value: 'True' },
          ...(s.trustedLaunchDisabled ? [{ name: 'TrustedLaunchDisabled', value: 'True' }] : [])
        ],
        restrictions: restricted.length
          ? [
              {
                type: 'Location',
                values: restricted,
                restrictionInfo: { locations: restricted },
                reasonCode: 'NotAvailableForSubscription'
              }
            ]
          : []
      }
    })
  return { status: 200, body: { value } }
}
