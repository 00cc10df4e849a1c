import { describe, it, expect } from '@jest/globals'
import type { GalleryImageVersion } from '@azure/arm-compute'
import {
  decideVersionAction,
  definitionBody,
  definitionFacts,
  fullReplicationProblem,
  lateMismatch,
  definitionMismatches,
  galleryIds,
  isTerminal,
  replicationProgressLine,
  replicationRows,
  replicationTable,
  selectVersionsToPrune,
  storageProfile,
  versionBody,
  type DefinitionFacts
} from '../../../src/targets/gallery-model.js'
import { galleryTarget, owner, ownTags, sourceFacts } from './gallery-fixtures.js'

const fitting: DefinitionFacts = {
  osType: 'Linux',
  osState: 'Generalized',
  hyperVGeneration: 'V2',
  architecture: 'x64',
  securityType: 'Standard'
}
const vm = { kind: 'vm' as const, name: 'build-vm' }

describe('galleryIds', () => {
  it('builds the gallery, definition and version IDs from the target', () => {
    const ids = galleryIds(galleryTarget(), '1.2.3')
    expect(ids.galleryId).toBe(
      '/subscriptions/sub/resourceGroups/gal-rg/providers/Microsoft.Compute/galleries/gal'
    )
    expect(ids.definitionId).toBe(`${ids.galleryId}/images/def`)
    expect(ids.versionId).toBe(`${ids.galleryId}/images/def/versions/1.2.3`)
  })
})

describe('definitionFacts', () => {
  it('reads Azure defaults for missing generation and architecture and finds the SecurityType feature', () => {
    expect(
      definitionFacts({
        location: 'eastus',
        osType: 'Windows',
        osState: 'Specialized',
        features: [
          { name: 'IsAcceleratedNetworkSupported', value: 'true' },
          { name: 'securitytype', value: 'TrustedLaunch' }
        ]
      })
    ).toEqual({
      osType: 'Windows',
      osState: 'Specialized',
      hyperVGeneration: 'V1',
      architecture: 'x64',
      securityType: 'TrustedLaunch'
    })
  })

  it('is Standard without a SecurityType feature (a definition made before the 2025-03-03 default)', () => {
    expect(
      definitionFacts({ location: 'eastus', osType: 'Linux', osState: 'Generalized' }).securityType
    ).toBe('Standard')
  })

  // compute-gallery-whats-new.md: a null SecurityType value means TrustedLaunchSupported.
  it('reads a SecurityType feature without a value as TrustedLaunchSupported', () => {
    expect(
      definitionFacts({
        location: 'eastus',
        osType: 'Linux',
        osState: 'Generalized',
        features: [{ name: 'SecurityType' }]
      }).securityType
    ).toBe('TrustedLaunchSupported')
  })
})

describe('definitionBody', () => {
  it('takes the identifier from the target and the rest from the source', () => {
    const body = definitionBody(galleryTarget(), sourceFacts({ architecture: 'Arm64' }), 'eastus', {
      a: 'b'
    })
    expect(body).toEqual({
      location: 'eastus',
      tags: { a: 'b' },
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V2',
      architecture: 'Arm64',
      identifier: { publisher: 'pub', offer: 'off', sku: 'sku' },
      features: [{ name: 'SecurityType', value: 'Standard' }]
    })
  })

  it.each([
    ['TrustedLaunch', 'TrustedLaunch'],
    ['TrustedLaunchSupported', 'TrustedLaunchSupported'],
    ['ConfidentialVM', 'ConfidentialVM']
  ] as const)('gives a %s source the SecurityType feature %s', (type, feature) => {
    const body = definitionBody(galleryTarget(), sourceFacts({ securityType: type }), 'eastus', {})
    expect(body.features).toEqual([{ name: 'SecurityType', value: feature }])
  })

  // Without the feature, Azure (gallery API >= 2025-03-03) makes a new definition
  // TrustedLaunchSupported, which refuses VM and managed disk sources.
  it('names Standard explicitly for a Standard source, and always the Hyper-V generation', () => {
    const body = definitionBody(galleryTarget(), sourceFacts({ hyperVGeneration: 'V1' }), 'x', {})
    expect(body.features).toEqual([{ name: 'SecurityType', value: 'Standard' }])
    expect(body.hyperVGeneration).toBe('V1')
  })

  it('keeps a specialized source specialized', () => {
    const body = definitionBody(galleryTarget(), sourceFacts({ osState: 'Specialized' }), 'x', {})
    expect(body.osState).toBe('Specialized')
  })
})

