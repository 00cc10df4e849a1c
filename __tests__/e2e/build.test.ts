/**
 * Build mode end to end (issue 9 "Done when"): the bundled action builds a golden image from a
 * Marketplace base image in the emulator, and the emulator's request log shows what it did: the
 * newest version resolved, no public IP, no inbound allow rule, the scripts in order, a gallery
 * version and a managed image, and every temporary resource deleted by the main step.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runAction, type ActionRun } from '../support/action-runner.js'
import { BUILD_TEMPORARY_TYPES, startBuildCloud, UBUNTU_URN } from '../support/build-cloud.js'
import type { LocalCloud } from '../support/cloud.js'

const RG = 'build-rg'
const LOCATION = 'westeurope'
const NEWEST = '24.04.202611250'
let cloud: LocalCloud
let workspace: string

beforeAll(async () => {
  cloud = await startBuildCloud(RG, LOCATION, {
    versions: [NEWEST, '24.04.202609100', '24.04.20261125'],
    securityType: 'TrustedLaunchSupported'
  })
  cloud.emu.addGallery(RG, 'golden', LOCATION)
  cloud.emu.addScriptBehaviour({ marker: 'step-one', exitCode: 0, stdout: 'one says hello\n' })
  cloud.emu.addScriptBehaviour({ marker: 'step-two', exitCode: 0, stdout: 'two says hello\n' })
  workspace = mkdtempSync(join(tmpdir(), 'build-ws-'))
  mkdirSync(join(workspace, 'scripts'))
  writeFileSync(join(workspace, 'scripts/one.sh'), '# step-one\necho one\n')
  writeFileSync(join(workspace, 'scripts/two.sh'), '# step-two\necho two\n')
})
afterAll(async () => {
  await cloud.close()
  rmSync(workspace, { recursive: true, force: true })
})

function build(inputs: Record<string, string>): Promise<ActionRun> {
  return runAction({
    inputs: {
      ...cloud.inputs,
      'resource-group': RG,
      'base-image': UBUNTU_URN,
      ...inputs
    },
    env: { ...cloud.env, GITHUB_WORKSPACE: workspace }
  })
}

const puts = (type: RegExp): Array<{ path: string; body: Record<string, unknown> }> =>
  cloud.emu
    .writes()
    .filter(r => r.method === 'PUT' && type.test(r.path))
    .map(r => ({ path: r.path, body: r.body as Record<string, unknown> }))

describe('build from a Marketplace image', () => {
  let run: ActionRun
  let before: number
  beforeAll(async () => {
    before = cloud.emu.requests.length
    run = await build({
      gallery: 'golden',
      'gallery-image': 'ubuntu',
      'create-gallery-image': 'true',
      'gallery-image-version': '1.0.0',
      'image-name': 'ubuntu-golden',
      'customize-scripts': 'scripts/one.sh\nscripts/two.sh',
      customize: '# step-inline\necho inline'
    })
  }, 300_000)

  it('succeeds with image-id and base-image-version as outputs', () => {
    if (run.main.code !== 0) throw new Error(run.main.stdout.slice(-4000))
    expect(run.outputs['base-image-version']).toBe(NEWEST)
    expect(run.outputs['image-id']).toMatch(
      /\/galleries\/golden\/images\/ubuntu\/versions\/1\.0\.0$/
    )
    expect(run.outputs['managed-image-id']).toMatch(/\/images\/ubuntu-golden$/)
  })

  it('creates the VM from the newest version, with no public IP and a NIC behind an NSG', () => {
    const vms = puts(/\/virtualMachines\/[^/]+$/i)
    expect(vms).toHaveLength(1)
    const props = vms[0].body.properties as Record<string, any>
    expect(props.storageProfile.imageReference).toEqual({
      publisher: 'Canonical',
      offer: 'ubuntu-24_04-lts',
      sku: 'server',
      version: NEWEST
    })
    expect(props.storageProfile.osDisk.deleteOption).toBe('Delete')
    expect(props.networkProfile.networkInterfaces[0].properties.deleteOption).toBe('Delete')
    // A gallery and a managed image target: Trusted Launch is not allowed (no managed image of it).
    expect(props.securityProfile?.securityType).toBeUndefined()
    expect(puts(/\/publicIPAddresses\//i)).toEqual([])
    const nics = puts(/\/networkInterfaces\/[^/]+$/i)
    expect(nics).toHaveLength(1)
    const ip = (nics[0].body.properties as any).ipConfigurations[0].properties
    expect(ip.publicIPAddress).toBeUndefined()
    expect((nics[0].body.properties as any).networkSecurityGroup.id).toMatch(
      /networkSecurityGroups\//
    )
  })

  it('allows no inbound traffic in the NSG it creates', () => {
    const nsgs = puts(/\/networkSecurityGroups\/[^/]+$/i)
    expect(nsgs).toHaveLength(1)
    const rules = ((nsgs[0].body.properties as any).securityRules ?? []) as Array<{
      properties: { direction: string; access: string }
    }>
    expect(
      rules.filter(r => r.properties.direction === 'Inbound' && r.properties.access === 'Allow')
    ).toEqual([])
  })

  it('gives the temporary subnet a way out: not a private subnet, which new networks default to', () => {
    // learn.microsoft.com default-outbound-access: from API 2025-07-01 new subnets are private;
    // Run Command needs outbound 443 to report (linux/run-command.md "Restrictions").
    const vnets = puts(/\/virtualNetworks\/[^/]+$/i)
    expect(vnets).toHaveLength(1)
    const subnets = (vnets[0].body.properties as any).subnets as Array<{ properties: any }>
    expect(subnets.map(s => s.properties.defaultOutboundAccess)).toEqual([true])
  })

  it('runs the scripts in order, each output in the log', () => {
    const sent = puts(/\/runCommands\/[^/]+$/i).map(
      p => ((p.body.properties as any).source.script as string).split('\n')[0]
    )
    const ours = sent.filter(s => /step-/.test(s))
    expect(ours).toEqual(['# step-one', '# step-two', '# step-inline'])
    const log = run.main.stdout
    expect(log.indexOf('one says hello')).toBeGreaterThan(0)
    expect(log.indexOf('two says hello')).toBeGreaterThan(log.indexOf('one says hello'))
  })

  it('tags what it creates with the resolved base image', () => {
    const vm = puts(/\/virtualMachines\/[^/]+$/i)[0]
    expect((vm.body.tags as Record<string, string>)['base-image']).toBe(
      `Canonical:ubuntu-24_04-lts:server:${NEWEST}`
    )
    const image = cloud.emu.resources.list('Microsoft.Compute/images')[0] as any
    expect(image.tags['base-image']).toBe(`Canonical:ubuntu-24_04-lts:server:${NEWEST}`)
  })

  it('deletes every temporary resource in the main step', () => {
    for (const type of BUILD_TEMPORARY_TYPES)
      expect([type, cloud.emu.resources.created(type)]).toEqual([type, []])
    // Deleted by the main step: the post step found a succeeded run and had nothing to do.
    expect(run.main.stdout).toMatch(/Build cleanup: deleted temporary VM/)
    expect(run.post?.code).toBe(0)
    expect(run.post?.stdout ?? '').toMatch(/main step succeeded; nothing to clean up/)
    // Started once the managed image existed, while the gallery version (made from the image) was
    // still being created: the VM's DELETE comes before the version's last poll.
    const log = cloud.emu.requests.slice(before)
    const vmDelete = log.findIndex(
      r => r.method === 'DELETE' && /virtualMachines\/[^/]+$/i.test(r.path)
    )
    const imagePut = log.findIndex(
      r => r.method === 'PUT' && /\/images\/ubuntu-golden$/i.test(r.path)
    )
    const lastVersionRead = log.findLastIndex(
      r => r.method === 'GET' && /versions\/1\.0\.0$/.test(r.path)
    )
    expect(imagePut).toBeGreaterThanOrEqual(0)
    expect(vmDelete).toBeGreaterThan(imagePut)
    expect(vmDelete).toBeLessThan(lastVersionRead)
    expect(cloud.emu.requests.length).toBeGreaterThan(before)
  })
})
