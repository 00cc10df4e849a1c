/**
 * What the action does with a version already under the number it publishes: its own Failed or
 * unfinished one (replaced, or waited for and reused), another run's (refused, or replaced with
 * overwrite: true), and a mismatch Azure reports only late.
 * The bundled action, run as the runner runs it, against the ARM emulator; evidence is what the
 * emulator received and what the action wrote.
 */
import { describe, expect, it } from '@jest/globals'
import { errorLines } from '../support/action-runner.js'
import type { Body } from '../emulator/index.js'
import { short } from '../support/cloud.js'
import {
  GALLERY,
  cloud,
  versionId,
  body,
  seedDefinition,
  seedVersion,
  publish,
  sameJob,
  expectSuccess,
  useGalleryCloud
} from '../support/gallery-run.js'

useGalleryCloud()

/**
 * Azure's view of an earlier attempt's version that was still running: 'Creating' at the first
 * read of it after `before` (the preflight's), `then` after. Whatever the emulator sets next
 * (Deleting, ...) is a plain value again.
 */
function creatingAtFirstRead(version: Body, before: number, then: 'Failed' | 'Succeeded'): void {
  const path = new URL(`https://x${version.id as string}`).pathname
  const reads = (): number =>
    cloud.requestsSince(before).filter(r => r.method === 'GET' && r.path === path).length
  Object.defineProperty(version.properties, 'provisioningState', {
    enumerable: true,
    configurable: true,
    get: () => (reads() <= 1 ? 'Creating' : then),
    set(value: unknown) {
      Object.defineProperty(version.properties, 'provisioningState', {
        value,
        enumerable: true,
        configurable: true,
        writable: true
      })
    }
  })
}

describe('an existing version under the same number', () => {
  it("replaces this run's own Failed version: DELETE, then PUT", async () => {
    seedDefinition('ubuntu-failed')
    cloud.seedVm('failed-builder')
    const job = sameJob(
      'failed-builder',
      'ubuntu-failed',
      { 'gallery-image-version': '2.0.0' },
      '7200001'
    )
    job.seedVersion('2.0.0', { provisioningState: 'Failed' })
    const before = cloud.emu.requests.length
    const run = await job.rerun()
    expectSuccess(run)
    expect(cloud.writesSince(before).map(short)).toEqual([
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
    cloud.seedVm('retry-builder')
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
    const firstWrites = cloud.writesSince(before1).map(short)
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
    expect(cloud.writesSince(before2).map(short)).toEqual([
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
    const vm = cloud.seedVm('late-builder', { hyperVGeneration: 'V1' })
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
    expect(cloud.writesSince(before).map(short).slice(-2)).toEqual([
      `PUT galleries/${GALLERY}/images/ubuntu-late/versions/1.0.0`,
      `DELETE galleries/${GALLERY}/images/ubuntu-late/versions/1.0.0`
    ])
    expect(cloud.emu.resources.get(versionId('ubuntu-late', '1.0.0'))).toBeUndefined()
    expect(run.post?.code).toBe(0)
  })

  it("replaces this run's own version that was still being created and then failed, from the VM", async () => {
    seedDefinition('ubuntu-inflight')
    const vm = cloud.seedVm('inflight-builder', { powerState: 'deallocated', generalized: true })
    const job = sameJob(
      'inflight-builder',
      'ubuntu-inflight',
      { 'gallery-image-version': '2.1.0' },
      '7200003'
    )
    const before = cloud.emu.requests.length
    creatingAtFirstRead(job.seedVersion('2.1.0'), before, 'Failed')
    const run = await job.rerun()
    expectSuccess(run)
    const writes = cloud.writesSince(before)
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
    cloud.seedVm('inflight-ok-builder', { powerState: 'deallocated', generalized: true })
    const job = sameJob(
      'inflight-ok-builder',
      'ubuntu-inflight-ok',
      { 'gallery-image-version': '2.2.0' },
      '7200004'
    )
    const before = cloud.emu.requests.length
    creatingAtFirstRead(job.seedVersion('2.2.0'), before, 'Succeeded')
    const run = await job.rerun()
    expectSuccess(run)
    expect(cloud.writesSince(before)).toEqual([])
    expect(run.main.stdout).toContain(
      'Reusing gallery image version 2.2.0, created by an earlier attempt of this run.'
    )
    expect(run.outputs['gallery-image-version-id']).toBe(versionId('ubuntu-inflight-ok', '2.2.0'))
    expect(run.outputs['image-id']).toBe(versionId('ubuntu-inflight-ok', '2.2.0'))
  })

  it("refuses another run's version without overwrite, before any write", async () => {
    seedDefinition('ubuntu-taken')
    const vm = cloud.seedVm('taken-builder')
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
    expect(cloud.writesSince(before)).toEqual([])
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
    expect(cloud.writesSince(before).map(short)).toEqual([
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
