/**
 * The image definition: created with the properties derived from the source when missing and
 * allowed, refused before any write when missing and not allowed or when it does not fit the source.
 * The bundled action, run as the runner runs it, against the ARM emulator; evidence is what the
 * emulator received and what the action wrote.
 */
import { describe, expect, it } from '@jest/globals'
import { errorLines } from '../support/action-runner.js'
import type { Body, VmSeed } from '../emulator/index.js'
import { short } from '../support/cloud.js'
import {
  GALLERY,
  LOCATION,
  cloud,
  definitionId,
  versionId,
  body,
  seedDefinition,
  publish,
  expectSuccess,
  useGalleryCloud
} from '../support/gallery-run.js'

useGalleryCloud()

describe('the image definition', () => {
  it('creates a missing gallery and definition with the properties derived from a Trusted Launch VM', async () => {
    cloud.seedVm('tl-builder', { securityType: 'TrustedLaunch', hyperVGeneration: 'V2' })
    const before = cloud.emu.requests.length
    const run = await publish(
      'tl-builder',
      'ubuntu-tl',
      {
        gallery: 'new_gallery',
        'create-gallery-image': 'true',
        'gallery-image-version': '1.0.0',
        tags: 'team=platform'
      },
      { runId: '7400001' }
    )
    expectSuccess(run)
    const writes = cloud.writesSince(before)
    expect(writes.map(short)).toEqual([
      'POST virtualMachines/tl-builder/deallocate',
      'POST virtualMachines/tl-builder/generalize',
      'PUT galleries/new_gallery',
      'PUT galleries/new_gallery/images/ubuntu-tl',
      'PUT galleries/new_gallery/images/ubuntu-tl/versions/1.0.0'
    ])
    expect(body(writes[2])).toMatchObject({
      location: LOCATION,
      tags: { team: 'platform', 'github-run-id': '7400001' }
    })
    const def = body(writes[3])
    expect(def.location).toBe(LOCATION)
    expect(def.properties).toEqual({
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V2',
      architecture: 'x64',
      identifier: { publisher: 'contoso', offer: 'golden-images', sku: 'ubuntu-tl' },
      features: [{ name: 'SecurityType', value: 'TrustedLaunch' }]
    })
    expect(def.tags).toMatchObject({ team: 'platform', 'github-run-id': '7400001' })
    expect(run.outputs['gallery-image-version-id']).toBe(
      versionId('ubuntu-tl', '1.0.0', 'new_gallery')
    )
    // The gallery and the definition are listed as created, each with its ID.
    expect(run.summary).toMatch(/\| Gallery \| \[`[^`]*\/galleries\/new_gallery`\]/i)
    expect(run.summary).toMatch(
      /\| Gallery image( definition)? \| \[`[^`]*\/galleries\/new_gallery\/images\/ubuntu-tl`\]/i
    )
  })

  // From gallery API 2025-03-03 a definition created without a SecurityType feature becomes
  // TrustedLaunchSupported (and V2), which refuses VM sources: the action names Standard itself.
  it('creates a missing definition in an existing gallery: Standard VM, SecurityType Standard sent explicitly, given identifier', async () => {
    cloud.seedVm('std-builder', { hyperVGeneration: 'V1' })
    const before = cloud.emu.requests.length
    const run = await publish(
      'std-builder',
      'ubuntu-std',
      {
        'create-gallery-image': 'true',
        'gallery-image-version': '1.0.0',
        publisher: 'Fabrikam',
        offer: 'base',
        sku: '24_04'
      },
      { runId: '7400002' }
    )
    expectSuccess(run)
    const writes = cloud.writesSince(before)
    expect(writes.map(short)).toEqual([
      'POST virtualMachines/std-builder/deallocate',
      'POST virtualMachines/std-builder/generalize',
      `PUT galleries/${GALLERY}/images/ubuntu-std`,
      `PUT galleries/${GALLERY}/images/ubuntu-std/versions/1.0.0`
    ])
    expect(body(writes[2]).properties).toEqual({
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V1',
      architecture: 'x64',
      identifier: { publisher: 'Fabrikam', offer: 'base', sku: '24_04' },
      features: [{ name: 'SecurityType', value: 'Standard' }]
    })
    // What Azure made of it: a Standard V1 definition, and the version from the VM succeeded.
    const def = cloud.emu.resources.get(definitionId('ubuntu-std')) as Body
    expect(def.properties).toMatchObject({
      hyperVGeneration: 'V1',
      features: [{ name: 'SecurityType', value: 'Standard' }]
    })
    expect(run.outputs['gallery-image-version-id']).toBe(versionId('ubuntu-std', '1.0.0'))
  })

  it('refuses a missing definition without create-gallery-image before any write', async () => {
    const vm = cloud.seedVm('nodef-builder')
    const before = cloud.emu.requests.length
    const run = await publish(
      'nodef-builder',
      'does-not-exist',
      { 'gallery-image-version': '1.0.0' },
      { runId: '7400003' }
    )
    expect(run.main.code).toBe(1)
    expect(errorLines(run.main)).toEqual([
      expect.stringMatching(
        /Gallery image definition 'does-not-exist' does not exist in gallery 'golden_gallery'.*create-gallery-image: true/
      )
    ])
    expect(cloud.writesSince(before)).toEqual([])
    expect(cloud.emu.resources.state(vm.id as string)).toMatchObject({ powerState: 'running' })
  })

  const mismatches: Array<{
    what: string
    name: string
    def: Parameters<typeof seedDefinition>[1]
    vm: Partial<VmSeed>
    inputs?: Record<string, string>
    error: RegExp
  }> = [
    {
      what: 'OS type',
      name: 'mm-os',
      def: { osType: 'Windows' },
      vm: {},
      error: /'mm-os' is for Windows but the source VM 'mm-os-vm' is Linux/
    },
    {
      what: 'OS state (generalize: false into a Generalized definition)',
      name: 'mm-state',
      def: { osState: 'Generalized' },
      vm: {},
      inputs: { generalize: 'false' },
      error: /'mm-state' is Generalized but the source VM 'mm-state-vm' will be Specialized/
    },
    {
      what: 'Hyper-V generation',
      name: 'mm-hyperv',
      def: { hyperVGeneration: 'V1' },
      vm: { hyperVGeneration: 'V2' },
      error: /'mm-hyperv' is Hyper-V generation V1 but the source VM 'mm-hyperv-vm' is V2/
    },
    {
      what: 'architecture',
      name: 'mm-arch',
      def: { architecture: 'x64' },
      vm: { architecture: 'Arm64' },
      error: /'mm-arch' is for x64 but the source VM 'mm-arch-vm' is Arm64/
    },
    {
      what: 'security type',
      name: 'mm-security',
      def: { securityType: 'Standard' },
      vm: { securityType: 'TrustedLaunch' },
      error:
        /'mm-security' has no SecurityType feature \(Standard\) but the source VM 'mm-security-vm' is TrustedLaunch/
    }
  ]

  it.each(mismatches)(
    'refuses a definition of another $what before the VM is touched',
    async ({ name, def, vm, inputs, error }) => {
      seedDefinition(name, def)
      const seeded = cloud.seedVm(`${name}-vm`, vm)
      const before = cloud.emu.requests.length
      const run = await publish(
        `${name}-vm`,
        name,
        { 'gallery-image-version': '1.0.0', ...(inputs ?? {}) },
        { runId: '7500001' }
      )
      expect(run.main.code).toBe(1)
      const errors = errorLines(run.main)
      expect(errors).toHaveLength(1)
      expect(errors[0]).toMatch(error)
      expect(cloud.writesSince(before)).toEqual([])
      expect(cloud.emu.resources.state(seeded.id as string)).toMatchObject({
        powerState: 'running',
        generalized: false
      })
      expect(run.outputs).toEqual({})
    }
  )
})
