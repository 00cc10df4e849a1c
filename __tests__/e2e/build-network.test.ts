/**
 * Build mode's network and credential (issue 9 "Done when"): an existing `subnet-id` is used and
 * never deleted or changed; the generated admin credential (a Windows password, a Linux key) never
 * appears in any output, log (debug on), state or summary, and the password is masked through the
 * runner before anything could print it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import {
  everythingWritten,
  maskedValues,
  runAction,
  type ActionRun
} from '../support/action-runner.js'
import { startBuildCloud, UBUNTU_URN, WINDOWS_SERVER_2022 } from '../support/build-cloud.js'
import type { LocalCloud } from '../support/cloud.js'

const RG = 'net-build-rg'
const NET_RG = 'shared-net'
const LOCATION = 'westeurope'
const DEBUG = { ACTIONS_STEP_DEBUG: 'true', RUNNER_DEBUG: '1' }
let cloud: LocalCloud

beforeAll(async () => {
  cloud = await startBuildCloud(RG, LOCATION)
  cloud.emu.addResourceGroup(NET_RG, LOCATION)
  cloud.emu.addVirtualNetwork({
    resourceGroup: NET_RG,
    name: 'hub',
    location: LOCATION,
    subnets: [{ name: 'builders', addressPrefix: '10.0.1.0/24' }]
  })
  cloud.emu.addMarketplaceImage(WINDOWS_SERVER_2022)
})
afterAll(async () => cloud.close())

function build(job: string, inputs: Record<string, string>): Promise<ActionRun> {
  return runAction({
    inputs: { ...cloud.inputs, 'resource-group': RG, ...inputs },
    env: { ...cloud.env, ...DEBUG },
    job
  })
}

const SUBNET = () =>
  `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/${NET_RG}/providers/Microsoft.Network/virtualNetworks/hub/subnets/builders`

/** Everything a user or a later step could read: logs of both steps, outputs, state, summary. */
function vmBodies(): Array<Record<string, any>> {
  return cloud.emu
    .writes()
    .filter(r => r.method === 'PUT' && /\/virtualMachines\/[^/]+$/i.test(r.path))
    .map(r => r.body as Record<string, any>)
}

describe('subnet-id', () => {
  it('puts the NIC in the given subnet, makes no virtual network, and leaves the subnet as it was', async () => {
    const before = JSON.stringify(
      cloud.emu.resources.list('Microsoft.Network/virtualNetworks').find(v => v.name === 'hub')
    )
    const run = await build('subnet', {
      'base-image': UBUNTU_URN,
      'subnet-id': SUBNET(),
      'image-name': 'from-subnet'
    })
    expect(run.main.code).toBe(0)
    const nics = cloud.emu
      .writes()
      .filter(r => r.method === 'PUT' && /\/networkInterfaces\/[^/]+$/i.test(r.path))
    expect(nics).toHaveLength(1)
    const ip = (nics[0].body as any).properties.ipConfigurations[0].properties
    expect(ip.subnet.id.toLowerCase()).toBe(SUBNET().toLowerCase())
    // No virtual network made or touched, the given one unchanged and never deleted.
    const network = cloud.emu
      .writes()
      .filter(r => /\/virtualNetworks\//i.test(r.path))
      .map(r => `${r.method} ${r.path}`)
    expect(network).toEqual([])
    expect(
      JSON.stringify(
        cloud.emu.resources.list('Microsoft.Network/virtualNetworks').find(v => v.name === 'hub')
      )
    ).toBe(before)
    // The build's own resources are gone after the main step.
    for (const type of [
      'Microsoft.Compute/virtualMachines',
      'Microsoft.Network/networkInterfaces',
      'Microsoft.Network/networkSecurityGroups'
    ])
      expect([type, cloud.emu.resources.created(type)]).toEqual([type, []])
  }, 300_000)

  it("refuses a subnet in another region than 'location', before anything is created", async () => {
    const writes = cloud.emu.writes().length
    const run = await build('subnet-region', {
      'base-image': UBUNTU_URN,
      'subnet-id': SUBNET(),
      location: 'eastus',
      'image-name': 'nowhere'
    })
    expect(run.main.code).toBe(1)
    expect(run.main.stdout).toMatch(/::error::Input 'subnet-id': the subnet is in westeurope/)
    expect(cloud.emu.writes().length).toBe(writes)
  }, 120_000)
})

describe('the generated admin credential', () => {
  it('Windows: the password is masked before anything is printed and appears nowhere', async () => {
    const run = await build('windows', {
      'base-image': 'MicrosoftWindowsServer:WindowsServer:2022-datacenter-g2:latest',
      'image-name': 'windows-golden'
    })
    expect(run.main.code).toBe(0)
    const bodies = vmBodies().filter(b => b.properties?.osProfile?.adminPassword !== undefined)
    expect(bodies).toHaveLength(1)
    const password = bodies[0].properties.osProfile.adminPassword as string
    expect(password.length).toBeGreaterThanOrEqual(12)
    // Registered with the runner's masker, before the VM request carried it.
    expect(maskedValues(run)).toContain(password)
    expect(everythingWritten(run)).not.toContain(password)
  }, 300_000)

  it('Linux: a key, no password; the public key is not printed, stored or output either', async () => {
    const run = await build('linux', {
      'base-image': UBUNTU_URN,
      'image-name': 'linux-golden'
    })
    expect(run.main.code).toBe(0)
    const body = vmBodies().at(-1) as Record<string, any>
    const profile = body.properties.osProfile
    expect(profile.adminPassword).toBeUndefined()
    expect(profile.linuxConfiguration.disablePasswordAuthentication).toBe(true)
    const key = profile.linuxConfiguration.ssh.publicKeys[0].keyData as string
    expect(key).toMatch(/^ssh-rsa AAAAB3NzaC1yc2E/)
    expect(everythingWritten(run)).not.toContain(key.split(' ')[1])
    expect(everythingWritten(run)).not.toMatch(/PRIVATE KEY/)
  }, 300_000)
})
