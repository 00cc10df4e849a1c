/**
 * Microsoft.Network: virtual networks with their subnets, network security groups, network
 * interfaces and public IP addresses. Subnets are stored as child resources; a virtual network's
 * body lists them as Azure does (`properties.subnets`).
 */
import type { Body, Ctx, Reply, Resource, State } from './types.js'
import { key, newGuid, parseResourceId, resourceId } from './ids.js'
import { ArmFailure, armError, fail, resourceNotFound } from './errors.js'
import { startLro } from './lro.js'
import {
  children,
  clone,
  deleteResource,
  getResource,
  putResource,
  requireResource,
  requireResourceGroup
} from './store.js'

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

// ---------------------------------------------------------------------------------------------
// Handlers. Long-running shapes: `networkOperations` in lro.ts (PUT 201/200 + Azure-AsyncOperation
// + Retry-After, DELETE 202 + Azure-AsyncOperation + Location + Retry-After, status `{ status }`).
// ---------------------------------------------------------------------------------------------

const NET = 'Microsoft.Network'

/** `in use by` refusals and reference checks are answered at the request with 400 (sources in README). */
function badRequest(code: string, message: string): never {
  throw new ArmFailure(armError(400, code, message, { details: [] }))
}

/** 400 InvalidResourceReference, word for word (MicrosoftDocs/azure-docs#81734, #32363; azure-cli#8569). */
function invalidReference(refId: string, byId: string): never {
  badRequest(
    'InvalidResourceReference',
    `Resource ${refId} referenced by resource ${byId} was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`
  )
}

const norm = (l: string): string =>
  String(l ?? '')
    .replace(/\s+/g, '')
    .toLowerCase()

/** IP configurations (of NICs) that sit in a subnet. */
function ipConfigsInSubnet(state: State, subnetId: string): string[] {
  const out: string[] = []
  for (const nic of state.resources.values()) {
    if (nic.type !== `${NET}/networkInterfaces`) continue
    for (const c of nic.body.properties.ipConfigurations ?? [])
      if (key(c.properties?.subnet?.id ?? '') === key(subnetId)) out.push(c.id)
  }
  return out
}

/** Subnet and NIC IDs that reference an NSG. */
function nsgUsers(state: State, nsgId: string): string[] {
  const out: string[] = []
  for (const r of state.resources.values()) {
    const t = r.type.toLowerCase()
    if (
      (t === 'microsoft.network/virtualnetworks/subnets' ||
        t === 'microsoft.network/networkinterfaces') &&
      key(r.body.properties?.networkSecurityGroup?.id ?? '') === key(nsgId)
    )
      out.push(r.id)
  }
  return out
}

function inUseSubnet(subnetName: string, ipConfigId: string): never {
  // nav-arm-templates#161 (full text), cluster-api-provider-azure#172 (400 at the request).
  badRequest(
    'InUseSubnetCannotBeDeleted',
    `Subnet ${subnetName} is in use by ${ipConfigId} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet.`
  )
}

function requireParentVnet(state: State, vnetId: string): Resource {
  const vnet = getResource(state, vnetId)
  if (!vnet)
    fail(
      404,
      'ParentResourceNotFound',
      `Can not perform requested operation on nested resource. Parent resource '${vnetId.split('/').pop()}' not found.`
    )
  return vnet
}

/** Next private address of a subnet: Azure keeps the first four (Learn "virtual-networks-faq": .0-.3). */
function nextPrivateIp(state: State, subnet: Resource): string {
  const prefix = String(subnet.body.properties.addressPrefix ?? '10.0.0.0/24')
  const base = prefix.split('/')[0].split('.').map(Number)
  const n = (subnet.state.allocated = Number(subnet.state.allocated ?? 3) + 1)
  const asInt = ((base[0] << 24) | (base[1] << 16) | (base[2] << 8) | base[3]) + n
  return [asInt >>> 24, (asInt >>> 16) & 255, (asInt >>> 8) & 255, asInt & 255].join('.')
}

