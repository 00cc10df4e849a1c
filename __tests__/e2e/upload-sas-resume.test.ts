/**
 * Direct upload to a managed disk over a long time, end to end on the bundled action (issue 14):
 * - The write SAS lives only as long as needed and is granted again when it ends. The emulator's
 *   test knob `diskSasLifetimeSeconds` ends each disk SAS after 2 s (Azure honours the hour the
 *   action asks for; README "Test knobs"), and the proxy holds the first Put Page past that: the
 *   blob service refuses it, the action grants write access again and sends it once more.
 * - A resumed upload trusts the service's page ranges for where data is, never for what it is:
 *   what an earlier attempt (killed outright, so no post step) left is read back, and a range whose
 *   content differs from the file is sent again.
 * Evidence: the emulator's request log (grants), the proxy's log of page writes, the disk's bytes.
 */
import { describe, expect, it } from '@jest/globals'
import { errorLines } from '../support/action-runner.js'
import { sha256, useUploadCloud } from '../support/upload-run.js'
import { MiB, expectedSha256, writeRawImage, type Write } from '../upload-it/fixtures.js'

const VIRTUAL = 32 * MiB
const WRITES: Write[] = Array.from({ length: 10 }, (_, i) => ({
  offset: i * 3 * MiB,
  length: MiB
}))

/** The disk is kept: each case reads its bytes after the run. */
const KEEP = { 'keep-upload': 'true' }

describe('a write SAS that ends during the upload', () => {
  const up = useUploadCloud('upload-sas-resume', { diskSasLifetimeSeconds: 2 })

  it('is granted again and the refused page write sent again; the disk holds the file', async () => {
    const c = up.cloud
    const proxy = c.storageProxy!
    const path = up.path('renewed.raw')
    await writeRawImage(path, VIRTUAL, WRITES)
    // The first Put Page reaches the blob service after its SAS has ended.
    proxy.faults.add({ delayMs: 3000, times: 1 })
    const before = c.emu.requests.length
    const writesBefore = proxy.pageWrites.length
    const run = await up.run({
      ...KEEP,
      vhd: path,
      'image-name': 'renewed',
      'upload-concurrency': '2'
    })
    proxy.faults.clear()
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.code).toBe(0)
    const diskId = up.diskId('renewed-upload-9000001-os')
    const grants = c.emu.requests
      .slice(before)
      .filter(r => r.method === 'POST' && r.path === `${diskId}/beginGetAccess`)
    expect(grants.length).toBeGreaterThanOrEqual(2)
    const pageWrites = proxy.pageWrites.slice(writesBefore)
    const refused = pageWrites.filter(w => w.status === 403)
    expect(refused.length).toBeGreaterThanOrEqual(1)
    // Each refused range went through later, with a new SAS.
    for (const r of refused) {
      expect(
        pageWrites.some(
          w => w.status === 201 && w.offset === r.offset && w.count === r.count && w !== r
        )
      ).toBe(true)
    }
    expect(c.emu.requests.slice(before).some(r => r.path === `${diskId}/endGetAccess`)).toBe(true)
    const content = await c.emu.diskBlobClient(diskId).downloadToBuffer()
    expect(sha256(content)).toBe(
      expectedSha256(VIRTUAL, WRITES, content.subarray(content.length - 512))
    )
    expect(run.outputs['image-id']).toMatch(/\/images\/renewed$/)
  }, 120_000)
})

describe('a resumed upload', () => {
  const up = useUploadCloud('upload-sas-resume')

  it('reads back what the killed attempt wrote and sends again what differs from the file', async () => {
    const c = up.cloud
    const proxy = c.storageProxy!
    const path = up.path('resumed.raw')
    await writeRawImage(path, VIRTUAL, WRITES)
    const diskName = 'resumed-upload-9000001-os'
    const diskId = up.diskId(diskName)

    // Attempt 1 is killed outright after a few page writes landed: the runner died, no post step.
    proxy.faults.add({ delayMs: 300, times: 1000 })
    const first = proxy.pageWrites.length
    const landed = () => proxy.pageWrites.slice(first).filter(w => w.status === 201)
    const attempt1 = await up.run(
      { ...KEEP, vhd: path, 'image-name': 'resumed', 'upload-concurrency': '1' },
      { post: false, signalWhen: { when: () => landed().length >= 4, signal: 'SIGKILL' } }
    )
    proxy.faults.clear()
    expect(attempt1.main.signal).toBe('SIGKILL')
    expect(c.emu.resources.get(diskId)?.properties.diskState).toBe('ActiveUpload')

    // Something else changed the first range the attempt wrote: same page ranges, other bytes.
    const attempt1Writes = landed()
    const tampered = attempt1Writes[0]
    const blob = c.emu.diskBlobClient(diskId)
    const tamperLength = 64 * 1024
    await blob.uploadPages(Buffer.alloc(tamperLength, 0xee), tampered.offset!, tamperLength)

    const writesBefore = proxy.pageWrites.length
    const attempt2 = await up.run(
      { ...KEEP, vhd: path, 'image-name': 'resumed', 'upload-concurrency': '1' },
      { runAttempt: 2 }
    )
    expect(errorLines(attempt2.main)).toEqual([])
    expect(attempt2.main.code).toBe(0)
    expect(attempt2.main.stdout).toMatch(
      new RegExp(`Resuming the upload into disk '${diskName}' left by an earlier attempt`)
    )
    expect(attempt2.main.stdout).toMatch(/sent again because the target held other content there/)
    // The tampered range was written again; the ranges that still matched were not.
    const again = proxy.pageWrites.slice(writesBefore).filter(w => w.pageWrite === 'update')
    expect(
      again.some(
        w =>
          w.status === 201 &&
          w.offset! <= tampered.offset! &&
          w.offset! + w.count! >= tampered.offset! + tamperLength
      )
    ).toBe(true)
    const untouched = attempt1Writes.slice(1)
    expect(untouched.length).toBeGreaterThan(0)
    for (const w of untouched) {
      expect(again.some(a => a.offset === w.offset && a.count === w.count)).toBe(false)
    }
    const content = await blob.downloadToBuffer()
    expect(sha256(content)).toBe(
      expectedSha256(VIRTUAL, WRITES, content.subarray(content.length - 512))
    )
  }, 180_000)
})
