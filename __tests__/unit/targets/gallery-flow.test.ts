import { describe, it, expect } from '@jest/globals'
import { checkGalleryTarget, describeGalleryPlan } from '../../../src/targets/gallery-preflight.js'
import { publishGalleryVersion } from '../../../src/targets/gallery-version.js'
import { pruneGalleryVersions } from '../../../src/targets/gallery-retention.js'
import {
  FakeGalleries,
  clientsFor,
  galleryTarget,
  recordingLogger,
  run,
  owner,
  ownTags,
  planTags,
  sourceFacts,
  testContext
} from './gallery-fixtures.js'

const vmContent = {
  kind: 'vm' as const,
  vmId: '/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/build-vm'
}

function deps(fake: FakeGalleries) {
  return {
    clients: clientsFor(fake),
    log: recordingLogger(),
    signal: new AbortController().signal,
    run,
    owner
  }
}

function existingSetup(): FakeGalleries {
  const fake = new FakeGalleries()
  fake.addGallery('gal', 'East US')
  fake.addImage('def', { osType: 'Linux', osState: 'Generalized', hyperVGeneration: 'V2' })
  return fake
}

describe('checkGalleryTarget', () => {
  it('plans a new version in an existing definition, source region first', async () => {
    const fake = existingSetup()
    const pre = await checkGalleryTarget(deps(fake), {
      target: galleryTarget({
        targetRegions: [
          { name: 'westus', replicas: 2 },
          { name: 'eastus', replicas: 3 }
        ]
      }),
      source: sourceFacts()
    })
    expect(pre).toMatchObject({
      galleryExists: true,
      definitionExists: true,
      action: 'create',
      version: '1.0.0',
      location: 'eastus',
      securityType: 'Standard',
      versionId:
        '/subscriptions/sub/resourceGroups/gal-rg/providers/Microsoft.Compute/galleries/gal/images/def/versions/1.0.0',
      regions: [
        { name: 'eastus', replicas: 3 },
        { name: 'westus', replicas: 2 }
      ]
    })
  })

  it('only reads', async () => {
    const fake = existingSetup()
    await checkGalleryTarget(deps(fake), { target: galleryTarget(), source: sourceFacts() })
    expect(fake.calls.every(c => c.startsWith('GET'))).toBe(true)
  })

  it('fails on a missing gallery unless it may create it', async () => {
    const fake = new FakeGalleries()
    await expect(
      checkGalleryTarget(deps(fake), { target: galleryTarget(), source: sourceFacts() })
    ).rejects.toThrow(
      "Azure Compute Gallery 'gal' does not exist in resource group 'gal-rg': create it first, or set create-gallery-image: true"
    )
    const pre = await checkGalleryTarget(deps(fake), {
      target: galleryTarget({ createIfMissing: true }),
      source: sourceFacts({ securityType: 'TrustedLaunch' })
    })
    expect(pre).toMatchObject({
      galleryExists: false,
      definitionExists: false,
      action: 'create',
      location: 'eastus',
      securityType: 'TrustedLaunch'
    })
  })

  it('fails on a missing definition unless it may create it', async () => {
    const fake = new FakeGalleries()
    fake.addGallery('gal')
    await expect(
      checkGalleryTarget(deps(fake), { target: galleryTarget(), source: sourceFacts() })
    ).rejects.toThrow("Gallery image definition 'def' does not exist in gallery 'gal'")
    await expect(
      checkGalleryTarget(deps(fake), {
        target: galleryTarget({ createIfMissing: true, sku: '' }),
        source: sourceFacts()
      })
    ).rejects.toThrow('needs publisher, offer and sku')
  })

  it('fails on a definition that does not fit the source, before anything is written', async () => {
    const fake = existingSetup()
    await expect(
      checkGalleryTarget(deps(fake), {
        target: galleryTarget(),
        source: sourceFacts({ hyperVGeneration: 'V1' }),
        origin: {
          kind: 'vm',
          name: 'build-vm'
        }
      })
    ).rejects.toThrow(
      "Gallery image definition 'def' is Hyper-V generation V2 but the source VM 'build-vm' is V1"
    )
    expect(fake.calls).not.toContain('GET version 1.0.0')
  })

  it('reuses the version an earlier attempt of this run made', async () => {
    const fake = existingSetup()
    fake.addVersion('1.0.0', { provisioningState: 'Succeeded', tags: ownTags })
    const pre = await checkGalleryTarget(deps(fake), {
      target: galleryTarget(),
      source: sourceFacts()
    })
    expect(pre.action).toBe('reuse')
    expect(pre.versionId).toBe(
      '/subscriptions/sub/resourceGroups/gal-rg/providers/Microsoft.Compute/galleries/gal/images/def/versions/1.0.0'
    )
  })

  it('fails on a version another run made', async () => {
    const fake = existingSetup()
    fake.addVersion('1.0.0', { provisioningState: 'Succeeded', tags: { 'github-run-id': '9' } })
    await expect(
      checkGalleryTarget(deps(fake), { target: galleryTarget(), source: sourceFacts() })
    ).rejects.toThrow('made by run 9')
  })

  // Azure makes a version only in its source's region; the gallery may be elsewhere.
  it('puts the version in the source region when the gallery is in another one', async () => {
    const fake = existingSetup()
    const d = deps(fake)
    const pre = await checkGalleryTarget(d, {
      target: galleryTarget(),
      source: sourceFacts({ location: 'West Europe' })
    })
    expect(pre.location).toBe('westeurope')
    expect(pre.galleryLocation).toBe('eastus')
    expect(pre.regions.map(r => r.name)).toEqual(['westeurope'])
  })
})

