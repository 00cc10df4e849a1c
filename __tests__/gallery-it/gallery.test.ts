/**
 * The gallery target against the ARM emulator, through the real @azure/arm-compute client: LROs,
 * 404s, replication status, paging and the emulator's own source/definition validations.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { startArmEmulator, type ArmEmulator } from '../emulator/index.js'
import { computeClient, trustEmulator } from '../emulator-tests/helpers.js'
import type { AzureClients } from '../../src/azure/clients.js'
import { createLedger } from '../../src/ledger.js'
import type { GalleryTarget, Plan } from '../../src/plan.js'
import { emptyReport } from '../../src/report.js'
import type { RunContext } from '../../src/run-context.js'
import type { ImageContent, SourceFacts } from '../../src/source-facts.js'
import { checkGalleryTarget } from '../../src/targets/gallery-preflight.js'
import { publishGalleryVersion } from '../../src/targets/gallery-version.js'
import { pruneGalleryVersions } from '../../src/targets/gallery-retention.js'
import {
  owner,
  ownTags,
  recordingLogger,
  run,
  type RecordingLogger
} from '../unit/targets/gallery-fixtures.js'

const fast = { pollIntervalMs: 5, progressIntervalMs: 5, heartbeatMs: 20 }
const planTags = { team: 'images', ...ownTags }

describe('gallery target against the ARM emulator', () => {
  let emu: ArmEmulator
  let clients: AzureClients
  let rg: string
  let counter = 0

  beforeAll(async () => {
    emu = await startArmEmulator({ lro: { pollsBeforeDone: 3, retryAfterSeconds: 0 }, pageSize: 2 })
    trustEmulator(emu)
    clients = {
      compute: computeClient(emu),
      subscriptionId: emu.subscriptionId
    } as unknown as AzureClients
  })
  afterAll(async () => emu.close())

  beforeEach(() => {
    // One resource group per test keeps the tests independent inside one emulator.
    rg = `rg-${++counter}`
    emu.addResourceGroup(rg, 'westus')
  })

  const target = (over: Partial<GalleryTarget> = {}): GalleryTarget => ({
    gallery: { subscriptionId: emu.subscriptionId, resourceGroup: rg, name: 'gal' },
    imageDefinition: 'def',
    version: { kind: 'explicit', value: '1.0.0' },
    overwrite: false,
    createIfMissing: false,
    publisher: 'contoso',
    offer: 'linux',
    sku: 'gen2',
    targetRegions: [{ name: 'eastus', replicas: 2 }],
    replicaCount: 1,
    storageAccountType: 'Standard_LRS',
    replicationMode: 'Full',
    excludeFromLatest: false,
    keepVersions: 0,
    ...over
  })

  const facts = (over: Partial<SourceFacts> = {}): SourceFacts => ({
    osType: 'Linux',
    osState: 'Generalized',
    hyperVGeneration: 'V2',
    architecture: 'x64',
    securityType: 'Standard',
    location: 'westus',
    ...over
  })

  function context(): RunContext & { log: RecordingLogger } {
    return {
      plan: { tags: planTags, run, owner } as unknown as Plan,
      clients,
      log: recordingLogger(),
      signal: new AbortController().signal,
      ledger: createLedger(() => undefined),
      report: emptyReport(),
      step: (_name, fn) => fn()
    }
  }

  const deps = () => ({
    clients,
    log: recordingLogger(),
    signal: new AbortController().signal,
    run,
    owner
  })

  function generalizedVm(name: string, over: Record<string, unknown> = {}): ImageContent {
    const vm = emu.addVm({
      resourceGroup: rg,
      name,
      location: 'westus',
      osType: 'Linux',
      powerState: 'deallocated',
      generalized: true,
      hyperVGeneration: 'V2',
      ...over
    })
    return { kind: 'vm', vmId: vm.id as string }
  }

  const writesIn = (group: string) =>
    emu
      .writes()
      .filter(w => w.path.toLowerCase().includes(`/resourcegroups/${group.toLowerCase()}/`))

  it('creates gallery, definition and version from a Trusted Launch VM, with tags and the replication table', async () => {
    const content = generalizedVm('tl-vm', { securityType: 'TrustedLaunch' })
    const source = facts({ securityType: 'TrustedLaunch' })
    const t = target({ createIfMissing: true })
    const pre = await checkGalleryTarget(deps(), {
      target: t,
      source: source,
      origin: { kind: 'vm', name: 'tl-vm' }
    })
    expect(pre).toMatchObject({ galleryExists: false, definitionExists: false, action: 'create' })
    expect(writesIn(rg)).toEqual([])

    const ctx = context()
    const result = await publishGalleryVersion(ctx, {
      target: t,
      pre,
      content: content,
      source: source,
      ...fast
    })

    expect(result).toEqual({ id: pre.versionId, version: '1.0.0', location: 'westus' })
    const gallery = emu.resources.get(pre.galleryId)
    const def = emu.resources.get(pre.definitionId)
    const version = emu.resources.get(result.id)
    expect(gallery?.tags).toEqual(planTags)
    expect(def?.tags).toEqual(planTags)
    expect(version?.tags).toEqual(planTags)
    expect(def?.properties).toMatchObject({
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V2',
      architecture: 'x64',
      identifier: { publisher: 'contoso', offer: 'linux', sku: 'gen2' },
      features: [{ name: 'SecurityType', value: 'TrustedLaunch' }]
    })
    expect(version?.properties.provisioningState).toBe('Succeeded')
    expect(version?.properties.storageProfile.source).toEqual({
      virtualMachineId: (content as { vmId: string }).vmId
    })
    // Azure stores display names (test_image_version_create_os_vhd: "West US" after "westus").
    expect(version?.properties.publishingProfile.targetRegions).toEqual([
      { name: 'West US', regionalReplicaCount: 1, storageAccountType: 'Standard_LRS' },
      { name: 'East US', regionalReplicaCount: 2, storageAccountType: 'Standard_LRS' }
    ])
    expect(ctx.ledger.entries()).toEqual([])
    expect(ctx.report.sections).toHaveLength(1)
    expect(ctx.report.sections[0].markdown.split('\n').slice(2)).toEqual([
      '| westus | Completed | 100% | 1 | Standard_LRS |',
      '| eastus | Completed | 100% | 2 | Standard_LRS |'
    ])
    expect(ctx.report.outputs).toEqual({}) // outputs are execute.ts's
  })

  it('a re-run attempt reuses the version it made, writing nothing', async () => {
    const content = generalizedVm('vm')
    const t = target({ createIfMissing: true })
    const first = await publishGalleryVersion(context(), {
      target: t,
      pre: await checkGalleryTarget(deps(), { target: t, source: facts() }),
      content: content,
      source: facts(),
      ...fast
    })
    const writes = writesIn(rg).length

    const pre = await checkGalleryTarget(deps(), { target: t, source: facts() })
    expect(pre.action).toBe('reuse')
    const ctx = context()
    const again = await publishGalleryVersion(ctx, {
      target: t,
      pre,
      content: content,
      source: facts(),
      ...fast
    })
    expect(again.id).toBe(first.id)
    expect(writesIn(rg)).toHaveLength(writes)
    expect(again.version).toBe('1.0.0')
  })

  it('a failed PUT stays in the ledger; the next attempt deletes and recreates it', async () => {
    const content = generalizedVm('vm')
    const t = target({ createIfMissing: true })
    emu.faults.add({
      method: 'PUT',
      path: new RegExp(`/resourceGroups/${rg}/.*/versions/1\\.0\\.0`),
      failOperation: { code: 'ReplicationFailed', message: 'storage unavailable in eastus' }
    })
    const ctx = context()
    const pre = await checkGalleryTarget(deps(), { target: t, source: facts() })
    await expect(
      publishGalleryVersion(ctx, {
        target: t,
        pre,
        content: content,
        source: facts(),
        ...fast
      })
    ).rejects.toThrow(
      /Creating gallery image version 1\.0\.0 of 'def' failed: .*storage unavailable in eastus/
    )
    expect(ctx.ledger.entries()).toEqual([{ kind: 'gallery-image-version', id: pre.versionId }])
    expect(emu.resources.get(pre.versionId)?.properties.provisioningState).toBe('Failed')

    const retry = await checkGalleryTarget(deps(), { target: t, source: facts() })
    expect(retry).toMatchObject({
      galleryExists: true,
      definitionExists: true,
      action: 'replace-failed'
    })
    const before = writesIn(rg).length
    await publishGalleryVersion(context(), {
      target: t,
      pre: retry,
      content: content,
      source: facts(),
      ...fast
    })
    expect(
      writesIn(rg)
        .slice(before)
        .filter(w => w.path.endsWith('/versions/1.0.0'))
        .map(w => w.method)
    ).toEqual(['DELETE', 'PUT'])
    expect(emu.resources.get(retry.versionId)?.properties.provisioningState).toBe('Succeeded')
  })

  it('refuses another run’s version unless overwrite is set', async () => {
    emu.addGallery(rg, 'gal', 'westus')
    emu.addGalleryImage({
      resourceGroup: rg,
      gallery: 'gal',
      name: 'def',
      osType: 'Linux',
      hyperVGeneration: 'V2'
    })
    emu.addGalleryImageVersion({
      resourceGroup: rg,
      gallery: 'gal',
      image: 'def',
      name: '1.0.0',
      tags: { 'github-run-id': '1' }
    })
    await expect(checkGalleryTarget(deps(), { target: target(), source: facts() })).rejects.toThrow(
      "Gallery image version '1.0.0' of 'def' already exists (Succeeded, made by run 1)"
    )
    const t = target({ overwrite: true })
    const pre = await checkGalleryTarget(deps(), { target: t, source: facts() })
    expect(pre.action).toBe('overwrite')
    await publishGalleryVersion(context(), {
      target: t,
      pre,
      content: generalizedVm('vm'),
      source: facts(),
      ...fast
    })
    expect(emu.resources.get(pre.versionId)?.tags).toEqual(planTags)
  })

  it('stops on a definition that does not fit, before any write', async () => {
    emu.addGallery(rg, 'gal', 'westus')
    emu.addGalleryImage({
      resourceGroup: rg,
      gallery: 'gal',
      name: 'def',
      osType: 'Linux',
      hyperVGeneration: 'V1'
    })
    await expect(
      checkGalleryTarget(deps(), {
        target: target(),
        source: facts(),
        origin: { kind: 'vm', name: 'build-vm' }
      })
    ).rejects.toThrow(
      "Gallery image definition 'def' is Hyper-V generation V1 but the source VM 'build-vm' is V2"
    )
    await expect(
      checkGalleryTarget(deps(), {
        target: target(),
        source: facts({ hyperVGeneration: 'V1', securityType: 'TrustedLaunch' }),
        origin: {
          kind: 'vm',
          name: 'build-vm'
        }
      })
    ).rejects.toThrow(
      "has no SecurityType feature (Standard) but the source VM 'build-vm' is TrustedLaunch"
    )
    expect(writesIn(rg)).toEqual([])
  })

  it('names the missing gallery and definition when it may not create them', async () => {
    await expect(checkGalleryTarget(deps(), { target: target(), source: facts() })).rejects.toThrow(
      `Azure Compute Gallery 'gal' does not exist in resource group '${rg}'`
    )
    emu.addGallery(rg, 'gal', 'westus')
    await expect(checkGalleryTarget(deps(), { target: target(), source: facts() })).rejects.toThrow(
      "Gallery image definition 'def' does not exist in gallery 'gal'"
    )
  })

  it('publishes a specialized capture and uploaded disks with data disk LUNs', async () => {
    emu.addGallery(rg, 'gal', 'westus')
    emu.addGalleryImage({
      resourceGroup: rg,
      gallery: 'gal',
      name: 'spec',
      osType: 'Linux',
      osState: 'Specialized',
      hyperVGeneration: 'V2'
    })
    const vm = emu.addVm({
      resourceGroup: rg,
      name: 'spec-vm',
      location: 'westus',
      osType: 'Linux',
      powerState: 'deallocated',
      hyperVGeneration: 'V2',
      dataDisks: 2
    })
    const spec = facts({ osState: 'Specialized' })
    const t = target({ imageDefinition: 'spec', targetRegions: [] })
    const captured = await publishGalleryVersion(context(), {
      target: t,
      pre: await checkGalleryTarget(deps(), { target: t, source: spec }),
      content: { kind: 'vm', vmId: vm.id as string },
      source: spec,
      ...fast
    })
    expect(emu.resources.get(captured.id)?.properties.provisioningState).toBe('Succeeded')

    const disks = vm.properties.storageProfile
    const content: ImageContent = {
      kind: 'disks',
      osDiskId: disks.osDisk.managedDisk.id,
      dataDiskIds: disks.dataDisks.map((d: { managedDisk: { id: string } }) => d.managedDisk.id)
    }
    const t2 = target({
      imageDefinition: 'spec',
      version: { kind: 'explicit', value: '1.0.1' },
      targetRegions: []
    })
    const uploaded = await publishGalleryVersion(context(), {
      target: t2,
      pre: await checkGalleryTarget(deps(), {
        target: t2,
        source: spec,
        origin: { kind: 'disks', name: 'os.vhd' }
      }),
      content: content,
      source: spec,
      ...fast
    })
    const body = emu.resources.get(uploaded.id)?.properties.storageProfile
    expect(body.osDiskImage.source).toEqual({ id: content.osDiskId })
    expect(body.dataDiskImages.map((d: { lun: number }) => d.lun)).toEqual([0, 1])
  })

  it('keeps the N newest versions across list pages, sparing busy ones', async () => {
    emu.addGallery(rg, 'gal', 'westus')
    emu.addGalleryImage({
      resourceGroup: rg,
      gallery: 'gal',
      name: 'def',
      osType: 'Linux',
      hyperVGeneration: 'V2'
    })
    for (const name of ['1.0.0', '1.0.2', '1.0.10', '1.1.0', '0.9.0'])
      emu.addGalleryImageVersion({ resourceGroup: rg, gallery: 'gal', image: 'def', name })
    emu.addGalleryImageVersion({
      resourceGroup: rg,
      gallery: 'gal',
      image: 'def',
      name: '0.1.0',
      provisioningState: 'Updating'
    })
    const t = target({
      version: { kind: 'explicit', value: '2.0.0' },
      keepVersions: 3,
      targetRegions: []
    })
    await publishGalleryVersion(context(), {
      target: t,
      pre: await checkGalleryTarget(deps(), { target: t, source: facts() }),
      content: generalizedVm('vm'),
      source: facts(),
      ...fast
    })

    const ctx = context()
    const deleted = await pruneGalleryVersions(ctx, {
      target: t,
      keepVersion: '2.0.0',
      ...{ pollIntervalMs: 5 }
    })
    expect(deleted.map(id => id.split('/').pop()).sort()).toEqual(['0.9.0', '1.0.0', '1.0.2'])
    const left: string[] = []
    for await (const v of clients.compute.galleryImageVersions.listByGalleryImage(rg, 'gal', 'def'))
      left.push(v.name ?? '')
    expect(left.sort()).toEqual(['0.1.0', '1.0.10', '1.1.0', '2.0.0'])
    // Seven versions at two a page: the listing followed nextLink.
    expect(
      emu.requests.filter(r => r.method === 'GET' && r.query['$skiptoken'] !== undefined).length
    ).toBeGreaterThan(0)
    expect(ctx.log.lines.filter(l => l.level === 'warning')).toEqual([])
  })
})