/** A subnet's body as GET shows it: with the NIC IP configurations that use it. */
function subnetView(state: State, subnet: Resource): Body {
  const body = clone(subnet.body)
  const used = ipConfigsInSubnet(state, subnet.id)
  if (used.length) body.properties.ipConfigurations = used.map(id => ({ id }))
  return body
}

function vnetView(state: State, vnet: Resource): Body {
  const body = clone(vnet.body)
  body.properties.subnets = children(state, vnet.id, 'subnets').map(s => subnetView(state, s))
  return body
}

/** Starts a network RP PUT: 201 (new) / 200 (update) with `Updating`, Succeeded after the operation. */
function networkPut(ctx: Ctx, r: Resource, isNew: boolean, name: string, view: () => Body): Reply {
  r.body.properties.provisioningState = 'Updating'
  return startLro(ctx, {
    name,
    kind: 'networkOperations',
    region: r.body.location,
    initialStatus: isNew ? 201 : 200,
    initialBody: view,
    resourceId: r.id,
    complete: () => {
      r.body.properties.provisioningState = 'Succeeded'
      return view()
    },
    fail: () => {
      r.body.properties.provisioningState = 'Failed'
    }
  })
}

function networkDelete(ctx: Ctx, r: Resource, name: string, onDone?: () => void): Reply {
  r.body.properties.provisioningState = 'Deleting'
  return startLro(ctx, {
    name,
    kind: 'networkOperations',
    region: r.body.location,
    complete: () => {
      deleteResource(ctx.state, r.id)
      onDone?.()
      return undefined
    }
  })
}

function checkNsgRef(state: State, nsgId: string | undefined, byId: string): void {
  if (nsgId && !getResource(state, nsgId)) invalidReference(nsgId, byId)
}

function subnetProps(state: State, props: Body, subnetId: string, old?: Body): Body {
  checkNsgRef(state, props?.networkSecurityGroup?.id, subnetId)
  return {
    provisioningState: 'Updating',
    addressPrefix: props?.addressPrefix ?? old?.addressPrefix,
    ...(props?.networkSecurityGroup?.id
      ? { networkSecurityGroup: { id: props.networkSecurityGroup.id } }
      : {}),
    delegations: props?.delegations ?? [],
    privateEndpointNetworkPolicies: props?.privateEndpointNetworkPolicies ?? 'Disabled',
    privateLinkServiceNetworkPolicies: props?.privateLinkServiceNetworkPolicies ?? 'Enabled'
  }
}

export function putVirtualNetwork(ctx: Ctx, id: string): Reply {
  const { state } = ctx
  const p = parseResourceId(id)!
  const rg = requireResourceGroup(state, p.resourceGroup)
  const body = ctx.body ?? {}
  const existing = getResource(state, id)
  const wanted: Body[] = body.properties?.subnets ?? []
  // A subnet left out of a re-PUT is deleted, so one in use refuses the whole PUT
  // (hashicorp/terraform#16093: VirtualNetworksClient#CreateOrUpdate, 400 InUseSubnetCannotBeDeleted).
  if (existing)
    for (const s of children(state, id, 'subnets')) {
      if (wanted.some(w => key(w.name) === key(s.body.name))) continue
      const used = ipConfigsInSubnet(state, s.id)
      if (used.length) inUseSubnet(s.body.name, used[0])
    }
  const vnet = putResource(state, {
    id,
    type: `${NET}/virtualNetworks`,
    state: existing?.state ?? {},
    body: {
      name: p.names[0],
      id,
      etag: etag(),
      type: `${NET}/virtualNetworks`,
      location: body.location ?? rg.location,
      tags: body.tags ?? {},
      properties: {
        provisioningState: 'Updating',
        resourceGuid: existing?.body.properties.resourceGuid ?? newGuid(),
        addressSpace: {
          addressPrefixes: body.properties?.addressSpace?.addressPrefixes ?? []
        },
        virtualNetworkPeerings: [],
        enableDdosProtection: body.properties?.enableDdosProtection ?? false
      }
    }
  })
  if (existing)
    for (const s of children(state, id, 'subnets'))
      if (!wanted.some(w => key(w.name) === key(s.body.name))) deleteResource(state, s.id)
  const subnets: Resource[] = wanted.map(w => {
    const sid = `${id}/subnets/${w.name}`
    const old = getResource(state, sid)
    return putResource(state, {
      id: sid,
      type: `${NET}/virtualNetworks/subnets`,
      state: old?.state ?? {},
      body: subnetBody(id, w.name, subnetProps(state, w.properties, sid, old?.body.properties))
    })
  })
  return networkPut(ctx, vnet, !existing, 'virtualNetworks/PUT', () => {
    for (const s of subnets)
      s.body.properties.provisioningState = vnet.body.properties.provisioningState
    return vnetView(state, vnet)
  })
}

