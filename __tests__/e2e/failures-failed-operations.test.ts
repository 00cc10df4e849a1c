/**
 * Operations that end Failed: the unfinished image or version removed and reported, the post step
 * finishing a cleanup the main step could not, and a re-run attempt that then succeeds.
 * The bundled action on its failure paths against the ARM emulator; evidence is the emulator's
 * request log and what the action wrote.
 */
import { describe, expect, it } from '@jest/globals'
import { errorLines, ledgerEntries } from '../support/action-runner.js'
import type { Body } from '../emulator/index.js'
import { short } from '../support/cloud.js'
import {
  GALLERY,
  cloud,
  imageId,
  versionId,
  run,
  postLines,
  useFailureCloud
} from '../support/failure-run.js'

useFailureCloud()

describe('operations that end Failed', () => {
  it('removes a managed image whose creation failed, reports it, and a re-run succeeds', async () => {
    cloud.seedVm('fail-vm')
    cloud.emu.faults.add({
      method: 'PUT',
      path: /\/images\/fail-img\?/,
      failOperation: {
        code: 'InternalDiskManagementError',
        message: 'An internal disk management error occurred.'
      }
    })
    const before = cloud.emu.requests.length
    const r = await run({ 'source-vm': 'fail-vm', 'image-name': 'fail-img' })

    expect(r.main.code).toBe(1)
    const errors = errorLines(r.main)
    expect(errors).toHaveLength(1)
    const put = cloud
      .requestsSince(before)
      .find(q => q.method === 'PUT' && /\/images\/fail-img$/.test(q.path))
    expect(put?.status).toBe(201)
    // The essence on one line: the step, Azure's code and message, and a request id to quote.
    expect(errors[0]).toMatch(/^::error::Managed image failed: /)
    expect(errors[0]).toContain('InternalDiskManagementError')
    expect(errors[0]).toContain('An internal disk management error occurred.')
    expect(errors[0]).toMatch(/request id [0-9a-f-]{36}/)

    // The Failed image is deleted by the main step's cleanup: nothing of this run is left.
    const writes = cloud.writesSince(before).map(short)
    expect(writes).toEqual([
      'POST virtualMachines/fail-vm/deallocate',
      'POST virtualMachines/fail-vm/generalize',
      'PUT images/fail-img',
      'DELETE images/fail-img'
    ])
    expect(cloud.emu.resources.get(imageId('fail-img'))).toBeUndefined()
    expect(r.main.stdout).toContain("Cleanup: deleted unfinished managed image 'fail-img'")
    // The ledger ends empty, so the post step has nothing to do, and says so.
    expect(ledgerEntries(r.state.ledger)).toEqual([])
    expect(r.post?.code).toBe(0)
    expect(postLines(r)).toContain('Post: nothing this run created is left to clean up.')
    expect(r.summary).toContain('Managed image failed')
    expect(r.outputs['image-id']).toBeUndefined()

    // Re-run attempt 2 of the same run: the VM is already generalized, the image is created.
    const again = cloud.emu.requests.length
    const retry = await run({ 'source-vm': 'fail-vm', 'image-name': 'fail-img' }, { runAttempt: 2 })
    expect(errorLines(retry.main)).toEqual([])
    expect(retry.main.code).toBe(0)
    expect(cloud.writesSince(again).map(short)).toEqual(['PUT images/fail-img'])
    const image = cloud.emu.resources.get(imageId('fail-img')) as Body
    expect(image.properties.provisioningState).toBe('Succeeded')
    expect(image.tags['github-run-attempt']).toBe('2')
    expect(retry.outputs['image-id']).toBe(imageId('fail-img'))
  })

  it('when the cleanup in the main step fails, the post step finishes it from the ledger', async () => {
    cloud.seedVm('fail-vm3')
    cloud.emu.faults.add({
      method: 'PUT',
      path: /\/images\/fail-img3\?/,
      failOperation: { code: 'InternalOperationError', message: 'Image creation failed.' }
    })
    // The main step's DELETE is refused once (409 is not retried).
    cloud.emu.faults.add({
      method: 'DELETE',
      path: /\/images\/fail-img3\?/,
      status: 409,
      code: 'OperationNotAllowed',
      message: 'Another operation is in progress on the image.'
    })
    const before = cloud.emu.requests.length
    const r = await run({ 'source-vm': 'fail-vm3', 'image-name': 'fail-img3' })

    expect(r.main.code).toBe(1)
    expect(errorLines(r.main)).toEqual([
      expect.stringMatching(
        /^::error::Managed image failed: InternalOperationError: Image creation failed\. \(request id [0-9a-f-]{36}\)$/
      )
    ])
    expect(r.main.stdout).toMatch(
      /::warning::Cleanup of \S+\/images\/fail-img3 failed: .*Another operation is in progress/
    )
    // The ledger the main step saved still lists the image; the post step removed it.
    expect(ledgerEntries(r.state.ledger)).toEqual([
      { kind: 'managed-image', id: imageId('fail-img3') }
    ])
    expect(postLines(r)).toContain("Cleanup: deleted unfinished managed image 'fail-img3'")
    const deletes = cloud.requestsSince(before).filter(q => q.method === 'DELETE')
    expect(deletes.map(q => `${short(q)} ${q.status}`)).toEqual([
      'DELETE images/fail-img3 409',
      'DELETE images/fail-img3 202'
    ])
    expect(cloud.emu.resources.get(imageId('fail-img3'))).toBeUndefined()
    expect(r.summary).toContain('## Cleanup after a failed or cancelled run')
  })

  it('removes a gallery image version whose creation failed, and re-run attempt 2 succeeds', async () => {
    cloud.seedVm('gfail-vm')
    const version = '1.0.7'
    cloud.emu.faults.add({
      method: 'PUT',
      path: /\/images\/gfail-def\/versions\/1\.0\.7\?/,
      failOperation: {
        code: 'ReplicationFailed',
        message: 'Replication to westeurope failed: disk copy error.'
      }
    })
    const inputs = {
      'source-vm': 'gfail-vm',
      gallery: GALLERY,
      'gallery-image': 'gfail-def',
      'create-gallery-image': 'true',
      publisher: 'contoso',
      offer: 'golden',
      sku: 'ubuntu',
      'gallery-image-version': version
    }
    const before = cloud.emu.requests.length
    const r = await run(inputs)

    expect(r.main.code).toBe(1)
    const errors = errorLines(r.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/^::error::Gallery image version failed: /)
    expect(errors[0]).toContain('ReplicationFailed')
    expect(errors[0]).toContain('Replication to westeurope failed: disk copy error.')
    expect(errors[0]).toMatch(/request id [0-9a-f-]{36}/)

    const writes = cloud.writesSince(before).map(short)
    expect(writes).toEqual([
      'POST virtualMachines/gfail-vm/deallocate',
      'POST virtualMachines/gfail-vm/generalize',
      'PUT galleries/fail_gallery/images/gfail-def',
      'PUT galleries/fail_gallery/images/gfail-def/versions/1.0.7',
      'DELETE galleries/fail_gallery/images/gfail-def/versions/1.0.7'
    ])
    expect(cloud.emu.resources.get(versionId('gfail-def', version))).toBeUndefined()
    expect(r.main.stdout).toContain('Cleanup: deleted unfinished gallery image version 1.0.7')
    expect(ledgerEntries(r.state.ledger)).toEqual([])
    expect(postLines(r)).toContain('Post: nothing this run created is left to clean up.')
    expect(r.outputs['gallery-image-version-id']).toBeUndefined()

    const again = cloud.emu.requests.length
    const retry = await run(inputs, { runAttempt: 2 })
    expect(errorLines(retry.main)).toEqual([])
    expect(retry.main.code).toBe(0)
    expect(cloud.writesSince(again).map(short)).toEqual([
      'PUT galleries/fail_gallery/images/gfail-def/versions/1.0.7'
    ])
    const created = cloud.emu.resources.get(versionId('gfail-def', version)) as Body
    expect(created.properties.provisioningState).toBe('Succeeded')
    expect(retry.outputs['gallery-image-version-id']).toBe(versionId('gfail-def', version))
    expect(retry.outputs['gallery-image-version']).toBe(version)
  })
})
