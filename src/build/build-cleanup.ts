/**
 * Deleting a build's temporary resources: the VM (its OS disk and NIC go with it, `deleteOption:
 * Delete`), then whatever is left of the disk and NIC, then the NSG and the virtual network, in that
 * order because Azure refuses to delete a NIC's NSG or a subnet while a NIC uses them
 * (InUseNetworkSecurityGroupCannotBeDeleted, InUseSubnetCannotBeDeleted). Each resource is re-read
 * first and deleted only when the ID Azure answers with is the one listed and it carries this job's
 * owner key, as for every other cleanup (cleanup.ts). Used by the main step after the capture and
 * by cleanup after a failure.
 */
import type { OperationState, PollerLike } from '@azure/core-lro'
import type { AzureClients } from '../azure/clients.js'
import { getOrUndefined } from '../azure/not-found.js'
import { waitFor } from '../azure/operation.js'
import { parseResourceId, sameResourceId } from '../azure/resource-id.js'
import type { Logger } from '../log.js'
import { isOwnedBy } from '../tags.js'

interface Deleter {
  what: string
  get(
    rg: string,
    name: string,
    signal: AbortSignal
  ): Promise<{ id?: string; tags?: Record<string, string>; managedBy?: string }>
  delete(rg: string, name: string, signal: AbortSignal): PollerLike<OperationState<void>, void>
}

function deleterFor(clients: AzureClients, type: string): Deleter | undefined {
  const s = (signal: AbortSignal) => ({ abortSignal: signal })
  switch (type.toLowerCase()) {
    case 'microsoft.compute/virtualmachines':
      return {
        what: 'VM',
        get: (rg, n, signal) => clients.compute.virtualMachines.get(rg, n, s(signal)),
        delete: (rg, n, signal) => clients.compute.virtualMachines.delete(rg, n, s(signal))
      }
    case 'microsoft.compute/disks':
      return {
        what: 'OS disk',
        get: (rg, n, signal) => clients.compute.disks.get(rg, n, s(signal)),
        delete: (rg, n, signal) => clients.compute.disks.delete(rg, n, s(signal))
      }
    case 'microsoft.network/networkinterfaces':
      return {
        what: 'network interface',
        get: (rg, n, signal) => clients.network.networkInterfaces.get(rg, n, s(signal)),
        delete: (rg, n, signal) => clients.network.networkInterfaces.delete(rg, n, s(signal))
      }
    case 'microsoft.network/networksecuritygroups':
      return {
        what: 'network security group',
        get: (rg, n, signal) => clients.network.networkSecurityGroups.get(rg, n, s(signal)),
        delete: (rg, n, signal) => clients.network.networkSecurityGroups.delete(rg, n, s(signal))
      }
    case 'microsoft.network/virtualnetworks':
      return {
        what: 'virtual network',
        get: (rg, n, signal) => clients.network.virtualNetworks.get(rg, n, s(signal)),
        delete: (rg, n, signal) => clients.network.virtualNetworks.delete(rg, n, s(signal))
      }
    default:
      return undefined
  }
}

const ORDER = [
  'microsoft.compute/virtualmachines',
  'microsoft.compute/disks',
  'microsoft.network/networkinterfaces',
  'microsoft.network/networksecuritygroups',
  'microsoft.network/virtualnetworks'
]

function typeOf(id: string): string {
  const p = parseResourceId(id)
  return `${p.provider}/${p.types.join('/')}`.toLowerCase()
}

/** Sort key of a build resource: VM first, virtual network last. */
export function buildDeletionOrder(id: string): number {
  const i = ORDER.indexOf(typeOf(id))
  return i < 0 ? ORDER.length : i
}

/** A temporary build resource as Azure has it now (ID and tags), or undefined when it is gone. */
export async function readBuildResource(
  clients: AzureClients,
  id: string,
  signal: AbortSignal
): Promise<{ id?: string; tags?: Record<string, string>; managedBy?: string } | undefined> {
  const deleter = deleterFor(clients, typeOf(id))
  if (deleter === undefined) return undefined
  const { resourceGroup: rg, name } = parseResourceId(id)
  return getOrUndefined(deleter.get(rg, name, signal))
}

export interface BuildCleanupDeps {
  clients: AzureClients
  ownerKey: string
  log: Logger
  signal: AbortSignal
}

/** Deletes one temporary build resource; says what happened. */
export async function deleteBuildResource(deps: BuildCleanupDeps, id: string): Promise<string> {
  const { clients, ownerKey, log, signal } = deps
  const deleter = deleterFor(clients, typeOf(id))
  const { resourceGroup: rg, name } = parseResourceId(id)
  if (deleter === undefined) return `'${name}' is not a kind of build resource: left alone`
  const found = await getOrUndefined(deleter.get(rg, name, signal))
  if (found === undefined) return `${deleter.what} '${name}' is already gone`
  if (!sameResourceId(found.id ?? '', id) || !isOwnedBy(found.tags, ownerKey))
    return `${deleter.what} '${name}' is not this job's (owner key): left alone`
  await waitFor(`Delete ${deleter.what} '${name}'`, deleter.delete(rg, name, signal), { log, signal })
  return `deleted temporary ${deleter.what} '${name}'`
}