describe('definitionMismatches', () => {
  it('finds nothing when the definition fits (compared case-insensitively)', () => {
    expect(
      definitionMismatches(
        'def',
        { ...fitting, osType: 'linux', architecture: 'X64' },
        sourceFacts(),
        vm
      )
    ).toEqual([])
  })

  it('names both generations and the way out', () => {
    const [error] = definitionMismatches(
      'def',
      { ...fitting, hyperVGeneration: 'V1' },
      sourceFacts(),
      vm
    )
    expect(error).toBe(
      "Gallery image definition 'def' is Hyper-V generation V1 but the source VM 'build-vm' is V2: create a V2 definition or use another gallery-image."
    )
  })

  it('tells an upload how to fix the generation it declared', () => {
    const [error] = definitionMismatches(
      'def',
      { ...fitting, hyperVGeneration: 'V1' },
      sourceFacts(),
      { kind: 'disks', name: 'os.vhd' }
    )
    expect(error).toContain("the uploaded image 'os.vhd' is V2")
    expect(error).toContain('set hyper-v-generation: V1')
  })

  it('reports a specialized capture into a Generalized definition', () => {
    const [error] = definitionMismatches(
      'def',
      fitting,
      sourceFacts({ osState: 'Specialized' }),
      vm
    )
    expect(error).toContain("'def' is Generalized but the source VM 'build-vm' will be Specialized")
    expect(error).toContain('set generalize: true')
  })

  it('reports a generalized capture into a Specialized definition', () => {
    const [error] = definitionMismatches(
      'def',
      { ...fitting, osState: 'Specialized' },
      sourceFacts(),
      vm
    )
    expect(error).toContain('is Specialized but')
    expect(error).toContain('set generalize: false')
  })

  it('reports OS type and architecture, all mismatches at once', () => {
    const errors = definitionMismatches(
      'def',
      { ...fitting, osType: 'Windows', architecture: 'Arm64' },
      sourceFacts(),
      vm
    )
    expect(errors).toHaveLength(2)
    expect(errors[0]).toContain('is for Windows but')
    expect(errors[1]).toContain('is for Arm64 but')
  })

  it('refuses a TrustedLaunch VM into a definition without the TrustedLaunch feature', () => {
    const tl = sourceFacts({ securityType: 'TrustedLaunch' })
    for (const securityType of ['Standard', 'TrustedLaunchSupported', 'ConfidentialVM']) {
      const [error] = definitionMismatches('def', { ...fitting, securityType }, tl, vm)
      expect(error).toContain("but the source VM 'build-vm' is TrustedLaunch")
    }
    expect(
      definitionMismatches('def', { ...fitting, securityType: 'TrustedLaunch' }, tl, vm)
    ).toEqual([])
  })

  it('names a definition without the feature as Standard', () => {
    const [error] = definitionMismatches(
      'def',
      fitting,
      sourceFacts({ securityType: 'TrustedLaunch' }),
      vm
    )
    expect(error).toContain('has no SecurityType feature (Standard)')
  })

  it('refuses a ConfidentialVM source into anything but a ConfidentialVM definition', () => {
    const cvm = sourceFacts({ securityType: 'ConfidentialVM' })
    expect(
      definitionMismatches('def', { ...fitting, securityType: 'TrustedLaunch' }, cvm, vm)[0]
    ).toContain('is a ConfidentialVM')
    expect(
      definitionMismatches('def', { ...fitting, securityType: 'ConfidentialVM' }, cvm, vm)
    ).toEqual([])
  })

  it('refuses a Standard source into a ConfidentialVM definition', () => {
    const errors = definitionMismatches(
      'def',
      { ...fitting, securityType: 'ConfidentialVM' },
      sourceFacts(),
      vm
    )
    expect(errors[0]).toContain('needs a confidential VM')
  })

  it('lets a TrustedLaunchSupported definition take a managed image or a VHD of a Standard source but not a VM', () => {
    const def = { ...fitting, securityType: 'TrustedLaunchSupported' }
    expect(
      definitionMismatches('def', def, sourceFacts(), { kind: 'managed-image', name: 'vm' })
    ).toEqual([])
    expect(
      definitionMismatches('def', def, sourceFacts(), { kind: 'blobs', name: 'os.vhd' })
    ).toEqual([])
    expect(definitionMismatches('def', def, sourceFacts(), vm)[0]).toContain(
      'accepts only VHD blob, managed image and gallery image version sources'
    )
  })

  it('lets an upload into a TrustedLaunch definition through whatever it declared', () => {
    const def = { ...fitting, securityType: 'TrustedLaunch' }
    expect(
      definitionMismatches('def', def, sourceFacts(), { kind: 'disks', name: 'os.vhd' })
    ).toEqual([])
  })
})

