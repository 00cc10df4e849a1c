/**
 * The bundled action, run as the runner runs it, publishing VMs from the ARM emulator into an Azure
 * Compute Gallery. Evidence is what the emulator received (its request log: bodies and order) and
 * what the action wrote (outputs, summary, log, exit code).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import {
  errorLines,
  ownerKeyOf,
  runAction,
  type ActionRun,
  type RunOptions
} from '../support/action-runner.js'
import { startLocalCloud, type LocalCloud } from '../support/cloud.js'
import type { Body, RecordedRequest, VmSeed } from '../emulator/index.js'

const RG = 'build-rg'
const GALLERY = 'golden_gallery'
const LOCATION = 'westeurope'

let cloud: LocalCloud

beforeAll(async () => {
  cloud = await startLocalCloud({ lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 }, pageSize: 2 })
  cloud.emu.addResourceGroup(RG, LOCATION)
  cloud.emu.addGallery(RG, GALLERY, LOCATION)
})
afterAll(async () => cloud.close())

/** `auto`: <UTC yyyy>.<UTC month*100+day>.<run number>, computed here independently of the product. */
function autoVersion(runNumber: number, now = new Date()): string {
  return `${now.getUTCFullYear()}.${(now.getUTCMonth() + 1) * 100 + now.getUTCDate()}.${runNumber}`
}

function definitionId(definition: string, gallery = GALLERY): string {
  return `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/galleries/${gallery}/images/${definition}`
}

function versionId(definition: string, version: string, gallery = GALLERY): string {
  return `${definitionId(definition, gallery)}/versions/${version}`
}

function requestsSince(before: number): RecordedRequest[] {
  return cloud.emu.requests.slice(before)
}

function writesSince(before: number): RecordedRequest[] {
  return cloud.emu.writes().filter(w => cloud.emu.requests.indexOf(w) >= before)
}

/** 'PUT galleries/g/images/d/versions/1.0.0', 'POST virtualMachines/vm/deallocate', ... */
function short(r: RecordedRequest): string {
  return `${r.method} ${r.path.replace(/^.*\/providers\/Microsoft\.Compute\//i, '')}`
}

function body(r: RecordedRequest | undefined): Body {
  expect(r).toBeDefined()
  return (r as RecordedRequest).body as Body
}

function seedDefinition(
  name: string,
  props: Partial<
    Omit<Parameters<LocalCloud['emu']['addGalleryImage']>[0], 'name' | 'resourceGroup' | 'gallery'>
  > = {}
): Body {
  return cloud.emu.addGalleryImage({
    resourceGroup: RG,
    gallery: GALLERY,
    name,
    osType: 'Linux',
    osState: 'Generalized',
    hyperVGeneration: 'V2',
    ...props
  })
}

function seedVm(name: string, seed: Partial<VmSeed> = {}): Body {
  return cloud.emu.addVm({
    resourceGroup: RG,
    name,
    location: LOCATION,
    osType: 'Linux',
    hyperVGeneration: 'V2',
    ...seed
  })
}

function seedVersion(
  definition: string,
  name: string,
  extra: Partial<Parameters<LocalCloud['emu']['addGalleryImageVersion']>[0]> = {}
): Body {
  return cloud.emu.addGalleryImageVersion({
    resourceGroup: RG,
    gallery: GALLERY,
    image: definition,
    name,
    ...extra
  })
}

async function publish(
  vm: string,
  definition: string,
  inputs: Record<string, string> = {},
  options: Omit<RunOptions, 'inputs'> = {}
): Promise<ActionRun> {
  return runAction({
    ...options,
    inputs: {
      ...cloud.inputs,
      'resource-group': RG,
      'source-vm': vm,
      // These VMs stand for ones generalized inside already: 'auto' would deprovision them first.
      deprovision: 'false',
      gallery: GALLERY,
      'gallery-image': definition,
      ...inputs
    },
    env: { ...cloud.env, ...(options.env ?? {}) }
  })
}

/**
 * The tags an earlier attempt of the same job (same inputs as `publish` gets) left on what it made:
 * the run id and the owner key (issue 14); a bare run id is another job's.
 */
function earlierAttemptTags(
  vm: string,
  definition: string,
  inputs: Record<string, string>,
  runId: string
): Record<string, string> {
  const all = {
    ...cloud.inputs,
    'resource-group': RG,
    'source-vm': vm,
    deprovision: 'false',
    gallery: GALLERY,
    'gallery-image': definition,
    ...inputs
  }
  return { 'github-run-id': runId, 'github-owner-key': ownerKeyOf(all, { runId }) }
}