export function putSubnet(ctx: Ctx, id: string): Reply {
  const { state } = ctx
  const vnetId = id.split('/').slice(0, -2).join('/')
  const vnet = requireParentVnet(state, vnetId)
  const name = id.split('/').pop()!
  const old = getResource(state, id)
  const s = putResource(state, {
    id,
    type: `${NET}/virtualNetworks/subnets`,
    state: old?.state ?? {},
    body: subnetBody(
      vnet.id,
      name,
      subnetProps(state, ctx.body?.properties, id, old?.body.properties)
    )
  })
  return networkPut(ctx, s, !old, 'subnets/PUT', () => subnetView(state, s))
}

export function getNetworkThing(ctx: Ctx, id: string): Reply {
  const { state } = ctx
  const r = requireNetworkResource(state, id)
  const t = r.type.toLowerCase()
  const body =
    t === 'microsoft.network/virtualnetworks'
      ? vnetView(state, r)
      : t === 'microsoft.network/virtualnetworks/subnets'
        ? subnetView(state, r)
        : t === 'microsoft.network/networksecuritygroups'
          ? nsgView(state, r)
          : clone(r.body)
  return { status: 200, body }
}

/** 404 as the network RP words it for a missing child (subnet) or resource (ARM's message). */
function requireNetworkResource(state: State, id: string): Resource {
  const p = parseResourceId(id)!
  if (p.types.length > 1) {
    requireResourceGroup(state, p.resourceGroup)
    requireParentVnet(state, id.split('/').slice(0, -2).join('/'))
    const r = getResource(state, id)
    if (!r) resourceNotFound(p.type, p.names.join('/'), p.resourceGroup)
    return r
  }
  return requireResource(state, id)
}

export function deleteVirtualNetwork(ctx: Ctx, id: string): Reply {
  const { state } = ctx
  const vnet = getResource(state, id)
  if (!vnet) return { status: 204 }
  // runner-images#7691: VirtualNetworksClient#Delete → 400 InUseSubnet… at the request.
  for (const s of children(state, id, 'subnets')) {
    const used = ipConfigsInSubnet(state, s.id)
    if (used.length) inUseSubnet(s.body.name, used[0])
  }
  return networkDelete(ctx, vnet, 'virtualNetworks/DELETE', () => {
    for (const s of children(state, id, 'subnets')) deleteResource(state, s.id)
  })
}

export function deleteSubnet(ctx: Ctx, id: string): Reply {
  const { state } = ctx
  requireParentVnet(state, id.split('/').slice(0, -2).join('/'))
  const s = getResource(state, id)
  if (!s) return { status: 204 }
  const used = ipConfigsInSubnet(state, id)
  if (used.length) inUseSubnet(s.body.name, used[0])
  return networkDelete(ctx, s, 'subnets/DELETE')
}

/**
 * The six rules every NSG has, as the network RP returns them (spec example
 * NetworkSecurityGroupCreate, `defaultSecurityRules`; the same texts in `az network nsg show`).
 */