describe('describeGalleryPlan', () => {
  it('says what will be created, replaced and replicated', async () => {
    const fake = existingSetup()
    fake.addVersion('1.0.0', { provisioningState: 'Failed', tags: ownTags })
    const target = galleryTarget({
      targetRegions: [{ name: 'westus', replicas: 2, storageAccountType: 'Premium_LRS' }],
      keepVersions: 3,
      excludeFromLatest: true
    })
    const pre = await checkGalleryTarget(deps(fake), { target: target, source: sourceFacts() })
    expect(describeGalleryPlan(target, pre)).toEqual([
      "Gallery 'gal' (resource group gal-rg, eastus) exists.",
      "Image definition 'def' exists and fits the source (security type Standard).",
      'Version 1.0.0 from an earlier attempt of this run is Failed: it will be deleted and created again.',
      'Replication (Full) to eastus×1 Standard_LRS, westus×2 Premium_LRS, excluded from latest.',
      'After success, all but the 3 newest versions of the definition are deleted.'
    ])
  })

  it('announces the gallery and definition it will create', async () => {
    const target = galleryTarget({
      createIfMissing: true,
      version: { kind: 'auto', value: '2026.1126.7' }
    })
    const pre = await checkGalleryTarget(deps(new FakeGalleries()), {
      target: target,
      source: sourceFacts()
    })
    const lines = describeGalleryPlan(target, pre)
    expect(lines[0]).toBe("Gallery 'gal' will be created in resource group gal-rg (eastus).")
    expect(lines[1]).toBe(
      "Image definition 'def' will be created (pub/off/sku, security type Standard)."
    )
    expect(lines[2]).toMatch(/^Version 2026\.1126\.7 \(auto\) will be created: /)
  })
})

