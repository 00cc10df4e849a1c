/**
 * Replication: target regions as Azure receives them, the version made in its source's region,
 * Shallow and Full replication and their limits, and progress logged while Azure replicates.
 * The bundled action, run as the runner runs it, against the ARM emulator; evidence is what the
 * emulator received and what the action wrote.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { errorLines, runAction } from '../support/action-runner.js'
import { startLocalCloud, type LocalCloud } from '../support/cloud.js'
import type { Body } from '../emulator/index.js'
import {
  RG,
  GALLERY,
  LOCATION,
  cloud,
  versionId,
  body,
  seedDefinition,
  publish,
  expectSuccess,
  versionPuts,
  useGalleryCloud
} from '../support/gallery-run.js'

useGalleryCloud()

describe('replication settings', () => {
  it('parses target-regions and sends Azure the normalised regions, source region first', async () => {
    seedDefinition('ubuntu-regions')
    cloud.seedVm('regions-builder')
    const before = cloud.emu.requests.length
    const run = await publish(
      'regions-builder',
      'ubuntu-regions',
      {
        'gallery-image-version': '1.0.0',
        'target-regions': 'West US 2=2=premium_lrs\nEast US, West Europe=3',
        'replica-count': '2',
        'storage-account-type': 'Standard_ZRS',
        'exclude-from-latest': 'true',
        'end-of-life-date': '2099-12-31'
      },
      { runId: '7600001' }
    )
    expectSuccess(run)
    const put = body(versionPuts(cloud.writesSince(before))[0])
    expect(put.location).toBe(LOCATION)
    expect(put.properties.publishingProfile).toEqual({
      targetRegions: [
        { name: 'westeurope', regionalReplicaCount: 3, storageAccountType: 'Standard_ZRS' },
        { name: 'westus2', regionalReplicaCount: 2, storageAccountType: 'Premium_LRS' },
        { name: 'eastus', regionalReplicaCount: 2, storageAccountType: 'Standard_ZRS' }
      ],
      replicaCount: 2,
      storageAccountType: 'Standard_ZRS',
      excludeFromLatest: true,
      endOfLifeDate: '2099-12-31T00:00:00.000Z'
    })
    expect(run.main.stdout).toContain('replicating to westeurope, westus2, eastus')
    expect(run.main.stdout).toMatch(
      /succeeded: westeurope Completed 100%, westus2 Completed 100%, eastus Completed 100%/
    )
    expect(run.summary).toContain('| westeurope | Completed | 100% | 3 | Standard_ZRS |')
    expect(run.summary).toContain('| westus2 | Completed | 100% | 2 | Premium_LRS |')
    expect(run.summary).toContain('| eastus | Completed | 100% | 2 | Standard_ZRS |')
  })

  it('adds the source region when target-regions leaves it out', async () => {
    seedDefinition('ubuntu-regions2')
    cloud.seedVm('regions2-builder')
    const before = cloud.emu.requests.length
    const run = await publish(
      'regions2-builder',
      'ubuntu-regions2',
      { 'gallery-image-version': '1.0.0', 'target-regions': 'northeurope' },
      { runId: '7600002' }
    )
    expectSuccess(run)
    const put = body(versionPuts(cloud.writesSince(before))[0])
    expect(put.properties.publishingProfile.targetRegions).toEqual([
      { name: 'westeurope', regionalReplicaCount: 1, storageAccountType: 'Standard_LRS' },
      { name: 'northeurope', regionalReplicaCount: 1, storageAccountType: 'Standard_LRS' }
    ])
  })

  // Azure makes the version in its source's region; the gallery may be elsewhere
  // (troubleshooting-shared-images.md: "… is in the same region as gallery image version being created").
  it('publishes from a VM in another region than the gallery: the version is made in the source region', async () => {
    cloud.emu.addGallery(RG, 'north_gallery', 'northeurope')
    cloud.emu.addGalleryImage({
      resourceGroup: RG,
      gallery: 'north_gallery',
      name: 'ubuntu-north',
      osType: 'Linux',
      hyperVGeneration: 'V2'
    })
    cloud.seedVm('cross-builder')
    const before = cloud.emu.requests.length
    const run = await publish(
      'cross-builder',
      'ubuntu-north',
      { gallery: 'north_gallery', 'gallery-image-version': '1.0.0', 'target-regions': 'eastus' },
      { runId: '7600004' }
    )
    expectSuccess(run)
    const put = body(versionPuts(cloud.writesSince(before))[0])
    // The version lives in the source's region, which is a target region; the gallery's is not added.
    expect(put.location).toBe('westeurope')
    expect(put.properties.publishingProfile.targetRegions.map((r: Body) => r.name)).toEqual([
      'westeurope',
      'eastus'
    ])
    expect(run.outputs['location']).toBe('westeurope')
  })

  it.each([
    ['eastus=0', /target-regions/],
    ['eastus=1=Ultra_LRS', /target-regions.*storage type/],
    ['eastus, East US', /target-regions.*listed twice/]
  ])("refuses target-regions '%s' before calling Azure", async (value, error) => {
    const before = cloud.emu.requests.length
    const run = await publish('regions-builder', 'ubuntu-regions', { 'target-regions': value })
    expect(run.main.code).toBe(1)
    expect(errorLines(run.main)).toEqual([expect.stringMatching(error)])
    expect(cloud.emu.requests.length).toBe(before)
  })

  it('refuses Shallow replication to a region other than the source, before any write', async () => {
    seedDefinition('ubuntu-shallow-far')
    const vm = cloud.seedVm('shallow-far-builder')
    const before = cloud.emu.requests.length
    const run = await publish(
      'shallow-far-builder',
      'ubuntu-shallow-far',
      {
        'gallery-image-version': '1.0.0',
        'replication-mode': 'Shallow',
        'target-regions': 'eastus'
      },
      { runId: '7600005' }
    )
    expect(run.main.code).toBe(1)
    expect(errorLines(run.main)).toEqual([
      expect.stringMatching(
        /replication-mode 'Shallow' publishes to one region only, but this version needs westeurope, eastus/
      )
    ])
    expect(cloud.writesSince(before)).toEqual([])
    expect(cloud.emu.resources.state(vm.id as string)).toMatchObject({
      powerState: 'running',
      generalized: false
    })
  })

  it('accepts Shallow replication for one region and one replica', async () => {
    seedDefinition('ubuntu-shallow')
    cloud.seedVm('shallow-builder')
    const before = cloud.emu.requests.length
    const run = await publish(
      'shallow-builder',
      'ubuntu-shallow',
      {
        'gallery-image-version': '1.0.0',
        'replication-mode': 'Shallow',
        'target-regions': 'West Europe'
      },
      { runId: '7600003' }
    )
    expectSuccess(run)
    const put = body(versionPuts(cloud.writesSince(before))[0])
    expect(put.properties.publishingProfile).toMatchObject({
      targetRegions: [
        { name: 'westeurope', regionalReplicaCount: 1, storageAccountType: 'Standard_LRS' }
      ],
      replicaCount: 1,
      replicationMode: 'Shallow'
    })
    expect(
      (cloud.emu.resources.get(versionId('ubuntu-shallow', '1.0.0')) as Body).properties
        .publishingProfile.replicationMode
    ).toBe('Shallow')
  })
})

describe('replication progress while Azure replicates', () => {
  let slow: LocalCloud

  beforeAll(async () => {
    // Only the version PUT is slow: 1 s per poll, 25 polls. Everything else completes at once.
    slow = await startLocalCloud({
      lro: {
        pollsBeforeDone: 25,
        retryAfterSeconds: 1,
        styles: { '*': 'body', 'galleryImageVersions/PUT': 'async' }
      }
    })
    slow.emu.addResourceGroup(RG, LOCATION)
    slow.emu.addGallery(RG, GALLERY, LOCATION)
    slow.emu.addGalleryImage({
      resourceGroup: RG,
      gallery: GALLERY,
      name: 'ubuntu-slow',
      osType: 'Linux',
      hyperVGeneration: 'V2'
    })
    slow.emu.addVm({
      resourceGroup: RG,
      name: 'slow-builder',
      location: LOCATION,
      osType: 'Linux',
      hyperVGeneration: 'V2'
    })
  })
  afterAll(async () => slow.close())

  it('logs where each region stands until the version is done', async () => {
    const run = await runAction({
      inputs: {
        ...slow.inputs,
        'resource-group': RG,
        'source-vm': 'slow-builder',
        gallery: GALLERY,
        'gallery-image': 'ubuntu-slow',
        'gallery-image-version': '1.0.0',
        'target-regions': 'westeurope, eastus=2'
      },
      env: slow.env,
      runId: '7800001'
    })
    expectSuccess(run)
    // The heartbeat names the operation and each region's replication state and progress.
    expect(run.main.stdout).toMatch(
      /Creating gallery image version 1\.0\.0: \w+ after \d+s \(westeurope Replicating \d+%, eastus Replicating \d+%\)/
    )
    expect(run.main.stdout).toMatch(
      /::debug::Replication: westeurope Replicating \d+%25, eastus Replicating \d+%25/
    )
    expect(run.main.stdout).toContain(
      'Gallery image version 1.0.0 succeeded: westeurope Completed 100%, eastus Completed 100%'
    )
    expect(run.summary).toContain('| eastus | Completed | 100% | 2 | Standard_LRS |')
  })
})

// Full replication copies source disks of at most 2048 GiB (azure-compute-gallery.md); Azure fails
// a bigger one in replication, after the VM was generalized (the emulator does, as
// troubleshooting-shared-images.md quotes). The action refuses it before any write.
describe('source size and replication mode', () => {
  it('refuses a disk over 2048 GiB with Full replication before any write, naming replication-mode', async () => {
    seedDefinition('ubuntu-big')
    const vm = cloud.seedVm('big-builder', { diskSizeGB: 2100 })
    const before = cloud.emu.requests.length
    const run = await publish(
      'big-builder',
      'ubuntu-big',
      { 'gallery-image-version': '1.0.0' },
      { runId: '7800001' }
    )
    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(
      /replication-mode 'Full' copies disks of at most 2048 GiB, but '[^']+' is 2100 GiB: set replication-mode: Shallow/
    )
    expect(cloud.writesSince(before)).toEqual([])
    expect(cloud.emu.resources.state(vm.id as string)).toMatchObject({ powerState: 'running' })
  })

  it('publishes the same disk with replication-mode: Shallow', async () => {
    seedDefinition('ubuntu-big-shallow')
    cloud.seedVm('big-shallow-builder', { diskSizeGB: 2100 })
    const run = await publish(
      'big-shallow-builder',
      'ubuntu-big-shallow',
      { 'gallery-image-version': '1.0.0', 'replication-mode': 'Shallow' },
      { runId: '7800002' }
    )
    expectSuccess(run)
  })
})
