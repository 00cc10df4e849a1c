/**
 * A successful build whose main step could not delete one temporary resource (the virtual network
 * refused while Azure still counts the deleted NIC in its subnet: 400 InUseSubnetCannotBeDeleted,
 * hashicorp/terraform#16093) succeeds with a warning, and the post step deletes what is left: a
 * temporary resource is never left billed because the run as a whole succeeded. The post step
 * touches nothing else of the run (the image stays).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { runAction, type ActionRun } from '../support/action-runner.js'
import { startBuildCloud, UBUNTU_URN } from '../support/build-cloud.js'
import type { LocalCloud } from '../support/cloud.js'

const RG = 'retry-build-rg'
let cloud: LocalCloud
let run: ActionRun

beforeAll(async () => {
  cloud = await startBuildCloud(RG, 'westeurope')
  cloud.emu.faults.add({
    method: 'DELETE',
    path: /\/providers\/Microsoft\.Network\/virtualNetworks\/[^/?]+\?/,
    status: 400,
    code: 'InUseSubnetCannotBeDeleted',
    message:
      'Subnet default is in use by a network interface and cannot be deleted. In order to delete the subnet, delete all the resources within the subnet. See aka.ms/deletesubnet.'
  })
  run = await runAction({
    inputs: {
      ...cloud.inputs,
      'resource-group': RG,
      'base-image': UBUNTU_URN,
      'image-name': 'kept'
    },
    env: cloud.env,
    job: 'retry'
  })
})
afterAll(async () => cloud.close())

describe('a temporary resource the main step could not delete', () => {
  it('the main step succeeds and warns, naming it', () => {
    expect(run.main.code).toBe(0)
    expect(run.main.stdout).toMatch(
      /::warning::Deleting \/subscriptions\/.*\/virtualNetworks\/[^ ]+ failed: Subnet default is in use/
    )
    expect(run.outputs['image-id']).toMatch(/\/images\/kept$/)
  })

  it('the post step deletes it, and only it', () => {
    expect(run.post?.code).toBe(0)
    expect(run.post?.stdout ?? '').toMatch(/Cleanup of what this run left behind/)
    for (const type of [
      'Microsoft.Compute/virtualMachines',
      'Microsoft.Compute/disks',
      'Microsoft.Network/networkInterfaces',
      'Microsoft.Network/networkSecurityGroups',
      'Microsoft.Network/virtualNetworks'
    ])
      expect([type, cloud.emu.resources.created(type)]).toEqual([type, []])
    expect(cloud.emu.resources.created('Microsoft.Compute/images')).toHaveLength(1)
    expect(run.summary).toMatch(/temporary build resources the main step could not delete/)
  })
})