describe('publishGalleryVersion', () => {
  it('creates gallery, definition and version with the plan tags, ledger around the PUT', async () => {
    const fake = new FakeGalleries()
    const ctx = testContext(fake)
    const target = galleryTarget({ createIfMissing: true, targetRegions: [{ name: 'westus' }] })
    const source = sourceFacts({ securityType: 'TrustedLaunch' })
    const pre = await checkGalleryTarget(deps(fake), { target: target, source: source })
    let ledgerAtPut: unknown[] = []
    fake.onCall = call => {
      if (call === 'PUT version 1.0.0') ledgerAtPut = ctx.ledger.entries()
    }

    const result = await publishGalleryVersion(ctx, {
      target: target,
      pre,
      content: vmContent,
      source: source
    })

    expect(result).toEqual({
      id: '/galleries/gal/images/def/versions/1.0.0',
      version: '1.0.0',
      location: 'eastus'
    })
    expect(fake.calls.filter(c => !c.startsWith('GET'))).toEqual([
      'PUT gallery gal',
      'PUT image def',
      'PUT version 1.0.0'
    ])
    expect(fake.galleries.get('gal')?.tags).toEqual(planTags)
    expect(fake.images.get('def')).toMatchObject({
      tags: planTags,
      features: [{ name: 'SecurityType', value: 'TrustedLaunch' }],
      hyperVGeneration: 'V2'
    })
    const version = fake.versions.get('1.0.0')
    expect(version?.tags).toEqual(planTags)
    expect(version?.storageProfile).toEqual({ source: { virtualMachineId: vmContent.vmId } })
    expect(version?.publishingProfile?.targetRegions?.map(r => r.name)).toEqual([
      'eastus',
      'westus'
    ])
    expect(ledgerAtPut).toEqual([{ kind: 'gallery-image-version', id: pre.versionId }])
    expect(ctx.ledger.entries()).toEqual([])
    // The step returns what it made; execute.ts alone turns that into outputs.
    expect(ctx.report.outputs).toEqual({})
    expect(ctx.report.created.map(c => c.kind)).toEqual([
      'Gallery',
      'Gallery image definition',
      'Gallery image version'
    ])
    expect(ctx.report.sections[0].markdown).toContain(
      '| eastus | Completed | 100% | 1 | Standard_LRS |'
    )
    expect(ctx.report.sections[0].markdown).toContain(
      '| westus | Completed | 100% | 1 | Standard_LRS |'
    )
  })

  it('reuses a succeeded version of an earlier attempt without writing anything', async () => {
    const fake = existingSetup()
    fake.addVersion('1.0.0', { provisioningState: 'Succeeded', tags: ownTags })
    const ctx = testContext(fake)
    const pre = await checkGalleryTarget(deps(fake), {
      target: galleryTarget(),
      source: sourceFacts()
    })
    const result = await publishGalleryVersion(ctx, {
      target: galleryTarget(),
      pre,
      content: vmContent,
      source: sourceFacts()
    })
    expect(result.id).toBe('/galleries/gal/images/def/versions/1.0.0')
    expect(fake.calls.every(c => c.startsWith('GET'))).toBe(true)
    expect(ctx.ledgerLog).toEqual([])
    expect(result.version).toBe('1.0.0')
    expect(ctx.report.created).toEqual([])
  })

  it('deletes and recreates a failed version of an earlier attempt', async () => {
    const fake = existingSetup()
    fake.addVersion('1.0.0', { provisioningState: 'Failed', tags: ownTags })
    const ctx = testContext(fake)
    const pre = await checkGalleryTarget(deps(fake), {
      target: galleryTarget(),
      source: sourceFacts()
    })
    await publishGalleryVersion(ctx, {
      target: galleryTarget(),
      pre,
      content: vmContent,
      source: sourceFacts()
    })
    expect(fake.calls.filter(c => !c.startsWith('GET'))).toEqual([
      'DELETE version 1.0.0',
      'PUT version 1.0.0'
    ])
    expect(fake.versions.get('1.0.0')?.provisioningState).toBe('Succeeded')
  })

  it('overwrites another run’s version only when the preflight said so', async () => {
    const fake = existingSetup()
    fake.addVersion('1.0.0', { provisioningState: 'Succeeded' })
    const target = galleryTarget({ overwrite: true })
    const pre = await checkGalleryTarget(deps(fake), { target: target, source: sourceFacts() })
    expect(pre.action).toBe('overwrite')
    await publishGalleryVersion(testContext(fake), {
      target: target,
      pre,
      content: vmContent,
      source: sourceFacts()
    })
    expect(fake.calls.filter(c => !c.startsWith('GET'))).toEqual([
      'DELETE version 1.0.0',
      'PUT version 1.0.0'
    ])
  })

  it('leaves a failed version in the ledger for the post step and says which regions failed', async () => {
    const fake = existingSetup()
    fake.versionOutcome = () => 'Failed'
    const ctx = testContext(fake)
    const pre = await checkGalleryTarget(deps(fake), {
      target: galleryTarget(),
      source: sourceFacts()
    })
    await expect(
      publishGalleryVersion(ctx, {
        target: galleryTarget(),
        pre,
        content: vmContent,
        source: sourceFacts()
      })
    ).rejects.toThrow(
      "Creating gallery image version 1.0.0 of 'def' failed: Replication failed (replication: eastus Failed 10%)"
    )
    expect(ctx.ledger.entries()).toEqual([{ kind: 'gallery-image-version', id: pre.versionId }])
  })

  it('publishes uploaded disks with their LUNs', async () => {
    const fake = existingSetup()
    const ctx = testContext(fake)
    const pre = await checkGalleryTarget(deps(fake), {
      target: galleryTarget(),
      source: sourceFacts()
    })
    await publishGalleryVersion(ctx, {
      target: galleryTarget(),
      pre,
      content: { kind: 'disks', osDiskId: '/disks/os', dataDiskIds: ['/disks/d0'] },
      source: sourceFacts()
    })
    expect(fake.versions.get('1.0.0')?.storageProfile).toEqual({
      osDiskImage: { source: { id: '/disks/os' } },
      dataDiskImages: [{ lun: 0, source: { id: '/disks/d0' } }]
    })
  })
})

