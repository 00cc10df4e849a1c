/**
 * Microsoft.Network: virtual networks with their subnets, network security groups, network
 * interfaces and public IP addresses. Subnets are stored as child resources; a virtual network's
 * body lists them as Azure does (`properties.subnets`).
 */
import type { Body, Resource, State } from './types.js'
import { newGuid, resourceId } from './ids.js'
import { getResource, putResource, requireResourceGroup } from './store.js'

export interface VirtualNetworkSeed {
  resourceGroup: string
  name: string
  location: string
  /** default ['10.0.0.0/16'] */
  addressPrefixes?: string[]
  /** default one subnet 'default' with the first /24 of the space */
  subnets?: { name: string; addressPrefix: string; networkSecurityGroupId?: string }[]
  tags?: Record<string, string>
}

export const etag = (): string => `W/"${newGuid()}"`

export function subnetBody(vnetId: string, name: string, props: Body): Body {
  return {
    name,
    id: `${vnetId}/subnets/${name}`,
    etag: etag(),
    properties: props,
    type: 'Microsoft.Network/virtualNetworks/subnets'
  }
}

/** Seeds an existing virtual network and its subnets (all Succeeded). */
export function addVirtualNetwork(state: State, seed: VirtualNetworkSeed): Resource {
  requireResourceGroup(state, seed.resourceGroup)
  const id = resourceId(
    state.config.subscriptionId,
    seed.resourceGroup,
    'Microsoft.Network',
    'virtualNetworks',
    seed.name
  )
  const addressPrefixes = seed.addressPrefixes ?? ['10.0.0.0/16']
  const subnets = seed.subnets ?? [
    { name: 'default', addressPrefix: addressPrefixes[0].replace(/\/\d+$/, '/24') }
  ]
  const vnet = putResource(state, {
    id,
    type: 'Microsoft.Network/virtualNetworks',
    state: {},
    body: {
      name: seed.name,
      id,
      etag: etag(),
      type: 'Microsoft.Network/virtualNetworks',
      location: seed.location,
      tags: seed.tags ?? {},
      properties: {
        provisioningState: 'Succeeded',
        resourceGuid: newGuid(),
        addressSpace: { addressPrefixes },
        virtualNetworkPeerings: [],
        enableDdosProtection: false
      }
    }
  })
  for (const s of subnets) {
    putResource(state, {
      id: `${id}/subnets/${s.name}`,
      type: 'Microsoft.Network/virtualNetworks/subnets',
      state: {},
      body: subnetBody(id, s.name, {
        provisioningState: 'Succeeded',
        addressPrefix: s.addressPrefix,
        ...(s.networkSecurityGroupId
          ? { networkSecurityGroup: { id: s.networkSecurityGroupId } }
          : {}),
        delegations: [],
        privateEndpointNetworkPolicies: 'Disabled',
        privateLinkServiceNetworkPolicies: 'Enabled'
      })
    })
  }
  return getResource(state, vnet.id)!
}