describe('decideVersionAction', () => {
  const names = { version: '1.0.0', definition: 'def' }
  const ours = ownTags

  it('creates when nothing has that number', () => {
    expect(decideVersionAction(undefined, owner, false, names)).toBe('create')
  })

  it("reuses this run's succeeded version, and waits for one still being created", () => {
    expect(
      decideVersionAction({ provisioningState: 'Succeeded', tags: ours }, owner, false, names)
    ).toBe('reuse')
    expect(
      decideVersionAction({ provisioningState: 'Updating', tags: ours }, owner, false, names)
    ).toBe('reuse')
  })

  it("replaces this run's version that ended in any other terminal state", () => {
    expect(
      decideVersionAction({ provisioningState: 'Failed', tags: ours }, owner, false, names)
    ).toBe('replace-failed')
    expect(
      decideVersionAction({ provisioningState: 'Canceled', tags: ours }, owner, false, names)
    ).toBe('replace-failed')
  })

  it('fails on anyone else’s version, naming the run that made it', () => {
    expect(() =>
      decideVersionAction(
        { provisioningState: 'Succeeded', tags: { 'github-run-id': '7' } },
        owner,
        false,
        names
      )
    ).toThrow("Gallery image version '1.0.0' of 'def' already exists (Succeeded, made by run 7)")
    expect(() =>
      decideVersionAction({ provisioningState: 'Succeeded' }, owner, false, names)
    ).toThrow('overwrite: true')
  })

  it('refuses, even with overwrite, a version another job of this run made (a matrix leg)', () => {
    const legs: Array<Record<string, string>> = [
      { 'github-run-id': '42', 'github-owner-key': 'another-leg' },
      { 'github-run-id': '42' }
    ]
    for (const tags of legs) {
      for (const overwrite of [false, true]) {
        expect(() =>
          decideVersionAction({ provisioningState: 'Creating', tags }, owner, overwrite, names)
        ).toThrow(
          /^Input 'gallery-image-version': version '1\.0\.0' of 'def' was made by another job of this workflow run .*strategy\.job-index/
        )
      }
    }
  })

  it('in a first attempt, a version with this job’s key is a leg with identical inputs, not its own', () => {
    expect(() =>
      decideVersionAction(
        { provisioningState: 'Succeeded', tags: ours },
        { ...owner, attempt: 1 },
        false,
        names
      )
    ).toThrow(/another job of this workflow run/)
  })

  it('overwrites anyone else’s version when asked to', () => {
    expect(decideVersionAction({ provisioningState: 'Succeeded' }, owner, true, names)).toBe(
      'overwrite'
    )
  })
})

describe('storageProfile', () => {
  it('captures a VM by its ID', () => {
    expect(storageProfile({ kind: 'vm', vmId: '/vm' })).toEqual({
      source: { virtualMachineId: '/vm' }
    })
  })

  it('takes a managed image as the source id', () => {
    expect(storageProfile({ kind: 'managed-image', imageId: '/img' })).toEqual({
      source: { id: '/img' }
    })
  })

  it('takes disks with data disks at LUN 0..n', () => {
    expect(storageProfile({ kind: 'disks', osDiskId: '/os', dataDiskIds: ['/d0', '/d1'] })).toEqual(
      {
        osDiskImage: { source: { id: '/os' } },
        dataDiskImages: [
          { lun: 0, source: { id: '/d0' } },
          { lun: 1, source: { id: '/d1' } }
        ]
      }
    )
    expect(storageProfile({ kind: 'disks', osDiskId: '/os', dataDiskIds: [] })).toEqual({
      osDiskImage: { source: { id: '/os' } }
    })
  })

  it('takes page blobs with their storage account', () => {
    expect(
      storageProfile({
        kind: 'blobs',
        storageAccountId: '/sa',
        osBlobUri: 'https://sa/vhds/os.vhd',
        dataBlobUris: ['https://sa/vhds/d0.vhd']
      })
    ).toEqual({
      osDiskImage: { source: { storageAccountId: '/sa', uri: 'https://sa/vhds/os.vhd' } },
      dataDiskImages: [
        { lun: 0, source: { storageAccountId: '/sa', uri: 'https://sa/vhds/d0.vhd' } }
      ]
    })
  })
})