const DEFAULT_RULES: [string, string, string, string, string, number, string][] = [
  [
    'AllowVnetInBound',
    'Allow inbound traffic from all VMs in VNET',
    'VirtualNetwork',
    'VirtualNetwork',
    'Allow',
    65000,
    'Inbound'
  ],
  [
    'AllowAzureLoadBalancerInBound',
    'Allow inbound traffic from azure load balancer',
    'AzureLoadBalancer',
    '*',
    'Allow',
    65001,
    'Inbound'
  ],
  ['DenyAllInBound', 'Deny all inbound traffic', '*', '*', 'Deny', 65500, 'Inbound'],
  [
    'AllowVnetOutBound',
    'Allow outbound traffic from all VMs to all VMs in VNET',
    'VirtualNetwork',
    'VirtualNetwork',
    'Allow',
    65000,
    'Outbound'
  ],
  [
    'AllowInternetOutBound',
    'Allow outbound traffic from all VMs to Internet',
    '*',
    'Internet',
    'Allow',
    65001,
    'Outbound'
  ],
  ['DenyAllOutBound', 'Deny all outbound traffic', '*', '*', 'Deny', 65500, 'Outbound']
]

function ruleBody(nsgId: string, kind: string, name: string, props: Body, tag: string): Body {
  return {
    name,
    id: `${nsgId}/${kind}/${name}`,
    etag: tag,
    type: `${NET}/networkSecurityGroups/${kind}`,
    properties: {
      provisioningState: 'Succeeded',
      sourcePortRanges: [],
      destinationPortRanges: [],
      sourceAddressPrefixes: [],
      destinationAddressPrefixes: [],
      ...props
    }
  }
}