describe('pruneGalleryVersions', () => {
  function withVersions(...names: string[]): FakeGalleries {
    const fake = existingSetup()
    for (const n of names) fake.addVersion(n, { provisioningState: 'Succeeded' })
    return fake
  }

  it('does nothing with keep-versions 0', async () => {
    const fake = withVersions('1.0.0', '2.0.0')
    expect(
      await pruneGalleryVersions(testContext(fake), {
        target: galleryTarget(),
        keepVersion: '2.0.0'
      })
    ).toEqual([])
    expect(fake.calls).toEqual([])
  })

  it('deletes all but the N newest and logs each deletion', async () => {
    const fake = withVersions('1.0.0', '1.0.10', '1.0.9', '2.0.0')
    const ctx = testContext(fake)
    const deleted = await pruneGalleryVersions(ctx, {
      target: galleryTarget({ keepVersions: 2 }),
      keepVersion: '2.0.0'
    })
    expect(deleted.sort()).toEqual([
      '/galleries/gal/images/def/versions/1.0.0',
      '/galleries/gal/images/def/versions/1.0.9'
    ])
    expect([...fake.versions.keys()].sort()).toEqual(['1.0.10', '2.0.0'])
    const infos = ctx.log.lines.filter(l => l.level === 'info').map(l => l.message)
    expect(infos).toContain('Deleting gallery image version 1.0.9 (keep-versions: 2)')
    expect(infos).toContain('Deleting gallery image version 1.0.0 (keep-versions: 2)')
  })

  it('turns a failed deletion into a warning and goes on', async () => {
    const fake = withVersions('1.0.0', '2.0.0', '3.0.0')
    fake.failDelete.add('2.0.0')
    const ctx = testContext(fake)
    const deleted = await pruneGalleryVersions(ctx, {
      target: galleryTarget({ keepVersions: 1 }),
      keepVersion: '3.0.0'
    })
    expect(deleted).toEqual(['/galleries/gal/images/def/versions/1.0.0'])
    expect(ctx.log.lines).toContainEqual({
      level: 'warning',
      message: 'Could not delete gallery image version 2.0.0 (keep-versions): blocked by EOL'
    })
  })

  it('turns a failed listing into a warning', async () => {
    const fake = withVersions('1.0.0')
    const ctx = testContext(fake)
    const compute = ctx.clients.compute as unknown as {
      galleryImageVersions: { listByGalleryImage: () => AsyncIterable<never> }
    }
    compute.galleryImageVersions.listByGalleryImage = () => ({
      [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(new Error('403 Forbidden')) })
    })
    expect(
      await pruneGalleryVersions(ctx, {
        target: galleryTarget({ keepVersions: 1 }),
        keepVersion: '1.0.0'
      })
    ).toEqual([])
    expect(ctx.log.lines).toContainEqual({
      level: 'warning',
      message: "Could not list the versions of 'def' to apply keep-versions: 403 Forbidden"
    })
  })
})
