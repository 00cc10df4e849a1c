/**
 * The build VM's network: a NIC with no public IP, behind an NSG whose only rule denies all inbound
 * traffic, in the given subnet (`subnet-id`, read and joined, never changed) or in a temporary
 * virtual network made for the run. Nothing reaches the VM from outside: the scripts travel
 * through the VM agent (Run Command), which only makes outbound connections
 * (learn.microsoft.com run-command.md: the agent needs outbound access to Azure, not inbound).
 *
 * Each resource is in the ledger before its PUT is sent, so a cancellation while Azure creates it
 * still leaves the post step a record; cleanup deletes only what carries this job's owner key.
 */
import type { AzureClients } from '../azure/clients.js'
import { getOrUndefined } from '../azure/not-found.js'
import { waitFor } from '../azure/operation.js'
import { normaliseRegion } from '../azure/region.js'
import { resourceId } from '../azure/resource-id.js'
import { buildResourceIds } from '../ledger.js'
import type { BuildNames, SubnetRef } from '../plan.js'
import { StepFailure, type RunContext } from '../run-context.js'
import { oneLine } from '../untrusted.js'

const NETWORK = 'Microsoft.Network'

/** Address space of a temporary virtual network: private, small, and the VM's alone. */
export const TEMPORARY_ADDRESS_SPACE = '10.200.0.0/24'

/** The only rule of the build NSG: deny every inbound flow, over Azure's default allow rules. */
export const DENY_ALL_INBOUND = {
  name: 'deny-all-inbound',
  priority: 4096,
  direction: 'Inbound',
  access: 'Deny',
  protocol: '*',
  sourceAddressPrefix: '*',
  sourcePortRange: '*',
  destinationAddressPrefix: '*',
  destinationPortRange: '*',
  description: 'azure-vm-image build VM: no inbound access (scripts run through Run Command)'
} as const

export interface GivenSubnet {
  id: string
  location: string
}

/** Reads `subnet-id`: it must exist and be usable; its region is its virtual network's. */
export async function readGivenSubnet(
  clients: AzureClients,
  subnet: SubnetRef,
  signal: AbortSignal
): Promise<GivenSubnet> {
  const { vnet } = subnet
  const id = `${resourceId(vnet, NETWORK, 'virtualNetworks')}/subnets/${subnet.subnet}`
  const network = await getOrUndefined(
    clients.network.virtualNetworks.get(vnet.resourceGroup, vnet.name, { abortSignal: signal })
  )
  const found = network
    ? await getOrUndefined(
        clients.network.subnets.get(vnet.resourceGroup, vnet.name, subnet.subnet, {
          abortSignal: signal
        })
      )
    : undefined
  if (network === undefined || found === undefined) {
    throw new StepFailure(`Input 'subnet-id': subnet ${id} does not exist.`)
  }
  if (found.provisioningState !== undefined && found.provisioningState !== 'Succeeded') {
    throw new StepFailure(
      oneLine(
        `Input 'subnet-id': subnet '${subnet.subnet}' is ${found.provisioningState}, not Succeeded.`
      )
    )
  }
  return { id, location: normaliseRegion(network.location ?? '') }
}

export interface BuildNetwork {
  subnetId: string
  nsgId: string
  nicId: string
  /** Only when the run made its own virtual network. */
  vnetId?: string
}

/** Creates the NSG, the virtual network when needed, and the NIC. */
export async function createBuildNetwork(
  ctx: RunContext,
  names: BuildNames,
  location: string,
  given: GivenSubnet | undefined
): Promise<BuildNetwork> {
  const { plan, clients, ledger, log, signal } = ctx
  const rg = plan.resourceGroup
  const all = buildResourceIds({ subscriptionId: plan.subscriptionId, resourceGroup: rg }, names)
  const ids = { nsgId: all.nsg, nicId: all.nic, vnetId: all.vnet, subnetId: `${all.vnet}/subnets/${names.subnet}` }
  const tags = plan.tags
  const wait = { log, signal }

  ledger.add({ kind: 'build-resource', id: ids.nsgId })
  await waitFor(
    `Create network security group '${names.nsg}'`,
    clients.network.networkSecurityGroups.createOrUpdate(
      rg,
      names.nsg,
      { location, tags, securityRules: [DENY_ALL_INBOUND] },
      { abortSignal: signal }
    ),
    wait
  )
  let subnetId = given?.id
  let vnetId: string | undefined
  if (subnetId === undefined) {
    ledger.add({ kind: 'build-resource', id: ids.vnetId })
    await waitFor(
      `Create virtual network '${names.vnet}'`,
      clients.network.virtualNetworks.createOrUpdate(
        rg,
        names.vnet,
        {
          location,
          tags,
          addressSpace: { addressPrefixes: [TEMPORARY_ADDRESS_SPACE] },
          subnets: [{ name: names.subnet, addressPrefix: TEMPORARY_ADDRESS_SPACE }]
        },
        { abortSignal: signal }
      ),
      wait
    )
    subnetId = ids.subnetId
    vnetId = ids.vnetId
  }
  ledger.add({ kind: 'build-resource', id: ids.nicId })
  await waitFor(
    `Create network interface '${names.nic}' (no public IP)`,
    clients.network.networkInterfaces.createOrUpdate(
      rg,
      names.nic,
      {
        location,
        tags,
        ipConfigurations: [
          { name: 'ipconfig1', subnet: { id: subnetId }, privateIPAllocationMethod: 'Dynamic' }
        ],
        networkSecurityGroup: { id: ids.nsgId }
      },
      { abortSignal: signal }
    ),
    wait
  )
  return { subnetId, nsgId: ids.nsgId, nicId: ids.nicId, vnetId }
}