describe('versionBody', () => {
  it('applies per-region replicas and storage over the profile-wide ones', () => {
    const target = galleryTarget({ replicaCount: 2, storageAccountType: 'Standard_ZRS' })
    const body = versionBody(
      target,
      [{ name: 'eastus' }, { name: 'westus', replicas: 5, storageAccountType: 'Premium_LRS' }],
      'eastus',
      { kind: 'vm', vmId: '/vm' },
      { t: 'v' }
    )
    expect(body).toEqual({
      location: 'eastus',
      tags: { t: 'v' },
      storageProfile: { source: { virtualMachineId: '/vm' } },
      publishingProfile: {
        targetRegions: [
          { name: 'eastus', regionalReplicaCount: 2, storageAccountType: 'Standard_ZRS' },
          { name: 'westus', regionalReplicaCount: 5, storageAccountType: 'Premium_LRS' }
        ],
        replicaCount: 2,
        storageAccountType: 'Standard_ZRS',
        excludeFromLatest: false
      }
    })
  })

  it('sets shallow replication, exclusion from latest and the end of life', () => {
    const target = galleryTarget({
      replicationMode: 'Shallow',
      excludeFromLatest: true,
      endOfLifeDate: '2030-01-31'
    })
    const profile = versionBody(
      target,
      [{ name: 'eastus' }],
      'eastus',
      { kind: 'vm', vmId: '/vm' },
      {}
    ).publishingProfile
    expect(profile?.replicationMode).toBe('Shallow')
    expect(profile?.excludeFromLatest).toBe(true)
    expect(profile?.endOfLifeDate?.toISOString()).toBe('2030-01-31T00:00:00.000Z')
  })
})

describe('replication', () => {
  const version: GalleryImageVersion = {
    location: 'eastus',
    publishingProfile: {
      replicaCount: 1,
      storageAccountType: 'Standard_LRS',
      targetRegions: [
        { name: 'East US', regionalReplicaCount: 2 },
        { name: 'westus2', storageAccountType: 'Premium_LRS' }
      ]
    },
    replicationStatus: {
      aggregatedState: 'InProgress',
      summary: [
        { region: 'East US', state: 'Completed', progress: 100 },
        { region: 'West US 2', state: 'Replicating', progress: 40 }
      ]
    }
  }

  it('joins Azure’s per-region status with what each region was asked for', () => {
    expect(replicationRows(version, [])).toEqual([
      {
        region: 'eastus',
        state: 'Completed',
        progress: 100,
        replicas: 2,
        storageAccountType: 'Standard_LRS',
        details: undefined
      },
      {
        region: 'westus2',
        state: 'Replicating',
        progress: 40,
        replicas: 1,
        storageAccountType: 'Premium_LRS',
        details: undefined
      }
    ])
  })

  it('falls back to the requested regions when the response has no publishing profile', () => {
    const rows = replicationRows({ location: 'eastus', replicationStatus: {} }, [
      { name: 'eastus', replicas: 3 }
    ])
    expect(rows).toEqual([
      {
        region: 'eastus',
        state: 'Unknown',
        progress: undefined,
        replicas: 3,
        storageAccountType: undefined,
        details: undefined
      }
    ])
  })

  it('keeps regions Azure reports beyond the request', () => {
    const rows = replicationRows(
      {
        location: 'eastus',
        replicationStatus: {
          summary: [{ region: 'North Europe', state: 'Failed', details: 'quota' }]
        }
      },
      [{ name: 'eastus' }]
    )
    expect(rows.map(r => [r.region, r.state])).toEqual([
      ['eastus', 'Unknown'],
      ['northeurope', 'Failed']
    ])
  })

  it('prints a progress line and a markdown table', () => {
    const rows = replicationRows(version, [])
    expect(replicationProgressLine(rows)).toBe('eastus Completed 100%, westus2 Replicating 40%')
    expect(replicationTable(rows).split('\n')).toEqual([
      '| Region | State | Progress | Replicas | Storage type |',
      '|---|---|---|---|---|',
      '| eastus | Completed | 100% | 2 | Standard_LRS |',
      '| westus2 | Replicating | 40% | 1 | Premium_LRS |'
    ])
  })

  it('shows failure details in the table, escaped', () => {
    const table = replicationTable([{ region: 'eastus', state: 'Failed', details: 'a|b' }])
    expect(table).toContain('| eastus | Failed (a\\|b) | - | - | - |')
  })
})

