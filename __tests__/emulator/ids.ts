/** Resource ID parsing and building. ARM treats IDs case-insensitively, so the store keys are lower case. */
import { randomUUID } from 'node:crypto'

export interface ParsedId {
  subscriptionId: string
  resourceGroup: string
  namespace: string
  /** e.g. ['galleries', 'images', 'versions'] */
  types: string[]
  names: string[]
  /** full type: 'Microsoft.Compute/galleries/images/versions' */
  type: string
  id: string
}

export const key = (id: string): string => id.toLowerCase()

export function newGuid(): string {
  return randomUUID()
}

/** Parses `/subscriptions/s/resourceGroups/rg/providers/Ns/t1/n1[/t2/n2...]`. */
export function parseResourceId(id: string): ParsedId | undefined {
  const parts = id.split('/').filter(Boolean)
  if (parts.length < 8) return undefined
  if (parts[0].toLowerCase() !== 'subscriptions' || parts[2].toLowerCase() !== 'resourcegroups')
    return undefined
  if (parts[4].toLowerCase() !== 'providers') return undefined
  const rest = parts.slice(6)
  if (rest.length % 2 !== 0) return undefined
  const types: string[] = []
  const names: string[] = []
  for (let i = 0; i < rest.length; i += 2) {
    types.push(rest[i])
    names.push(decodeURIComponent(rest[i + 1]))
  }
  return {
    subscriptionId: parts[1],
    resourceGroup: decodeURIComponent(parts[3]),
    namespace: parts[5],
    types,
    names,
    type: [parts[5], ...types].join('/'),
    id: '/' + parts.join('/')
  }
}

export function resourceId(
  sub: string,
  rg: string,
  namespace: string,
  ...typeNamePairs: string[]
): string {
  return `/subscriptions/${sub}/resourceGroups/${rg}/providers/${namespace}/${typeNamePairs.join('/')}`
}

/** Canonical ARM type names (ARM echoes the registered casing, not the caller's). */
export function canonicalType(ns: string, types: string[]): string {
  const known: Record<string, string> = {
    virtualmachines: 'virtualMachines',
    disks: 'disks',
    snapshots: 'snapshots',
    images: 'images',
    galleries: 'galleries',
    versions: 'versions',
    storageaccounts: 'storageAccounts'
  }
  const nsCanon =
    ns.toLowerCase() === 'microsoft.compute'
      ? 'Microsoft.Compute'
      : ns.toLowerCase() === 'microsoft.storage'
        ? 'Microsoft.Storage'
        : ns
  return [nsCanon, ...types.map(t => known[t.toLowerCase()] ?? t)].join('/')
}
