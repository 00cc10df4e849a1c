import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { startArmEmulator, type ArmEmulator } from '../emulator/index.js'
import { arm, trustEmulator } from './helpers.js'

const API = 'api-version=2026-01-01'

describe('ARM emulator Microsoft.Network (virtual networks, subnets, NSGs, NICs, public IPs)', () => {
  let emu: ArmEmulator
  let rgPath: string
  beforeAll(async () => {
    emu = await startArmEmulator()
    trustEmulator(emu)
    emu.addResourceGroup('rg', 'westus')
    rgPath = `/subscriptions/${emu.subscriptionId}/resourceGroups/rg/providers/Microsoft.Network`
  })
  afterAll(async () => emu.close())

  /** Follows a network LRO by its Azure-AsyncOperation URL; returns the status documents. */
  async function follow(url: string): Promise<unknown[]> {
    const docs: unknown[] = []
    for (;;) {
      const r = await arm(emu, 'GET', url.replace(emu.url, ''))
      docs.push(r.body)
      if (r.body.status !== 'InProgress') return docs
    }
  }

  it('creates a virtual network with inline subnets the way the network RP answers', async () => {
    const put = await arm(emu, 'PUT', `${rgPath}/virtualNetworks/vnet1?${API}`, {
      location: 'westus',
      tags: { run: '1' },
      properties: {
        addressSpace: { addressPrefixes: ['10.1.0.0/16'] },
        subnets: [{ name: 'build', properties: { addressPrefix: '10.1.0.0/24' } }]
      }
    })
    expect(put.status).toBe(201)
    expect(put.body.properties.provisioningState).toBe('Updating')
    expect(put.headers.get('retry-after')).toBe('10')
    expect(put.headers.get('location')).toBeNull()
    const ao = put.headers.get('azure-asyncoperation')!
    expect(ao).toMatch(
      /\/subscriptions\/[^/]+\/providers\/Microsoft\.Network\/locations\/westus\/operations\/[0-9a-f-]+\?api-version=2026-01-01$/
    )
    expect(await follow(ao)).toEqual([{ status: 'InProgress' }, { status: 'Succeeded' }])
    const get = await arm(emu, 'GET', `${rgPath}/virtualNetworks/vnet1?${API}`)
    expect(get.body.properties.provisioningState).toBe('Succeeded')
    expect(get.body.properties.subnets).toEqual([
      expect.objectContaining({
        name: 'build',
        type: 'Microsoft.Network/virtualNetworks/subnets',
        properties: expect.objectContaining({
          addressPrefix: '10.1.0.0/24',
          provisioningState: 'Succeeded'
        })
      })
    ])
  })

  it('refuses a NIC whose subnet does not exist or is in another region', async () => {
    const nicPath = `${rgPath}/networkInterfaces/nic-bad?${API}`
    const missing = `${rgPath.replace(emu.url, '')}/virtualNetworks/vnet1/subnets/nope`
    const r = await arm(emu, 'PUT', nicPath, {
      location: 'westus',
      properties: { ipConfigurations: [{ name: 'ip', properties: { subnet: { id: missing } } }] }
    })
    expect(r.status).toBe(400)
    expect(r.body.error).toEqual({
      code: 'InvalidResourceReference',
      message: `Resource ${missing} referenced by resource ${rgPath}/networkInterfaces/nic-bad was not found. Please make sure that the referenced resource exists, and that both resources are in the same region.`,
      details: []
    })
    const other = await arm(emu, 'PUT', nicPath, {
      location: 'eastus',
      properties: {
        ipConfigurations: [
          {
            name: 'ip',
            properties: { subnet: { id: `${rgPath}/virtualNetworks/vnet1/subnets/build` } }
          }
        ]
      }
    })
    expect(other.status).toBe(400)
    expect(other.body.error.code).toBe('InvalidResourceReference')
    expect(emu.resources.get(`${rgPath}/networkInterfaces/nic-bad`)).toBeUndefined()
  })

  it('keeps a subnet, its network and an NSG in use until the NIC is gone', async () => {
    const nsgPut = await arm(emu, 'PUT', `${rgPath}/networkSecurityGroups/nsg1?${API}`, {
      location: 'westus',
      properties: { securityRules: [] }
    })
    expect(nsgPut.status).toBe(201)
    expect(
      nsgPut.body.properties.defaultSecurityRules.map(
        (r: { properties: { provisioningState: string } }) => r.properties.provisioningState
      )
    ).toEqual(Array(6).fill('Updating'))
    await follow(nsgPut.headers.get('azure-asyncoperation')!)
    const nsg = (await arm(emu, 'GET', `${rgPath}/networkSecurityGroups/nsg1?${API}`)).body
    expect(nsg.properties.securityRules).toEqual([])
    expect(
      nsg.properties.defaultSecurityRules.map(
        (r: { name: string; properties: { access: string } }) => [r.name, r.properties.access]
      )
    ).toEqual([
      ['AllowVnetInBound', 'Allow'],
      ['AllowAzureLoadBalancerInBound', 'Allow'],
      ['DenyAllInBound', 'Deny'],
      ['AllowVnetOutBound', 'Allow'],
      ['AllowInternetOutBound', 'Allow'],
      ['DenyAllOutBound', 'Deny']
    ])
    const subnetId = `${rgPath}/virtualNetworks/vnet1/subnets/build`
    const nicPut = await arm(emu, 'PUT', `${rgPath}/networkInterfaces/nic1?${API}`, {
      location: 'westus',
      properties: {
        networkSecurityGroup: { id: nsg.id },
        ipConfigurations: [{ name: 'ipconfig1', properties: { subnet: { id: subnetId } } }]
      }
    })
    expect(nicPut.status).toBe(201)
    await follow(nicPut.headers.get('azure-asyncoperation')!)
    const nic = (await arm(emu, 'GET', `${rgPath}/networkInterfaces/nic1?${API}`)).body
    expect(nic.properties.ipConfigurations[0].properties.privateIPAddress).toBe('10.1.0.4')
    const ipConfigId = `${rgPath}/networkInterfaces/nic1/ipConfigurations/ipconfig1`
    const inUse = {
      code: 'InUseSubnetCannotBeDeleted',
      message: `Subnet build is in use by ${ipConfigId} and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet.`,
      details: []
    }
    for (const [method, path, body] of [
      ['DELETE', `${rgPath}/virtualNetworks/vnet1/subnets/build?${API}`, undefined],
      ['DELETE', `${rgPath}/virtualNetworks/vnet1?${API}`, undefined],
      [
        'PUT',
        `${rgPath}/virtualNetworks/vnet1?${API}`,
        {
          location: 'westus',
          properties: { addressSpace: { addressPrefixes: ['10.1.0.0/16'] }, subnets: [] }
        }
      ]
    ] as const) {
      const r = await arm(emu, method, path, body)
      expect({ method, path, status: r.status, error: r.body.error }).toEqual({
        method,
        path,
        status: 400,
        error: inUse
      })
    }
    const subnet = (await arm(emu, 'GET', `${subnetId}?${API}`)).body
    expect(subnet.properties.ipConfigurations).toEqual([{ id: ipConfigId }])
    const nsgDel = await arm(emu, 'DELETE', `${rgPath}/networkSecurityGroups/nsg1?${API}`)
    expect(nsgDel.status).toBe(400)
    expect(nsgDel.body.error.code).toBe('InUseNetworkSecurityGroupCannotBeDeleted')
    expect(nsgDel.body.error.message).toBe(
      `Network security group ${nsg.id} cannot be deleted because it is in use by the following resources: ${rgPath}/networkInterfaces/nic1. In order to delete the Network security group, remove the association with the resource(s).`
    )

    // Deleting: 202 with Azure-AsyncOperation, Location (operationResults) and Retry-After.
    const nicDel = await arm(emu, 'DELETE', `${rgPath}/networkInterfaces/nic1?${API}`)
    expect(nicDel.status).toBe(202)
    expect(nicDel.headers.get('retry-after')).toBe('10')
    const loc = nicDel.headers.get('location')!
    expect(loc).toMatch(
      /\/providers\/Microsoft\.Network\/locations\/westus\/operationResults\/[0-9a-f-]+\?api-version=2026-01-01$/
    )
    expect(nicDel.headers.get('azure-asyncoperation')).toMatch(/\/operations\/[0-9a-f-]+\?/)
    expect(nicDel.headers.get('x-ms-request-id')).toBe(loc.split('/').pop()!.split('?')[0])
    await follow(nicDel.headers.get('azure-asyncoperation')!)
    expect((await arm(emu, 'GET', loc.replace(emu.url, ''))).status).toBe(200)
    expect((await arm(emu, 'GET', `${rgPath}/networkInterfaces/nic1?${API}`)).status).toBe(404)
    for (const path of [`networkSecurityGroups/nsg1`, `virtualNetworks/vnet1`]) {
      const del = await arm(emu, 'DELETE', `${rgPath}/${path}?${API}`)
      expect(del.status).toBe(202)
      await follow(del.headers.get('azure-asyncoperation')!)
    }
    expect(emu.resources.created()).toEqual([])
    // Deleting what is gone: 204.
    expect((await arm(emu, 'DELETE', `${rgPath}/virtualNetworks/vnet1?${API}`)).status).toBe(204)
  })

  it('keeps a public IP attached to a NIC until the NIC lets it go', async () => {
    emu.addVirtualNetwork({ resourceGroup: 'rg', name: 'vnet2', location: 'westus' })
    const pipPut = await arm(emu, 'PUT', `${rgPath}/publicIPAddresses/pip1?${API}`, {
      location: 'westus',
      sku: { name: 'Standard' },
      properties: { publicIPAllocationMethod: 'Static' }
    })
    await follow(pipPut.headers.get('azure-asyncoperation')!)
    const pipId = `${rgPath}/publicIPAddresses/pip1`
    const nicPut = await arm(emu, 'PUT', `${rgPath}/networkInterfaces/nic2?${API}`, {
      location: 'westus',
      properties: {
        ipConfigurations: [
          {
            name: 'ipconfig1',
            properties: {
              subnet: { id: `${rgPath}/virtualNetworks/vnet2/subnets/default` },
              publicIPAddress: { id: pipId }
            }
          }
        ]
      }
    })
    await follow(nicPut.headers.get('azure-asyncoperation')!)
    const del = await arm(emu, 'DELETE', `${pipId}?${API}`)
    expect(del.status).toBe(400)
    expect(del.body.error.code).toBe('PublicIPAddressCannotBeDeleted')
    expect(del.body.error.message).toContain(
      `${rgPath}/networkInterfaces/nic2/ipConfigurations/ipconfig1`
    )
    const nicDel = await arm(emu, 'DELETE', `${rgPath}/networkInterfaces/nic2?${API}`)
    await follow(nicDel.headers.get('azure-asyncoperation')!)
    expect((await arm(emu, 'DELETE', `${pipId}?${API}`)).status).toBe(202)
  })

  it('refuses an api-version the network RP does not have', async () => {
    const r = await arm(emu, 'GET', `${rgPath}/virtualNetworks/vnet2?api-version=2025-01-02`)
    expect(r.status).toBe(400)
    expect(r.body.error.code).toBe('NoRegisteredProviderFound')
    expect(r.body.error.message).toContain("for type 'virtualNetworks'")
  })
})
