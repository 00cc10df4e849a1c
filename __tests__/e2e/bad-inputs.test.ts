/**
 * Every bad input of the contract, given to the bundled action pointed at a working local cloud:
 * one `::error::` naming the input, exit 1, and not a single request reaches Azure.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { errorLines, runAction } from '../support/action-runner.js'
import { badBuildInputCases, badInputCases } from '../support/bad-inputs.js'
import { startLocalCloud, type LocalCloud } from '../support/cloud.js'

let cloud: LocalCloud
beforeAll(async () => {
  cloud = await startLocalCloud()
  cloud.emu.addResourceGroup('build-rg', 'westeurope')
  cloud.emu.addVm({
    resourceGroup: 'build-rg',
    name: 'golden',
    location: 'westeurope',
    osType: 'Linux'
  })
})
afterAll(async () => cloud.close())

const SUB = '00000000-0000-0000-0000-000000000001'
const capture = { 'resource-group': 'build-rg', 'source-vm': 'golden', 'image-name': 'img' }
const upload = {
  'resource-group': 'build-rg',
  vhd: '/nonexistent/disk.vhd',
  'os-type': 'Linux',
  'image-name': 'img'
}
const build = {
  'resource-group': 'build-rg',
  'base-image': 'Canonical:ubuntu-24_04-lts:server:latest',
  gallery: 'golden',
  'gallery-image': 'ubuntu'
}

describe('bad inputs stop the bundled action before any call to Azure', () => {
  it.each([...badInputCases(SUB, capture, upload), ...badBuildInputCases(SUB, build)])(
    '%s',
    async (_name, inputs, input) => {
      const before = cloud.emu.requests.length
      const run = await runAction({ inputs: { ...cloud.inputs, ...inputs }, env: cloud.env })
      expect(run.main.code).toBe(1)
      const errors = errorLines(run.main)
      expect(errors).toHaveLength(1)
      expect(errors[0]).toContain(`'${input}'`)
      expect(cloud.emu.requests.length).toBe(before)
      // The post step finds nothing to clean up and calls nothing either.
      expect(run.post?.code).toBe(0)
      expect(cloud.emu.requests.length).toBe(before)
    }
  )
})
