/**
 * Build mode into an EXISTING gallery image definition (chaos campaign, replay seeds 2071389145
 * and 773159279): the build VM's security type follows the definition the version goes into. A
 * definition without the SecurityType feature (Standard) takes only a Standard VM, a TrustedLaunch
 * one only a Trusted Launch VM (`securityMismatch` in src/targets/gallery-model.ts; real-azure.md
 * row 1), so a base image that supports either builds whichever the definition takes, and a
 * `security-type` input that contradicts the definition is refused before anything is written.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { errorLines, runAction, type ActionRun } from '../support/action-runner.js'
import { startBuildCloud, UBUNTU_URN } from '../support/build-cloud.js'
import type { LocalCloud } from '../support/cloud.js'

const RG = 'build-sec-rg'
const LOCATION = 'westeurope'
let cloud: LocalCloud

beforeAll(async () => {
  // The base image supports Trusted Launch and Standard alike.
  cloud = await startBuildCloud(RG, LOCATION, {
    versions: ['24.04.202611250'],
    securityType: 'TrustedLaunchSupported'
  })
  cloud.emu.addGallery(RG, 'golden', LOCATION)
  for (const [name, securityType] of [
    ['ubuntu-std', 'Standard'],
    ['ubuntu-tl', 'TrustedLaunch']
  ] as const)
    cloud.emu.addGalleryImage({
      resourceGroup: RG,
      gallery: 'golden',
      name,
      osType: 'Linux',
      hyperVGeneration: 'V2',
      securityType
    })
})
afterAll(async () => cloud.close())

function build(inputs: Record<string, string>): Promise<ActionRun> {
  return runAction({
    inputs: {
      ...cloud.inputs,
      'resource-group': RG,
      'base-image': UBUNTU_URN,
      gallery: 'golden',
      ...inputs
    },
    env: cloud.env
  })
}

/** The security type of the build VMs created since request `from`. */
function vmSecurityTypes(from: number): Array<string | undefined> {
  return cloud.emu.requests
    .slice(from)
    .filter(r => r.method === 'PUT' && /\/virtualMachines\/[^/]+$/i.test(r.path))
    .map(r => (r.body as any)?.properties?.securityProfile?.securityType as string | undefined)
}

describe('a build into an existing definition takes its security type', () => {
  it('a Standard definition: the build VM is Standard and the version is published', async () => {
    const before = cloud.emu.requests.length
    const run = await build({ 'gallery-image': 'ubuntu-std', 'gallery-image-version': '1.0.0' })
    if (run.main.code !== 0) throw new Error(run.main.stdout.slice(-4000))
    expect(run.outputs['image-id']).toMatch(
      /\/galleries\/golden\/images\/ubuntu-std\/versions\/1\.0\.0$/
    )
    expect(vmSecurityTypes(before)).toEqual([undefined])
    // Read once: the security type and the gallery check both come from that read.
    const definitionReads = cloud.emu.requests
      .slice(before)
      .filter(r => r.method === 'GET' && /\/galleries\/golden\/images\/ubuntu-std$/i.test(r.path))
    expect(definitionReads).toHaveLength(1)
  }, 300_000)

  it('a TrustedLaunch definition: the build VM is Trusted Launch', async () => {
    const before = cloud.emu.requests.length
    const run = await build({ 'gallery-image': 'ubuntu-tl', 'gallery-image-version': '1.0.0' })
    if (run.main.code !== 0) throw new Error(run.main.stdout.slice(-4000))
    expect(run.outputs['image-id']).toMatch(/\/images\/ubuntu-tl\/versions\/1\.0\.0$/)
    expect(vmSecurityTypes(before)).toEqual(['TrustedLaunch'])
  }, 300_000)

  it("a 'security-type' that contradicts the definition: one error naming the input, nothing written", async () => {
    const before = cloud.emu.writes().length
    const run = await build({
      'gallery-image': 'ubuntu-std',
      'gallery-image-version': '2.0.0',
      'security-type': 'TrustedLaunch'
    })
    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain("Input 'security-type'")
    expect(errors[0]).toContain('ubuntu-std')
    expect(cloud.emu.writes().length).toBe(before)
  }, 300_000)
})
