/**
 * Cleanup deletes only what carries this job's owner key, and never what succeeded: resources
 * another run put in place after the preflight are left alone, in capture and upload mode.
 * The bundled action on its failure paths against the ARM emulator; evidence is the emulator's
 * request log and what the action wrote.
 */
import { describe, expect, it } from '@jest/globals'
import { errorLines, ledgerEntries } from '../support/action-runner.js'
import { short } from '../support/cloud.js'
import { useUploadCloud } from '../support/upload-run.js'
import { MiB, writeRawImage } from '../upload-it/fixtures.js'
import type { Body } from '../emulator/index.js'
import {
  RG,
  LOCATION,
  GALLERY,
  cloud,
  imageId,
  versionId,
  run,
  postLines,
  useFailureCloud
} from '../support/failure-run.js'

useFailureCloud()

describe('cleanup: only what carries this run’s tag, and never what succeeded', () => {
  it('leaves alone a managed image that another run put in its place after the preflight', async () => {
    cloud.seedVm('foreign-vm')
    // The deallocate waits at the emulator; meanwhile another run starts creating 'foreign-img'.
    cloud.emu.faults.add({
      method: 'POST',
      path: /\/virtualMachines\/foreign-vm\/deallocate\?/,
      delayMs: 300
    })
    // The action's image PUT is refused: the run fails with the image in its ledger.
    cloud.emu.faults.add({
      method: 'PUT',
      path: /\/images\/foreign-img\?/,
      status: 409,
      code: 'OperationNotAllowed',
      message: 'Another operation is in progress on the image.'
    })
    let seeded = false
    const stop = cloud.whenRequest(
      q => q.method === 'POST' && /\/virtualMachines\/foreign-vm\/deallocate$/.test(q.path),
      () => {
        const image = cloud.emu.addImage({
          resourceGroup: RG,
          name: 'foreign-img',
          location: LOCATION,
          hyperVGeneration: 'V2',
          tags: { 'github-run-id': '1' }
        })
        // Still being created by that other run: were it this run's, cleanup would delete it.
        image.properties.provisioningState = 'Creating'
        seeded = true
      }
    )
    const before = cloud.emu.requests.length
    const r = await run({ 'source-vm': 'foreign-vm', 'image-name': 'foreign-img' }).finally(stop)

    expect(seeded).toBe(true)
    expect(cloud.emu.faults.pending).toEqual([])
    expect(r.main.code).toBe(1)
    expect(errorLines(r.main)).toEqual([
      expect.stringMatching(/^::error::Managed image failed: .*Another operation is in progress/)
    ])
    // The preflight found no image: it appeared later, made by run 1.
    const imageRequests = cloud
      .requestsSince(before)
      .filter(q => /\/images\/foreign-img$/.test(q.path))
    expect(imageRequests.map(q => `${q.method} ${q.status}`)).toEqual([
      'GET 404',
      'PUT 409',
      'GET 200'
    ])
    // The ledger listed the image; cleanup read it, saw another run's tag and sent no DELETE.
    expect(cloud.writesSince(before).map(short)).toEqual([
      'POST virtualMachines/foreign-vm/deallocate',
      'POST virtualMachines/foreign-vm/generalize',
      'PUT images/foreign-img'
    ])
    expect(r.main.stdout).toContain(
      "Cleanup: managed image 'foreign-img' is not this job's (owner key): left alone"
    )
    const image = cloud.emu.resources.get(imageId('foreign-img')) as Body
    expect(image.tags).toEqual({ 'github-run-id': '1' })
    expect(image.properties.provisioningState).toBe('Creating')
    // Handled: off the ledger, so the post step has nothing to do either.
    expect(ledgerEntries(r.state.ledger)).toEqual([])
    expect(r.post?.code).toBe(0)
    expect(postLines(r)).toContain('Post: nothing this run created is left to clean up.')
    expect(r.summary).toContain("managed image 'foreign-img' is not this job's (owner key)")
  })

  it('leaves alone a gallery image version that another run created after the preflight', async () => {
    cloud.seedVm('gforeign-vm')
    cloud.emu.addGalleryImage({
      resourceGroup: RG,
      gallery: GALLERY,
      name: 'gforeign-def',
      osType: 'Linux',
      hyperVGeneration: 'V2'
    })
    const version = '2.0.1'
    cloud.emu.faults.add({
      method: 'POST',
      path: /\/virtualMachines\/gforeign-vm\/deallocate\?/,
      delayMs: 300
    })
    cloud.emu.faults.add({
      method: 'PUT',
      path: /\/images\/gforeign-def\/versions\/2\.0\.1\?/,
      status: 409,
      code: 'OperationNotAllowed',
      message: 'Another operation is in progress on gallery image version 2.0.1.'
    })
    let seeded = false
    const stop = cloud.whenRequest(
      q => q.method === 'POST' && /\/virtualMachines\/gforeign-vm\/deallocate$/.test(q.path),
      () => {
        cloud.emu.addGalleryImageVersion({
          resourceGroup: RG,
          gallery: GALLERY,
          image: 'gforeign-def',
          name: version,
          tags: { 'github-run-id': '1' },
          provisioningState: 'Creating'
        })
        seeded = true
      }
    )
    const before = cloud.emu.requests.length
    const r = await run({
      'source-vm': 'gforeign-vm',
      gallery: GALLERY,
      'gallery-image': 'gforeign-def',
      'gallery-image-version': version
    }).finally(stop)

    expect(seeded).toBe(true)
    expect(cloud.emu.faults.pending).toEqual([])
    expect(r.main.code).toBe(1)
    expect(errorLines(r.main)).toEqual([
      expect.stringMatching(/^::error::Gallery image version failed: .*Another operation/)
    ])
    const versionRequests = cloud
      .requestsSince(before)
      .filter(q => /\/images\/gforeign-def\/versions\/2\.0\.1$/.test(q.path))
    // The preflight's GET found nothing; the PUT was refused; cleanup only read it.
    expect(versionRequests[0].method).toBe('GET')
    expect(versionRequests[0].status).toBe(404)
    expect(
      versionRequests.filter(q => q.method !== 'GET').map(q => `${q.method} ${q.status}`)
    ).toEqual(['PUT 409'])
    expect(cloud.writesSince(before).map(short)).toEqual([
      'POST virtualMachines/gforeign-vm/deallocate',
      'POST virtualMachines/gforeign-vm/generalize',
      'PUT galleries/fail_gallery/images/gforeign-def/versions/2.0.1'
    ])
    expect(r.main.stdout).toContain(
      "Cleanup: gallery image version 2.0.1 is not this job's (owner key): left alone"
    )
    const found = cloud.emu.resources.get(versionId('gforeign-def', version)) as Body
    expect(found.tags).toEqual({ 'github-run-id': '1' })
    expect(found.properties.provisioningState).toBe('Creating')
    expect(ledgerEntries(r.state.ledger)).toEqual([])
    expect(postLines(r)).toContain('Post: nothing this run created is left to clean up.')
  })

  it('keeps a managed image that succeeded although the run failed reading it back', async () => {
    cloud.seedVm('keep-vm')
    // The preflight GET passes; the read of the finished image (the LRO's final GET) is refused.
    cloud.emu.faults.add({ method: 'GET', path: /\/images\/keep-img\?/ })
    cloud.emu.faults.add({
      method: 'GET',
      path: /\/images\/keep-img\?/,
      status: 403,
      code: 'AuthorizationFailed',
      message: 'The client is not allowed to read the image right now.'
    })
    const before = cloud.emu.requests.length
    const r = await run({ 'source-vm': 'keep-vm', 'image-name': 'keep-img' })

    expect(cloud.emu.faults.pending).toEqual([])
    expect(r.main.code).toBe(1)
    expect(errorLines(r.main)).toEqual([
      expect.stringMatching(/^::error::Managed image failed: .*AuthorizationFailed/)
    ])
    const imageRequests = cloud
      .requestsSince(before)
      .filter(q => /\/images\/keep-img$/.test(q.path))
    expect(imageRequests.map(q => `${q.method} ${q.status}`)).toEqual([
      'GET 404',
      'PUT 201',
      'GET 403',
      'GET 200'
    ])
    // The image is Succeeded in Azure, so cleanup keeps it: no DELETE, from main or post.
    expect(r.main.stdout).toContain("Cleanup: managed image 'keep-img' succeeded: kept")
    expect(cloud.writesSince(before).map(short)).toEqual([
      'POST virtualMachines/keep-vm/deallocate',
      'POST virtualMachines/keep-vm/generalize',
      'PUT images/keep-img'
    ])
    const image = cloud.emu.resources.get(imageId('keep-img')) as Body
    expect(image.properties.provisioningState).toBe('Succeeded')
    expect(image.tags['github-run-id']).toBe('9000001')
    expect(ledgerEntries(r.state.ledger)).toEqual([])
    expect(postLines(r)).toContain('Post: nothing this run created is left to clean up.')
  })

  it('keeps a gallery image version that succeeded: neither main nor the post step deletes it', async () => {
    cloud.seedVm('gkeep-vm')
    const version = '3.0.0'
    const path = /\/images\/gkeep-def\/versions\/3\.0\.0\?/
    // The LRO's own final read passes; the action's read of the finished version (with its
    // replication status) is refused, so the run fails with the version still in its ledger.
    cloud.emu.faults.add({ method: 'GET', path })
    cloud.emu.faults.add({
      method: 'GET',
      path: /\/images\/gkeep-def\/versions\/3\.0\.0\?.*expand=ReplicationStatus/i,
      status: 403,
      code: 'AuthorizationFailed',
      message: 'The client is not allowed to read the gallery image version right now.'
    })
    // The main step's cleanup cannot read it either: the post step finishes the cleanup.
    cloud.emu.faults.add({
      method: 'GET',
      path,
      status: 409,
      code: 'OperationNotAllowed',
      message: 'Another operation is in progress on the gallery image version.'
    })
    const before = cloud.emu.requests.length
    const r = await run({
      'source-vm': 'gkeep-vm',
      gallery: GALLERY,
      'gallery-image': 'gkeep-def',
      'create-gallery-image': 'true',
      publisher: 'contoso',
      offer: 'golden',
      sku: 'keep',
      'gallery-image-version': version
    })

    expect(cloud.emu.faults.pending).toEqual([])
    expect(r.main.code).toBe(1)
    expect(errorLines(r.main)).toEqual([
      expect.stringMatching(/^::error::Gallery image version failed: .*AuthorizationFailed/)
    ])
    const versionRequests = cloud
      .requestsSince(before)
      .filter(q => /\/images\/gkeep-def\/versions\/3\.0\.0$/.test(q.path))
    // PUT, the LRO's final read, the refused read, main's cleanup read (refused), post's read.
    expect(versionRequests.map(q => `${q.method} ${q.status}`)).toEqual([
      'PUT 201',
      'GET 200',
      'GET 403',
      'GET 409',
      'GET 200'
    ])
    expect(r.main.stdout).toMatch(
      /::warning::Cleanup of \S+\/versions\/3\.0\.0 failed: .*Another operation is in progress/
    )
    expect(ledgerEntries(r.state.ledger)).toEqual([
      { kind: 'gallery-image-version', id: versionId('gkeep-def', version) }
    ])
    // The post step found it Succeeded and kept it: no DELETE from either step.
    expect(r.post?.code).toBe(0)
    expect(postLines(r)).toContain('Cleanup: gallery image version 3.0.0 succeeded: kept')
    expect(r.summary).toContain('gallery image version 3.0.0 succeeded: kept')
    expect(cloud.requestsSince(before).filter(q => q.method === 'DELETE')).toEqual([])
    expect(cloud.writesSince(before).map(short)).toEqual([
      'POST virtualMachines/gkeep-vm/deallocate',
      'POST virtualMachines/gkeep-vm/generalize',
      'PUT galleries/fail_gallery/images/gkeep-def',
      'PUT galleries/fail_gallery/images/gkeep-def/versions/3.0.0'
    ])
    const kept = cloud.emu.resources.get(versionId('gkeep-def', version)) as Body
    expect(kept.properties.provisioningState).toBe('Succeeded')
    expect(kept.tags['github-run-id']).toBe('9000001')
  })

  it('a failure after the image and version succeeded (deleting the source VM) deletes neither', async () => {
    cloud.seedVm('after-vm')
    cloud.emu.faults.add({
      method: 'DELETE',
      path: /\/virtualMachines\/after-vm\?/,
      status: 409,
      code: 'OperationNotAllowed',
      message: 'The VM is locked.'
    })
    const version = '4.0.0'
    const before = cloud.emu.requests.length
    const r = await run({
      'source-vm': 'after-vm',
      'image-name': 'after-img',
      gallery: GALLERY,
      'gallery-image': 'after-def',
      'create-gallery-image': 'true',
      publisher: 'contoso',
      offer: 'golden',
      sku: 'after',
      'gallery-image-version': version,
      'delete-source-vm': 'true'
    })

    expect(cloud.emu.faults.pending).toEqual([])
    expect(r.main.code).toBe(1)
    expect(errorLines(r.main)).toEqual([
      expect.stringMatching(/^::error::Delete source VM failed: .*The VM is locked/)
    ])
    expect(cloud.writesSince(before).map(short)).toEqual([
      'POST virtualMachines/after-vm/deallocate',
      'POST virtualMachines/after-vm/generalize',
      'PUT images/after-img',
      'PUT galleries/fail_gallery/images/after-def',
      'PUT galleries/fail_gallery/images/after-def/versions/4.0.0',
      'DELETE virtualMachines/after-vm'
    ])
    // Both succeeded and left the ledger: nothing for either cleanup to touch.
    expect(ledgerEntries(r.state.ledger)).toEqual([])
    expect(postLines(r)).toContain('Post: nothing this run created is left to clean up.')
    const image = cloud.emu.resources.get(imageId('after-img')) as Body
    expect(image.properties.provisioningState).toBe('Succeeded')
    const published = cloud.emu.resources.get(versionId('after-def', version)) as Body
    expect(published.properties.provisioningState).toBe('Succeeded')
    expect(published.properties.storageProfile.source.id).toBe(imageId('after-img'))
  })

  describe('upload mode', () => {
    const up = useUploadCloud('failures-tag')

    it('leaves alone an upload disk that no longer carries this run’s tag', async () => {
      const path = up.path('os.raw')
      await writeRawImage(path, 20 * MiB, [{ offset: 0, length: MiB }])
      const disk = 'dforeign-img-upload-9000001-os'
      const diskId = up.diskId(disk)
      // The image PUT waits at the emulator (then fails); meanwhile the disk's tag is changed to
      // another run's, so by the time cleanup reads it, the disk is not this run's.
      up.cloud.emu.faults.add({
        method: 'PUT',
        path: /\/images\/dforeign-img\?/,
        delayMs: 300,
        failOperation: { code: 'InvalidVhd', message: 'The VHD is not a valid OS disk.' }
      })
      let retagged = false
      const stop = up.cloud.whenRequest(
        q => q.method === 'PUT' && /\/images\/dforeign-img$/.test(q.path),
        () => {
          const body = up.cloud.emu.resources.get(diskId) as Body
          // Another job's now: its run id and its owner key (issue 14: cleanup keys on the latter).
          body.tags = { ...body.tags, 'github-run-id': '1', 'github-owner-key': 'another-job' }
          retagged = true
        }
      )
      const before = up.cloud.emu.requests.length
      const r = await up.run({ vhd: path, 'image-name': 'dforeign-img' }).finally(stop)

      expect(retagged).toBe(true)
      expect(up.cloud.emu.faults.pending).toEqual([])
      expect(r.main.code).toBe(1)
      expect(errorLines(r.main)).toEqual([
        expect.stringMatching(/^::error::Managed image failed: InvalidVhd/)
      ])
      // The failed image (this run's) is deleted; the disk, now another run's, is not.
      const writes = up.cloud.writesSince(before)
      expect(writes.map(short)).toEqual([
        `PUT disks/${disk}`,
        `POST disks/${disk}/beginGetAccess`,
        `POST disks/${disk}/endGetAccess`,
        // Tagged complete once its bytes and footer are in (managed-disk-destination.ts, chaosfix).
        `PATCH disks/${disk}`,
        'PUT images/dforeign-img',
        'DELETE images/dforeign-img'
      ])
      expect(r.main.stdout).toContain("Cleanup: deleted unfinished managed image 'dforeign-img'")
      expect(r.main.stdout).toContain(
        `Cleanup: disk '${disk}' is not this job's (owner key): left alone`
      )
      const left = up.cloud.emu.resources.get(diskId) as Body
      expect(left.tags['github-run-id']).toBe('1')
      expect(ledgerEntries(r.state.ledger)).toEqual([])
      expect(postLines(r)).toContain('Post: nothing this run created is left to clean up.')
    })
  })
})
