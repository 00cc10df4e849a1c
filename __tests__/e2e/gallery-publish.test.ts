/**
 * Publishing a captured VM as a gallery image version: `auto` numbering, re-run attempts reusing
 * their own version, and a version made from the managed image when there is one.
 * The bundled action, run as the runner runs it, against the ARM emulator; evidence is what the
 * emulator received and what the action wrote.
 */
import { describe, expect, it } from '@jest/globals'
import { type ActionRun } from '../support/action-runner.js'
import type { Body } from '../emulator/index.js'
import { short } from '../support/cloud.js'
import {
  RG,
  GALLERY,
  LOCATION,
  cloud,
  autoVersion,
  versionId,
  body,
  seedDefinition,
  seedVersion,
  publish,
  sameJob,
  expectSuccess,
  versionPuts,
  useGalleryCloud
} from '../support/gallery-run.js'

useGalleryCloud()

describe('capture into a gallery image version', () => {
  const RUN_ID = '7100001'
  const RUN_NUMBER = 77
  let firstRun: ActionRun
  let vm: Body
  let expectedVersion: string

  it("publishes an 'auto' version straight from the VM (no managed image)", async () => {
    seedDefinition('ubuntu-vm')
    vm = cloud.seedVm('gal-builder', { dataDisks: 1 })
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

    const writes = cloud.writesSince(before)
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
      cloud
        .requestsSince(before)
        .some(r => /\/images\//i.test(r.path) && !/galleries/i.test(r.path))
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
    expect(cloud.writesSince(before)).toEqual([])
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
    const vm = cloud.seedVm('nextday-builder', { powerState: 'deallocated', generalized: true })
    // Made by attempt 1 of run 7100003 (run number 88) on an earlier date.
    const earlier = `${new Date().getUTCFullYear() - 1}.1231.88`
    const job = sameJob(
      'nextday-builder',
      'ubuntu-nextday',
      { 'gallery-image-version': 'auto' },
      '7100003'
    )
    job.seedVersion(earlier, { tags: { 'github-run-attempt': '1' } })
    seedVersion('ubuntu-nextday', '1.0.0', { tags: { 'github-run-id': '1' } })
    const before = cloud.emu.requests.length
    const run = await job.rerun({ runNumber: 88 })
    expectSuccess(run)
    expect(cloud.writesSince(before)).toEqual([])
    expect(run.outputs['gallery-image-version']).toBe(earlier)
    expect(run.outputs['image-id']).toBe(versionId('ubuntu-nextday', earlier))
    expect(run.main.stdout).toContain(
      `an earlier attempt of this run made version ${earlier}; using it instead of ${autoVersion(88)}`
    )
    expect(cloud.emu.resources.state(vm.id as string)).toMatchObject({ generalized: true })
  })

  it('publishes from the managed image when image-name is also set', async () => {
    seedDefinition('ubuntu-mi')
    cloud.seedVm('mi-builder')
    const before = cloud.emu.requests.length
    const run = await publish(
      'mi-builder',
      'ubuntu-mi',
      { 'image-name': 'mi-golden', 'gallery-image-version': '1.2.3' },
      { runId: '7100002' }
    )
    expectSuccess(run)
    const imageId = `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/images/mi-golden`
    const writes = cloud.writesSince(before)
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