function nsgView(state: State, nsg: Resource): Body {
  const body = clone(nsg.body)
  // The rules carry the group's state: "Updating" in the PUT echo, then "Succeeded"
  // (REC network test_network_nic.yaml @05efc032, NSG create).
  for (const r of [...body.properties.securityRules, ...body.properties.defaultSecurityRules])
    r.properties.provisioningState = body.properties.provisioningState
  const users = nsgUsers(state, nsg.id)
  const nics = users.filter(u => /\/networkInterfaces\//i.test(u))
  const subnets = users.filter(u => /\/subnets\//i.test(u))
  if (nics.length) body.properties.networkInterfaces = nics.map(id => ({ id }))
  if (subnets.length) body.properties.subnets = subnets.map(id => ({ id }))
  return body
}

export function putNetworkSecurityGroup(ctx: Ctx, id: string): Reply {
  const { state } = ctx
  const p = parseResourceId(id)!
  const rg = requireResourceGroup(state, p.resourceGroup)
  const body = ctx.body ?? {}
  const existing = getResource(state, id)
  const tag = etag()
  const nsg = putResource(state, {
    id,
    type: `${NET}/networkSecurityGroups`,
    state: existing?.state ?? {},
    body: {
      name: p.names[0],
      id,
      etag: tag,
      type: `${NET}/networkSecurityGroups`,
      location: body.location ?? rg.location,
      tags: body.tags ?? {},
      properties: {
        provisioningState: 'Updating',
        resourceGuid: existing?.body.properties.resourceGuid ?? newGuid(),
        securityRules: (body.properties?.securityRules ?? []).map((r: Body) =>
          ruleBody(id, 'securityRules', r.name, r.properties ?? {}, tag)
        ),
        defaultSecurityRules: DEFAULT_RULES.map(
          ([name, description, src, dst, access, priority, direction]) =>
            ruleBody(
              id,
              'defaultSecurityRules',
              name,
              {
                description,
                protocol: '*',
                sourcePortRange: '*',
                destinationPortRange: '*',
                sourceAddressPrefix: src,
                destinationAddressPrefix: dst,
                access,
                priority,
                direction
              },
              tag
            )
        )
      }
    }
  })
  return networkPut(ctx, nsg, !existing, 'networkSecurityGroups/PUT', () => nsgView(state, nsg))
}

export function deleteNetworkSecurityGroup(ctx: Ctx, id: string): Reply {
  const { state } = ctx
  const nsg = getResource(state, id)
  if (!nsg) return { status: 204 }
  const users = nsgUsers(state, id)
  // terra-workspace-manager#502 (text), pulumi-azure-native#3051 (code); 400 at the request (unverified status).
  if (users.length)
    badRequest(
      'InUseNetworkSecurityGroupCannotBeDeleted',
      `Network security group ${nsg.id} cannot be deleted because it is in use by the following resources: ${users.join(', ')}. In order to delete the Network security group, remove the association with the resource(s).`
    )
  return networkDelete(ctx, nsg, 'networkSecurityGroups/DELETE')
}

export function putPublicIp(ctx: Ctx, id: string): Reply {
  const { state } = ctx
  const p = parseResourceId(id)!
  const rg = requireResourceGroup(state, p.resourceGroup)
  const body = ctx.body ?? {}
  const existing = getResource(state, id)
  const ip = putResource(state, {
    id,
    type: `${NET}/publicIPAddresses`,
    state: existing?.state ?? {},
    body: {
      name: p.names[0],
      id,
      etag: etag(),
      type: `${NET}/publicIPAddresses`,
      location: body.location ?? rg.location,
      tags: body.tags ?? {},
      sku: body.sku ?? { name: 'Standard', tier: 'Regional' },
      properties: {
        provisioningState: 'Updating',
        resourceGuid: existing?.body.properties.resourceGuid ?? newGuid(),
        publicIPAddressVersion: body.properties?.publicIPAddressVersion ?? 'IPv4',
        publicIPAllocationMethod: body.properties?.publicIPAllocationMethod ?? 'Static',
        idleTimeoutInMinutes: body.properties?.idleTimeoutInMinutes ?? 4,
        ipTags: [],
        ...(existing?.body.properties.ipConfiguration
          ? { ipConfiguration: existing.body.properties.ipConfiguration }
          : {})
      }
    }
  })
  return networkPut(ctx, ip, !existing, 'publicIPAddresses/PUT', () => {
    // A documentation address (RFC 5737) stands in for the one Azure assigns.
    if (ip.body.properties.provisioningState === 'Succeeded' && !ip.body.properties.ipAddress)
      ip.body.properties.ipAddress = `203.0.113.${(state.resources.size % 250) + 1}`
    return clone(ip.body)
  })
}

export function deletePublicIp(ctx: Ctx, id: string): Reply {
  const { state } = ctx
  const ip = getResource(state, id)
  if (!ip) return { status: 204 }
  const cfg = ip.body.properties.ipConfiguration?.id
  // hashicorp/packer-plugin-azure#125 quotes the reply's tail (400 at the request).
  if (cfg)
    badRequest(
      'PublicIPAddressCannotBeDeleted',
      `Public IP address ${ip.id} can not be deleted since it is still allocated to resource ${cfg}. In order to delete the public IP, disassociate/detach the Public IP address from the resource.  To learn how to do this, see aka.ms/deletepublicip.`
    )
  return networkDelete(ctx, ip, 'publicIPAddresses/DELETE')
}

export function putNetworkInterface(ctx: Ctx, id: string): Reply {
  const { state } = ctx
  const p = parseResourceId(id)!
  const rg = requireResourceGroup(state, p.resourceGroup)
  const body = ctx.body ?? {}
  const location = body.location ?? rg.location
  const existing = getResource(state, id)
  const configs: Body[] = body.properties?.ipConfigurations ?? []
  // Every reference must exist in the NIC's region: 400 InvalidResourceReference at the request
  // (MicrosoftDocs/azure-docs#32363: InterfacesClient#CreateOrUpdate StatusCode=400; a subnet in
  // another region: microsoft/CromwellOnAzure#231; a missing virtual network is the one named:
  // Azure/azure-cli#1237).
  const resolved = configs.map((c, i) => {
    const subnetId = String(c.properties?.subnet?.id ?? '')
    const vnetId = subnetId.split('/').slice(0, -2).join('/')
    const vnet = getResource(state, vnetId)
    if (!vnet) invalidReference(vnetId || subnetId, id)
    const subnet = getResource(state, subnetId)
    if (!subnet || norm(vnet.body.location) !== norm(location)) invalidReference(subnetId, id)
    const pipId = c.properties?.publicIPAddress?.id
    const pip = pipId ? getResource(state, pipId) : undefined
    if (pipId && (!pip || norm(pip.body.location) !== norm(location))) invalidReference(pipId, id)
    const name = c.name ?? `ipconfig${i + 1}`
    const old = (existing?.body.properties.ipConfigurations ?? []).find(
      (o: Body) => key(o.name) === key(name)
    )
    return { c, name, subnet, pip, old }
  })
  checkNsgRef(state, body.properties?.networkSecurityGroup?.id, id)
  const tag = etag()
  const ipConfigurations = resolved.map(({ c, name, subnet, pip, old }, i) => {
    const cfgId = `${id}/ipConfigurations/${name}`
    if (pip) pip.body.properties.ipConfiguration = { id: cfgId }
    return {
      name,
      id: cfgId,
      etag: tag,
      type: `${NET}/networkInterfaces/ipConfigurations`,
      properties: {
        provisioningState: 'Succeeded',
        privateIPAddress:
          old && key(old.properties.subnet.id) === key(subnet.id)
            ? old.properties.privateIPAddress
            : nextPrivateIp(state, subnet),
        privateIPAllocationMethod: c.properties?.privateIPAllocationMethod ?? 'Dynamic',
        subnet: { id: subnet.id },
        ...(pip ? { publicIPAddress: { id: pip.id } } : {}),
        primary: c.properties?.primary ?? i === 0,
        privateIPAddressVersion: 'IPv4'
      }
    }
  })
  // A public IP dropped from the NIC is free again.
  for (const o of existing?.body.properties.ipConfigurations ?? []) {
    const pipId = o.properties?.publicIPAddress?.id
    if (
      pipId &&
      !ipConfigurations.some(n => key(n.properties.publicIPAddress?.id ?? '') === key(pipId))
    ) {
      const pip = getResource(state, pipId)
      if (pip) delete pip.body.properties.ipConfiguration
    }
  }
  const nic = putResource(state, {
    id,
    type: `${NET}/networkInterfaces`,
    state: existing?.state ?? {},
    body: {
      name: p.names[0],
      id,
      etag: tag,
      type: `${NET}/networkInterfaces`,
      location,
      tags: body.tags ?? {},
      kind: 'Regular',
      properties: {
        provisioningState: 'Updating',
        resourceGuid: existing?.body.properties.resourceGuid ?? newGuid(),
        ipConfigurations,
        dnsSettings: { dnsServers: [], appliedDnsServers: [] },
        enableAcceleratedNetworking: body.properties?.enableAcceleratedNetworking ?? false,
        enableIPForwarding: body.properties?.enableIPForwarding ?? false,
        disableTcpStateTracking: false,
        ...(body.properties?.networkSecurityGroup?.id
          ? { networkSecurityGroup: { id: body.properties.networkSecurityGroup.id } }
          : {}),
        ...(existing?.body.properties.virtualMachine
          ? { virtualMachine: existing.body.properties.virtualMachine }
          : {}),
        nicType: 'Standard',
        auxiliaryMode: 'None',
        auxiliarySku: 'None'
      }
    }
  })
  return networkPut(ctx, nic, !existing, 'networkInterfaces/PUT', () => clone(nic.body))
}

export function deleteNetworkInterface(ctx: Ctx, id: string): Reply {
  const { state } = ctx
  const nic = getResource(state, id)
  if (!nic) return { status: 204 }
  const vm = nic.body.properties.virtualMachine?.id
  // hashicorp/terraform-provider-azurerm#8105, packer-plugin-azure#273: InterfacesClient#Delete,
  // 400 at the request. The text after "In order to del" is cut in both; the rest is unverified.
  if (vm)
    badRequest(
      'NicInUse',
      `Network Interface ${nic.id} is used by existing resource ${vm}. In order to delete the network interface, it must be dissociated from the resource. To learn more, see aka.ms/deletenic.`
    )
  return networkDelete(ctx, nic, 'networkInterfaces/DELETE', () => {
    for (const c of nic.body.properties.ipConfigurations ?? []) {
      const pip = c.properties?.publicIPAddress?.id
        ? getResource(state, c.properties.publicIPAddress.id)
        : undefined
      if (pip) delete pip.body.properties.ipConfiguration
    }
  })
}
