/**
 * Build mode's inputs and dry run on the bundled action (the bad build inputs are in
 * bad-inputs.test.ts): a missing script gets one `::error::` and no request reaches Azure; what the preflight refuses (an Arm64 image on an x64
 * size, a plan whose terms are not accepted, not enough vCPU quota) is refused before any write;
 * a dry run resolves the base image, checks the size and quota, prints the plan and creates nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { errorLines, runAction } from '../support/action-runner.js'
import { startBuildCloud, UBUNTU_SERVER, UBUNTU_URN } from '../support/build-cloud.js'
import type { LocalCloud } from '../support/cloud.js'

const RG = 'inputs-build-rg'
const LOCATION = 'westeurope'
let cloud: LocalCloud

beforeAll(async () => {
  cloud = await startBuildCloud(RG, LOCATION, { versions: ['24.04.202609100', '24.04.202611250'] })
  cloud.emu.addGallery(RG, 'golden', LOCATION)
  cloud.emu.addMarketplaceImage({ ...UBUNTU_SERVER, sku: 'server-arm64', architecture: 'Arm64' })
  cloud.emu.addMarketplaceImage({
    publisher: 'fabrikam',
    offer: 'hardened',
    sku: 'cis',
    versions: ['1.0.0'],
    osType: 'Linux',
    hyperVGeneration: 'V2',
    plan: { name: 'cis', product: 'hardened', publisher: 'fabrikam' },
    termsAccepted: false
  })
})
afterAll(async () => cloud.close())

const build = {
  'resource-group': RG,
  'base-image': UBUNTU_URN,
  gallery: 'golden',
  'gallery-image': 'ubuntu',
  'create-gallery-image': 'true'
}

describe('customization scripts are read before any call to Azure', () => {
  it('a missing script file: one error naming it, no request', async () => {
    const before = cloud.emu.requests.length
    const run = await runAction({
      inputs: { ...cloud.inputs, ...build, 'customize-scripts': 'no/such/script.sh' },
      env: cloud.env
    })
    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain('no/such/script.sh')
    expect(cloud.emu.requests.length).toBe(before)
  })
})

describe('refused by the preflight, before any write', () => {
  it.each([
    [
      'an Arm64 image on an x64 size',
      { 'base-image': 'Canonical:ubuntu-24_04-lts:server-arm64:latest' },
      /Input 'vm-size': Standard_D2s_v5 is an x64 size, but the base image is Arm64/
    ],
    [
      'a plan whose terms are not accepted',
      { 'base-image': 'fabrikam:hardened:cis:latest' },
      /az vm image terms accept --publisher fabrikam --offer hardened --plan cis/
    ],
    [
      'a size the region has no vCPU quota for',
      { 'vm-size': 'Standard_D4s_v5' },
      /Not enough vCPU quota in westeurope/
    ],
    [
      'Trusted Launch on a managed image target',
      {
        'security-type': 'TrustedLaunchSupported',
        'image-name': 'golden-image',
        gallery: '',
        'gallery-image': ''
      },
      /'image-name'|Trusted Launch/
    ]
  ])('%s', async (_name, inputs, message) => {
    cloud.emu.setUsage({
      location: LOCATION,
      name: 'standardDSv5Family',
      currentValue: 8,
      limit: 10
    })
    const writes = cloud.emu.writes().length
    const run = await runAction({
      inputs: { ...cloud.inputs, ...build, ...inputs },
      env: cloud.env
    })
    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(message)
    expect(cloud.emu.writes().length).toBe(writes)
  })
})

describe('dry run', () => {
  it('resolves the base image, prints the plan with the temporary resources, creates nothing', async () => {
    const writes = cloud.emu.writes().length
    const run = await runAction({
      inputs: { ...cloud.inputs, ...build, 'dry-run': 'true', 'vm-size': 'Standard_D2s_v5' },
      env: cloud.env
    })
    if (run.main.code !== 0) throw new Error(run.main.stdout.slice(-3000))
    expect(cloud.emu.writes().length).toBe(writes)
    expect(run.outputs['base-image-version']).toBe('24.04.202611250')
    const log = run.main.stdout
    expect(log).toMatch(/Create build VM 'vmimage-[0-9a-f]{10}-vm' \(Standard_D2s_v5/)
    expect(log).toContain('from Canonical:ubuntu-24_04-lts:server:24.04.202611250')
    expect(log).toMatch(/no inbound allow rule/)
    // The size and the quota were read.
    const reads = cloud.emu.requests.slice(-80).map(r => r.path)
    expect(reads.some(p => /\/providers\/Microsoft\.Compute\/skus$/i.test(p))).toBe(true)
    expect(reads.some(p => /\/locations\/westeurope\/usages$/i.test(p))).toBe(true)
    expect(run.summary).toContain('Microsoft.Network/networkInterfaces/write')
  })
})