describe('selectVersionsToPrune', () => {
  const v = (name: string, provisioningState = 'Succeeded') => ({
    name,
    id: `/v/${name}`,
    provisioningState
  })

  it('keeps the N newest by version order, not by text order', () => {
    const doomed = selectVersionsToPrune(
      [v('1.0.9'), v('1.0.10'), v('1.0.2'), v('2.0.0')],
      2,
      '2.0.0'
    )
    expect(doomed.map(d => d.name)).toEqual(['1.0.9', '1.0.2'])
  })

  it('never deletes the new version, even when it is not among the newest', () => {
    const doomed = selectVersionsToPrune([v('3.0.0'), v('2.0.0'), v('1.0.0')], 1, '1.0.0')
    expect(doomed.map(d => d.name)).toEqual(['2.0.0'])
  })

  it('leaves versions that are still being created, updated or deleted', () => {
    const doomed = selectVersionsToPrune(
      [v('4.0.0'), v('3.0.0', 'Updating'), v('2.0.0', 'Deleting'), v('1.0.0', 'Failed')],
      1,
      '4.0.0'
    )
    expect(doomed.map(d => d.name)).toEqual(['1.0.0'])
  })

  it('prunes nothing with keep 0 or when there are few versions', () => {
    expect(selectVersionsToPrune([v('1.0.0'), v('2.0.0')], 0, '2.0.0')).toEqual([])
    expect(selectVersionsToPrune([v('1.0.0'), v('2.0.0')], 5, '2.0.0')).toEqual([])
  })
})

describe('isTerminal', () => {
  it('treats only Succeeded, Failed and Canceled as final', () => {
    expect(['Succeeded', 'Failed', 'Canceled'].every(isTerminal)).toBe(true)
    expect(['Creating', 'Updating', 'Deleting', 'Migrating', undefined].some(isTerminal)).toBe(
      false
    )
  })
})

describe('lateMismatch', () => {
  const id = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm'
  it.each([
    [
      // MicrosoftDocs/azure-docs#118774 (Conflict, in the operation)
      `Conflict: The resource with id '${id}' has a different Hypervisor generation ['V2'] than the parent gallery image Hypervisor generation ['V1'].`,
      "gallery image definition 'def' has Hyper-V generation V1 but the source has V2; publish into a V2 definition."
    ],
    [
      // Azure/azure-cli#24972 (BadRequest)
      `The long-running operation has failed. BadRequest. The resource with id '${id}' has a different OS state ['Specialized'] than the parent gallery image OS state ['Generalized'].`,
      "gallery image definition 'def' has OS state Generalized but the source has Specialized; publish into a Specialized definition, or set generalize to match the definition."
    ],
    [
      // troubleshooting-shared-images.md
      `The resource with id '${id}' has a different OS type ['Windows'] than the parent gallery image OS type generation ['Linux']`,
      "gallery image definition 'def' has OS type Linux but the source has Windows; publish into a Windows definition."
    ]
  ])('explains %s', (message, expected) => {
    expect(lateMismatch('def', message)).toBe(`Azure refused the version: ${expected}`)
  })

  it('says nothing about other failures', () => {
    expect(lateMismatch('def', 'Replication to westeurope failed.')).toBeUndefined()
  })
})

describe('fullReplicationProblem', () => {
  it('refuses a disk over 2048 GiB with Full replication, naming each such disk', () => {
    expect(
      fullReplicationProblem(
        [
          { name: 'os.vhd', sizeGiB: 2048 },
          { name: 'data.raw', sizeGiB: 2049 }
        ],
        'Full'
      )
    ).toBe(
      "replication-mode 'Full' copies disks of at most 2048 GiB, but 'data.raw' is 2049 GiB: set replication-mode: Shallow (one region, one replica, disks up to 32 TiB), or make the disk smaller."
    )
  })

  it('accepts 2048 GiB exactly, and any size with Shallow', () => {
    expect(fullReplicationProblem([{ name: 'os', sizeGiB: 2048 }], 'Full')).toBeUndefined()
    expect(fullReplicationProblem([{ name: 'os', sizeGiB: 4000 }], 'Shallow')).toBeUndefined()
  })
})