function expectSuccess(run: ActionRun): void {
  expect(errorLines(run.main)).toEqual([])
  expect(run.main.code).toBe(0)
  expect(run.post?.code).toBe(0)
}

function versionPuts(writes: RecordedRequest[]): RecordedRequest[] {
  return writes.filter(w => w.method === 'PUT' && /\/versions\/[^/]+$/.test(w.path))
}

describe('capture into a gallery image version', () => {
  const RUN_ID = '7100001'
  const RUN_NUMBER = 77
  let firstRun: ActionRun
  let vm: Body
  let expectedVersion: string

  it("publishes an 'auto' version straight from the VM (no managed image)", async () => {
    seedDefinition('ubuntu-vm')
    vm = seedVm('gal-builder', { dataDisks: 1 })
    const before = cloud.emu.requests.length
    const versionBefore = autoVersion(RUN_NUMBER)
    firstRun = await publish(
      'gal-builder',
      'ubuntu-vm',
      { 'gallery-image-version': 'auto', tags: 'team=platform' },
      { runId: RUN_ID, runNumber: RUN_NUMBER }
    )
    const versionAfter = autoVersion(RUN_NUMBER)
    expectSuccess(firstRun)

    // The version number is the UTC date and the run number (either side of a midnight during the run).
    expectedVersion = firstRun.outputs['gallery-image-version']
    expect([versionBefore, versionAfter]).toContain(expectedVersion)
    expect(expectedVersion).toMatch(new RegExp(`^\\d{4}\\.\\d{3,4}\\.${RUN_NUMBER}$`))
    const id = versionId('ubuntu-vm', expectedVersion)

    const writes = writesSince(before)
    expect(writes.map(short)).toEqual([
      'POST virtualMachines/gal-builder/deallocate',
      'POST virtualMachines/gal-builder/generalize',
      `PUT galleries/${GALLERY}/images/ubuntu-vm/versions/${expectedVersion}`
    ])
    const put = body(versionPuts(writes)[0])
    expect(put.location).toBe(LOCATION)
    expect(put.properties.storageProfile).toEqual({ source: { virtualMachineId: vm.id } })
    expect(put.properties.publishingProfile).toMatchObject({
      targetRegions: [
        { name: LOCATION, regionalReplicaCount: 1, storageAccountType: 'Standard_LRS' }
      ],
      replicaCount: 1,
      storageAccountType: 'Standard_LRS',
      excludeFromLatest: false
    })
    expect(put.properties.publishingProfile.replicationMode).toBeUndefined()
    expect(put.properties.publishingProfile.endOfLifeDate).toBeUndefined()
    expect(put.tags).toMatchObject({
      team: 'platform',
      'github-run-id': RUN_ID,
      'github-run-attempt': '1'
    })
    // No managed image is made on the way.
    expect(
      requestsSince(before).some(r => /\/images\//i.test(r.path) && !/galleries/i.test(r.path))
    ).toBe(false)

    expect(firstRun.outputs['gallery-image-version-id']).toBe(id)
    expect(firstRun.outputs['image-id']).toBe(id)
    expect(firstRun.outputs['managed-image-id']).toBeUndefined()
    expect(firstRun.outputs.location).toBe(LOCATION)
    expect((cloud.emu.resources.get(id) as Body).properties.provisioningState).toBe('Succeeded')

    // Replication progress in the log, per region, and the table in the summary.
    expect(firstRun.main.stdout).toContain(
      `Creating gallery image version ${expectedVersion} from VM ${vm.id}, replicating to ${LOCATION}`
    )
    expect(firstRun.main.stdout).toContain(
      `Gallery image version ${expectedVersion} succeeded: ${LOCATION} Completed 100%`
    )
    expect(firstRun.summary).toContain(`### Gallery image version ${expectedVersion} replication`)
    expect(firstRun.summary).toContain('| Region | State | Progress | Replicas | Storage type |')
    expect(firstRun.summary).toContain(`| ${LOCATION} | Completed | 100% | 1 | Standard_LRS |`)
    expect(firstRun.summary).toContain(id)
    expect(firstRun.main.stdout).toContain('::group::Gallery image version')
  })

  it('reuses its own version when the same run is re-attempted, without touching the VM again', async () => {
    expect(expectedVersion).toBeDefined()
    const before = cloud.emu.requests.length
    const run = await publish(
      'gal-builder',
      'ubuntu-vm',
      { 'gallery-image-version': 'auto', tags: 'team=platform' },
      { runId: RUN_ID, runAttempt: 2, runNumber: RUN_NUMBER }
    )
    expectSuccess(run)
    expect(writesSince(before)).toEqual([])
    const id = versionId('ubuntu-vm', expectedVersion)
    expect(run.outputs['gallery-image-version']).toBe(expectedVersion)
    expect(run.outputs['gallery-image-version-id']).toBe(id)
    expect(run.outputs['image-id']).toBe(id)
    expect(run.main.stdout).toContain(
      `Reusing gallery image version ${expectedVersion}, created by an earlier attempt of this run.`
    )
    // The version still carries the first attempt's tags: it was not written again.
    expect((cloud.emu.resources.get(id) as Body).tags['github-run-attempt']).toBe('1')
    expect(run.summary).toContain(`| ${LOCATION} | Completed | 100% | 1 | Standard_LRS |`)
  })

  it("reuses the first attempt's 'auto' version when a re-run attempt comes on a later day", async () => {
    seedDefinition('ubuntu-nextday')
    const vm = seedVm('nextday-builder', { powerState: 'deallocated', generalized: true })
    // Made by attempt 1 of run 7100003 (run number 88) on an earlier date.
    const earlier = `${new Date().getUTCFullYear() - 1}.1231.88`
    seedVersion('ubuntu-nextday', earlier, {
      tags: {
        ...earlierAttemptTags(
          'nextday-builder',
          'ubuntu-nextday',
          { 'gallery-image-version': 'auto' },
          '7100003'
        ),
        'github-run-attempt': '1'
      }
    })
    seedVersion('ubuntu-nextday', '1.0.0', { tags: { 'github-run-id': '1' } })
    const before = cloud.emu.requests.length
    const run = await publish(
      'nextday-builder',
      'ubuntu-nextday',
      { 'gallery-image-version': 'auto' },
      { runId: '7100003', runAttempt: 2, runNumber: 88 }
    )
    expectSuccess(run)
    expect(writesSince(before)).toEqual([])
    expect(run.outputs['gallery-image-version']).toBe(earlier)
    expect(run.outputs['image-id']).toBe(versionId('ubuntu-nextday', earlier))
    expect(run.main.stdout).toContain(
      `an earlier attempt of this run made version ${earlier}; using it instead of ${autoVersion(88)}`
    )
    expect(cloud.emu.resources.state(vm.id as string)).toMatchObject({ generalized: true })
  })

  it('publishes from the managed image when image-name is also set', async () => {
    seedDefinition('ubuntu-mi')
    seedVm('mi-builder')
    const before = cloud.emu.requests.length
    const run = await publish(
      'mi-builder',
      'ubuntu-mi',
      { 'image-name': 'mi-golden', 'gallery-image-version': '1.2.3' },
      { runId: '7100002' }
    )
    expectSuccess(run)
    const imageId = `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/images/mi-golden`
    const writes = writesSince(before)
    expect(writes.map(short)).toEqual([
      'POST virtualMachines/mi-builder/deallocate',
      'POST virtualMachines/mi-builder/generalize',
      'PUT images/mi-golden',
      `PUT galleries/${GALLERY}/images/ubuntu-mi/versions/1.2.3`
    ])
    expect(body(versionPuts(writes)[0]).properties.storageProfile).toEqual({
      source: { id: imageId }
    })
    const id = versionId('ubuntu-mi', '1.2.3')
    expect(run.outputs['managed-image-id']).toBe(imageId)
    expect(run.outputs['gallery-image-version-id']).toBe(id)
    // The gallery version is the primary image.
    expect(run.outputs['image-id']).toBe(id)
    expect(run.outputs['gallery-image-version']).toBe('1.2.3')
  })
})

describe('an existing version under the same number', () => {
  it("replaces this run's own Failed version: DELETE, then PUT", async () => {
    seedDefinition('ubuntu-failed')
    seedVm('failed-builder')
    seedVersion('ubuntu-failed', '2.0.0', {
      provisioningState: 'Failed',
      tags: earlierAttemptTags(
        'failed-builder',
        'ubuntu-failed',
        { 'gallery-image-version': '2.0.0' },
        '7200001'
      )
    })
    const before = cloud.emu.requests.length
    const run = await publish(
      'failed-builder',
      'ubuntu-failed',
      { 'gallery-image-version': '2.0.0' },
      { runId: '7200001', runAttempt: 2 }
    )
    expectSuccess(run)
    expect(writesSince(before).map(short)).toEqual([
      'POST virtualMachines/failed-builder/deallocate',
      'POST virtualMachines/failed-builder/generalize',
      `DELETE galleries/${GALLERY}/images/ubuntu-failed/versions/2.0.0`,
      `PUT galleries/${GALLERY}/images/ubuntu-failed/versions/2.0.0`
    ])
    expect(run.main.stdout).toContain(
      "Deleting gallery image version 2.0.0: the earlier attempt's version ended Failed"
    )
    const v = cloud.emu.resources.get(versionId('ubuntu-failed', '2.0.0')) as Body
    expect(v.properties.provisioningState).toBe('Succeeded')
    expect(v.tags).toMatchObject({ 'github-run-id': '7200001', 'github-run-attempt': '2' })
  })

  it('after an attempt whose version failed in Azure, the next attempt publishes it again', async () => {
    seedDefinition('ubuntu-retry')
    seedVm('retry-builder')
    cloud.emu.faults.add({
      method: 'PUT',
      path: /\/images\/ubuntu-retry\/versions\/3\.0\.0/,
      failOperation: { code: 'ReplicationFailed', message: 'Replication to westeurope failed.' }
    })
    const before1 = cloud.emu.requests.length
    const first = await publish(
      'retry-builder',
      'ubuntu-retry',
      { 'gallery-image-version': '3.0.0' },
      { runId: '7200002' }
    )
    expect(first.main.code).toBe(1)
    const errors = errorLines(first.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/gallery image version 3\.0\.0 of 'ubuntu-retry' failed/)
    expect(errors[0]).toContain('Replication to westeurope failed.')
    expect(first.outputs['gallery-image-version-id']).toBeUndefined()
    const firstWrites = writesSince(before1).map(short)
    // The version was this run's own and unfinished: the failing step's cleanup deleted it at once.
    expect(firstWrites).toEqual([
      'POST virtualMachines/retry-builder/deallocate',
      'POST virtualMachines/retry-builder/generalize',
      `PUT galleries/${GALLERY}/images/ubuntu-retry/versions/3.0.0`,
      `DELETE galleries/${GALLERY}/images/ubuntu-retry/versions/3.0.0`
    ])
    expect(first.summary).toContain('deleted unfinished gallery image version 3.0.0')
    expect(cloud.emu.resources.get(versionId('ubuntu-retry', '3.0.0'))).toBeUndefined()

    const before2 = cloud.emu.requests.length
    const second = await publish(
      'retry-builder',
      'ubuntu-retry',
      { 'gallery-image-version': '3.0.0' },
      { runId: '7200002', runAttempt: 2 }
    )
    expectSuccess(second)
    // The VM is generalized already (the log says so); only the version is made again.
    expect(second.main.stdout).toContain("VM 'retry-builder' is already generalized")
    expect(writesSince(before2).map(short)).toEqual([
      `PUT galleries/${GALLERY}/images/ubuntu-retry/versions/3.0.0`
    ])
    expect(second.outputs['gallery-image-version-id']).toBe(versionId('ubuntu-retry', '3.0.0'))
  })

  // Azure accepts a version from a source of another Hyper-V generation with 201 and fails the
  // operation (Conflict, MicrosoftDocs/azure-docs#118774). The preflight reads the generation it
  // can see; when Azure still finds a mismatch (injected here with Azure's words, as a VM whose
  // generation the preflight read wrongly would produce), the run says what mismatched and leaves
  // no Failed version behind.
  it('says which property mismatched when Azure fails the version late, and deletes the Failed version', async () => {
    seedDefinition('ubuntu-late', { hyperVGeneration: 'V1' })
    const vm = seedVm('late-builder', { hyperVGeneration: 'V1' })
    cloud.emu.faults.add({
      method: 'PUT',
      path: /\/images\/ubuntu-late\/versions\/1\.0\.0/,
      failOperation: {
        code: 'Conflict',
        message: `The resource with id '${vm.id}' has a different Hypervisor generation ['V2'] than the parent gallery image Hypervisor generation ['V1'].`
      }
    })
    const before = cloud.emu.requests.length
    const run = await publish(
      'late-builder',
      'ubuntu-late',
      { 'gallery-image-version': '1.0.0' },
      { runId: '7200009' }
    )
    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain(
      "gallery image definition 'ubuntu-late' has Hyper-V generation V1 but the source has V2; publish into a V2 definition."
    )
    expect(writesSince(before).map(short).slice(-2)).toEqual([
      `PUT galleries/${GALLERY}/images/ubuntu-late/versions/1.0.0`,
      `DELETE galleries/${GALLERY}/images/ubuntu-late/versions/1.0.0`
    ])
    expect(cloud.emu.resources.get(versionId('ubuntu-late', '1.0.0'))).toBeUndefined()
    expect(run.post?.code).toBe(0)
  })

  it("replaces this run's own version that was still being created and then failed, from the VM", async () => {
    seedDefinition('ubuntu-inflight')
    const vm = seedVm('inflight-builder', { powerState: 'deallocated', generalized: true })
    const seeded = seedVersion('ubuntu-inflight', '2.1.0', {
      tags: earlierAttemptTags(
        'inflight-builder',
        'ubuntu-inflight',
        { 'gallery-image-version': '2.1.0' },
        '7200003'
      )
    })
    // Azure's view of an earlier attempt's version: still Creating at the preflight read, Failed after.
    const path = new URL(`https://x${seeded.id as string}`).pathname
    const before = cloud.emu.requests.length
    const versionGets = (): number =>
      requestsSince(before).filter(r => r.method === 'GET' && r.path === path).length
    Object.defineProperty(seeded.properties, 'provisioningState', {
      enumerable: true,
      configurable: true,
      get: () => (versionGets() <= 1 ? 'Creating' : 'Failed'),
      // Whatever the emulator sets next (Deleting, ...) is a plain value again.
      set(value: unknown) {
        Object.defineProperty(seeded.properties, 'provisioningState', {
          value,
          enumerable: true,
          configurable: true,
          writable: true
        })
      }
    })
    const run = await publish(
      'inflight-builder',
      'ubuntu-inflight',
      { 'gallery-image-version': '2.1.0' },
      { runId: '7200003', runAttempt: 2 }
    )
    expectSuccess(run)
    const writes = writesSince(before)
    expect(writes.map(short)).toEqual([
      `DELETE galleries/${GALLERY}/images/ubuntu-inflight/versions/2.1.0`,
      `PUT galleries/${GALLERY}/images/ubuntu-inflight/versions/2.1.0`
    ])
    expect(body(writes[1]).properties.storageProfile).toEqual({
      source: { virtualMachineId: vm.id }
    })
    expect(run.outputs['gallery-image-version-id']).toBe(versionId('ubuntu-inflight', '2.1.0'))
  })

  it("waits for this run's own version that was still being created and reuses it when it succeeds", async () => {
    seedDefinition('ubuntu-inflight-ok')
    seedVm('inflight-ok-builder', { powerState: 'deallocated', generalized: true })
    const seeded = seedVersion('ubuntu-inflight-ok', '2.2.0', {
      tags: earlierAttemptTags(
        'inflight-ok-builder',
        'ubuntu-inflight-ok',
        { 'gallery-image-version': '2.2.0' },
        '7200004'
      )
    })
    const path = new URL(`https://x${seeded.id as string}`).pathname
    const before = cloud.emu.requests.length
    const versionGets = (): number =>
      requestsSince(before).filter(r => r.method === 'GET' && r.path === path).length
    Object.defineProperty(seeded.properties, 'provisioningState', {
      enumerable: true,
      configurable: true,
      get: () => (versionGets() <= 1 ? 'Creating' : 'Succeeded')
    })
    const run = await publish(
      'inflight-ok-builder',
      'ubuntu-inflight-ok',
      { 'gallery-image-version': '2.2.0' },
      { runId: '7200004', runAttempt: 2 }
    )
    expectSuccess(run)
    expect(writesSince(before)).toEqual([])
    expect(run.main.stdout).toContain(
      'Reusing gallery image version 2.2.0, created by an earlier attempt of this run.'
    )
    expect(run.outputs['gallery-image-version-id']).toBe(versionId('ubuntu-inflight-ok', '2.2.0'))
    expect(run.outputs['image-id']).toBe(versionId('ubuntu-inflight-ok', '2.2.0'))
  })

  it("refuses another run's version without overwrite, before any write", async () => {
    seedDefinition('ubuntu-taken')
    const vm = seedVm('taken-builder')
    seedVersion('ubuntu-taken', '4.0.0', { tags: { 'github-run-id': '1234' } })
    const before = cloud.emu.requests.length
    const run = await publish(
      'taken-builder',
      'ubuntu-taken',
      { 'gallery-image-version': '4.0.0' },
      { runId: '7300001' }
    )
    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(
      /Gallery image version '4\.0\.0' of 'ubuntu-taken' already exists \(Succeeded, made by run 1234\)/
    )
    expect(errors[0]).toContain('overwrite: true')
    expect(writesSince(before)).toEqual([])
    expect(cloud.emu.resources.state(vm.id as string)).toMatchObject({ powerState: 'running' })
    expect(run.outputs).toEqual({})
  })

  it("replaces another run's version with overwrite: true", async () => {
    const before = cloud.emu.requests.length
    const run = await publish(
      'taken-builder',
      'ubuntu-taken',
      { 'gallery-image-version': '4.0.0', overwrite: 'true' },
      { runId: '7300002' }
    )
    expectSuccess(run)
    expect(writesSince(before).map(short)).toEqual([
      'POST virtualMachines/taken-builder/deallocate',
      'POST virtualMachines/taken-builder/generalize',
      `DELETE galleries/${GALLERY}/images/ubuntu-taken/versions/4.0.0`,
      `PUT galleries/${GALLERY}/images/ubuntu-taken/versions/4.0.0`
    ])
    expect(run.main.stdout).toContain('Deleting gallery image version 4.0.0: overwrite: true')
    expect(
      (cloud.emu.resources.get(versionId('ubuntu-taken', '4.0.0')) as Body).tags['github-run-id']
    ).toBe('7300002')
  })
})

describe('the image definition', () => {
  it('creates a missing gallery and definition with the properties derived from a Trusted Launch VM', async () => {
    seedVm('tl-builder', { securityType: 'TrustedLaunch', hyperVGeneration: 'V2' })
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
    const writes = writesSince(before)
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
    seedVm('std-builder', { hyperVGeneration: 'V1' })
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
    const writes = writesSince(before)
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
    const vm = seedVm('nodef-builder')
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
    expect(writesSince(before)).toEqual([])
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
      const seeded = seedVm(`${name}-vm`, vm)
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
      expect(writesSince(before)).toEqual([])
      expect(cloud.emu.resources.state(seeded.id as string)).toMatchObject({
        powerState: 'running',
        generalized: false
      })
      expect(run.outputs).toEqual({})
    }
  )
})

describe('replication settings', () => {
  it('parses target-regions and sends Azure the normalised regions, source region first', async () => {
    seedDefinition('ubuntu-regions')
    seedVm('regions-builder')
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
    const put = body(versionPuts(writesSince(before))[0])
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
    seedVm('regions2-builder')
    const before = cloud.emu.requests.length
    const run = await publish(
      'regions2-builder',
      'ubuntu-regions2',
      { 'gallery-image-version': '1.0.0', 'target-regions': 'northeurope' },
      { runId: '7600002' }
    )
    expectSuccess(run)
    const put = body(versionPuts(writesSince(before))[0])
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
    seedVm('cross-builder')
    const before = cloud.emu.requests.length
    const run = await publish(
      'cross-builder',
      'ubuntu-north',
      { gallery: 'north_gallery', 'gallery-image-version': '1.0.0', 'target-regions': 'eastus' },
      { runId: '7600004' }
    )
    expectSuccess(run)
    const put = body(versionPuts(writesSince(before))[0])
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

  it('refuses Shallow replication to two regions before any Azure call, naming replication-mode', async () => {
    const before = cloud.emu.requests.length
    const tokensBefore = cloud.emu.tokenRequests.length
    const run = await publish('regions-builder', 'ubuntu-regions', {
      'replication-mode': 'Shallow',
      'target-regions': 'westeurope, eastus'
    })
    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/^::error::Input 'replication-mode':.*Shallow.*2 region/)
    expect(cloud.emu.requests.length).toBe(before)
    expect(cloud.emu.tokenRequests.length).toBe(tokensBefore)
  })

  it('refuses Shallow replication with two replicas before any Azure call', async () => {
    const before = cloud.emu.requests.length
    const run = await publish('regions-builder', 'ubuntu-regions', {
      'replication-mode': 'Shallow',
      'replica-count': '2'
    })
    expect(run.main.code).toBe(1)
    expect(errorLines(run.main)).toEqual([
      expect.stringMatching(/^::error::Input 'replication-mode':/)
    ])
    expect(cloud.emu.requests.length).toBe(before)
  })

  it('refuses Shallow replication to a region other than the source, before any write', async () => {
    seedDefinition('ubuntu-shallow-far')
    const vm = seedVm('shallow-far-builder')
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
    expect(writesSince(before)).toEqual([])
    expect(cloud.emu.resources.state(vm.id as string)).toMatchObject({
      powerState: 'running',
      generalized: false
    })
  })

  it('accepts Shallow replication for one region and one replica', async () => {
    seedDefinition('ubuntu-shallow')
    seedVm('shallow-builder')
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
    const put = body(versionPuts(writesSince(before))[0])
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

describe('keep-versions', () => {
  function remaining(definition: string): string[] {
    const prefix = `${definitionId(definition)}/versions/`.toLowerCase()
    return cloud.emu.resources
      .list('Microsoft.Compute/galleries/images/versions')
      .filter(v => String(v.id).toLowerCase().startsWith(prefix))
      .map(v => String(v.name))
      .sort()
  }

  it('keeps exactly N versions, reading every list page, and deletes the older ones', async () => {
    seedDefinition('ubuntu-prune')
    seedVm('prune-builder')
    // Seven older versions: with the new one, eight, over four list pages of two.
    const older = ['1.0.0', '1.0.1', '1.0.2', '1.1.0', '1.2.0', '1.10.0', '2.0.0']
    for (const name of older) seedVersion('ubuntu-prune', name)
    const before = cloud.emu.requests.length
    const versionBefore = autoVersion(5)
    const run = await publish(
      'prune-builder',
      'ubuntu-prune',
      { 'gallery-image-version': 'auto', 'keep-versions': '3' },
      { runId: '7700001', runNumber: 5 }
    )
    expectSuccess(run)
    const version = run.outputs['gallery-image-version']
    expect([versionBefore, autoVersion(5)]).toContain(version)

    const lists = requestsSince(before).filter(
      r => r.method === 'GET' && /\/images\/ubuntu-prune\/versions$/.test(r.path)
    )
    expect(lists).toHaveLength(4)
    expect(lists.slice(1).map(r => r.query.$skiptoken)).toEqual(['2', '4', '6'])

    const writes = writesSince(before)
    const putIndex = writes.findIndex(
      w => w.method === 'PUT' && w.path.endsWith(`/versions/${version}`)
    )
    const deletes = writes.filter(w => w.method === 'DELETE').map(w => w.path.split('/').pop())
    expect(putIndex).toBeGreaterThanOrEqual(0)
    // Deletes only after the new version exists; numeric order (1.10.0 > 1.2.0), not text order.
    expect(writes.slice(0, putIndex).filter(w => w.method === 'DELETE')).toEqual([])
    expect(deletes.sort()).toEqual(['1.0.0', '1.0.1', '1.0.2', '1.1.0', '1.2.0'])
    expect(remaining('ubuntu-prune')).toEqual(['1.10.0', '2.0.0', version].sort())
    expect(run.main.stdout).toContain(
      "keep-versions: 3; 'ubuntu-prune' has 8 version(s), 5 to delete."
    )
    expect(run.summary).toContain(`| ${LOCATION} | Completed | 100% | 1 | Standard_LRS |`)
    expect(run.summary).toMatch(/keep-versions deleted 5 older version\(s\) of 'ubuntu-prune'/)
  })

  it('never deletes the new version or one still replicating', async () => {
    seedDefinition('ubuntu-prune2')
    seedVm('prune2-builder')
    seedVersion('ubuntu-prune2', '0.9.0', { provisioningState: 'Creating' })
    seedVersion('ubuntu-prune2', '1.0.0')
    seedVersion('ubuntu-prune2', '1.0.1', { provisioningState: 'Updating' })
    seedVersion('ubuntu-prune2', '1.0.2')
    seedVersion('ubuntu-prune2', '5.0.0')
    seedVersion('ubuntu-prune2', '5.0.1')
    const before = cloud.emu.requests.length
    // The new version is older than the two newest: keep-versions must still leave it alone.
    const run = await publish(
      'prune2-builder',
      'ubuntu-prune2',
      { 'gallery-image-version': '3.0.0', 'keep-versions': '2' },
      { runId: '7700002' }
    )
    expectSuccess(run)
    const deletes = writesSince(before)
      .filter(w => w.method === 'DELETE')
      .map(w => w.path.split('/').pop())
    expect(deletes.sort()).toEqual(['1.0.0', '1.0.2'])
    expect(remaining('ubuntu-prune2')).toEqual(['0.9.0', '1.0.1', '3.0.0', '5.0.0', '5.0.1'])
    expect(run.main.stdout).toMatch(
      /keep-versions: 2; 'ubuntu-prune2' has 7 version\(s\), 2 to delete, 3 older one\(s\) kept/
    )
    expect(run.outputs['gallery-image-version-id']).toBe(versionId('ubuntu-prune2', '3.0.0'))
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

// shared-image-galleries.md "RBAC Permissions required to create an ACG Image": a version from a
// VM needs write on the VM; azure-compute-gallery.md recommends sharing at the gallery level, so
// roles assigned on the gallery alone must count. The emulator answers Permissions - List at each
// scope with the grants at and above it, as Azure's Microsoft.Authorization/permissions does.
describe('permissions preflight', () => {
  const PRG = 'perm-rg'
  const SCOPE = (type: string, name: string): string =>
    `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/${PRG}/providers/Microsoft.Compute/${type}/${name}`
  const VM_ROLE = [
    'Microsoft.Resources/subscriptions/resourceGroups/read',
    'Microsoft.Compute/virtualMachines/*',
    'Microsoft.Compute/disks/read',
    'Microsoft.Compute/locations/*/read'
  ]

  beforeAll(() => {
    cloud.emu.addResourceGroup(PRG, LOCATION)
  })

  function seedPermGallery(gallery: string, definition: string): void {
    cloud.emu.addGallery(PRG, gallery, LOCATION)
    cloud.emu.addGalleryImage({
      resourceGroup: PRG,
      gallery,
      name: definition,
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V2'
    })
    cloud.emu.addVm({
      resourceGroup: PRG,
      name: `${gallery}-vm`,
      location: LOCATION,
      osType: 'Linux',
      hyperVGeneration: 'V2'
    })
  }

  it('counts a role assigned only on the gallery, invisible at its resource group', async () => {
    seedPermGallery('role_on_gallery', 'def')
    cloud.emu.setPermissions(PRG, VM_ROLE)
    cloud.emu.setPermissions(SCOPE('galleries', 'role_on_gallery'), [
      'Microsoft.Compute/galleries/*',
      'Microsoft.Compute/locations/capsOperations/read'
    ])
    const before = cloud.emu.requests.length
    const run = await publish(
      'role_on_gallery-vm',
      'def',
      { 'resource-group': PRG, gallery: 'role_on_gallery', 'gallery-image-version': '1.0.0' },
      { runId: '7700001' }
    )
    expectSuccess(run)
    // Read where the role is: at the gallery itself.
    expect(
      requestsSince(before).some(
        q =>
          q.path.replace(/\/+/g, '/').toLowerCase() ===
          `${SCOPE('galleries', 'role_on_gallery')}/providers/Microsoft.Authorization/permissions`.toLowerCase()
      )
    ).toBe(true)
    expect(versionPuts(writesSince(before))).toHaveLength(1)
  })

  it('refuses before any write when the identity may not write the VM a version is made from', async () => {
    seedPermGallery('no_vm_write', 'def')
    cloud.emu.setPermissions(PRG, ['*'], ['Microsoft.Compute/virtualMachines/write'])
    const before = cloud.emu.requests.length
    const run = await publish(
      'no_vm_write-vm',
      'def',
      { 'resource-group': PRG, gallery: 'no_vm_write', 'gallery-image-version': '1.0.0' },
      { runId: '7700002' }
    )
    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain('Microsoft.Compute/virtualMachines/write')
    expect(writesSince(before)).toEqual([])
  })

  it('warns, and goes on, when a permission seems missing only at the resource group because the gallery could not be read', async () => {
    cloud.emu.addVm({
      resourceGroup: PRG,
      name: 'new-gallery-vm',
      location: LOCATION,
      osType: 'Linux',
      hyperVGeneration: 'V2'
    })
    // Its permissions at the gallery cannot be read (injected 403), so the group's are read instead.
    cloud.emu.setPermissions(PRG, ['*'], ['Microsoft.Compute/galleries/write'])
    cloud.emu.faults.add({
      method: 'GET',
      path: /\/galleries\/created_here\/providers\/Microsoft\.Authorization\/permissions/i,
      status: 403,
      code: 'AuthorizationFailed',
      message: 'The client does not have authorization to perform action here.'
    })
    const run = await publish(
      'new-gallery-vm',
      'def',
      {
        'resource-group': PRG,
        gallery: 'created_here',
        'create-gallery-image': 'true',
        'gallery-image-version': '1.0.0'
      },
      { runId: '7700003' }
    )
    expect(run.main.stdout).toMatch(
      /::warning::.*Microsoft\.Compute\/galleries\/write.*as far as resource group 'perm-rg' shows/
    )
    // The emulator does not enforce roles, so the run then succeeds.
    expectSuccess(run)
  })
})

// Full replication copies source disks of at most 2048 GiB (azure-compute-gallery.md); Azure fails
// a bigger one in replication, after the VM was generalized (the emulator does, as
// troubleshooting-shared-images.md quotes). The action refuses it before any write.
describe('source size and replication mode', () => {
  it('refuses a disk over 2048 GiB with Full replication before any write, naming replication-mode', async () => {
    seedDefinition('ubuntu-big')
    const vm = seedVm('big-builder', { diskSizeGB: 2100 })
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
    expect(writesSince(before)).toEqual([])
    expect(cloud.emu.resources.state(vm.id as string)).toMatchObject({ powerState: 'running' })
  })

  it('publishes the same disk with replication-mode: Shallow', async () => {
    seedDefinition('ubuntu-big-shallow')
    seedVm('big-shallow-builder', { diskSizeGB: 2100 })
    const run = await publish(
      'big-shallow-builder',
      'ubuntu-big-shallow',
      { 'gallery-image-version': '1.0.0', 'replication-mode': 'Shallow' },
      { runId: '7800002' }
    )
    expectSuccess(run)
  })
})
