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
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { errorLines, runAction } from '../support/action-runner.js'
import { startLocalCloud, type LocalCloud } from '../support/cloud.js'
import { MiB, expectedSha256, writeRawImage, type Write } from '../upload-it/fixtures.js'

let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'upload-sas-resume-'))
})
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const VIRTUAL = 32 * MiB
const WRITES: Write[] = Array.from({ length: 10 }, (_, i) => ({
  offset: i * 3 * MiB,
  length: MiB
}))

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

function setup(options: { diskSasLifetimeSeconds?: number }) {
  const ctx: { cloud?: LocalCloud } = {}
  beforeAll(async () => {
    ctx.cloud = await startLocalCloud({
      withStorage: true,
      lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 },
      ...options
    })
    ctx.cloud.emu.addResourceGroup('build-rg', 'westeurope')
  })
  afterAll(async () => {
    await ctx.cloud?.close()
  })
  return () => ctx.cloud!
}

function inputs(cloud: LocalCloud, vhd: string, imageName: string, extra: Record<string, string>) {
  return {
    ...cloud.inputs,
    'resource-group': 'build-rg',
    'os-type': 'Linux',
    vhd,
    'image-name': imageName,
    'keep-upload': 'true',
    ...extra
  }
}

const diskIdOf = (cloud: LocalCloud, name: string): string =>
  `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/build-rg/providers/Microsoft.Compute/disks/${name}`

describe('a write SAS that ends during the upload', () => {
  const cloud = setup({ diskSasLifetimeSeconds: 2 })

  it('is granted again and the refused page write sent again; the disk holds the file', async () => {
    const c = cloud()
    const proxy = c.storageProxy!
    const path = join(dir, 'renewed.raw')
    await writeRawImage(path, VIRTUAL, WRITES)
    // The first Put Page reaches the blob service after its SAS has ended.
    proxy.faults.add({ delayMs: 3000, times: 1 })
    const before = c.emu.requests.length
    const writesBefore = proxy.pageWrites.length
    const run = await runAction({
      inputs: inputs(c, path, 'renewed', { 'upload-concurrency': '2' }),
      env: c.env
    })
    proxy.faults.clear()
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.code).toBe(0)
    const diskId = diskIdOf(c, 'renewed-upload-9000001-os')
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
  const cloud = setup({})

  it('reads back what the killed attempt wrote and sends again what differs from the file', async () => {
    const c = cloud()
    const proxy = c.storageProxy!
    const path = join(dir, 'resumed.raw')
    await writeRawImage(path, VIRTUAL, WRITES)
    const diskName = 'resumed-upload-9000001-os'
    const diskId = diskIdOf(c, diskName)

    // Attempt 1 is killed outright after a few page writes landed: the runner died, no post step.
    proxy.faults.add({ delayMs: 300, times: 1000 })
    const first = proxy.pageWrites.length
    const landed = () => proxy.pageWrites.slice(first).filter(w => w.status === 201)
    const attempt1 = await runAction({
      inputs: inputs(c, path, 'resumed', { 'upload-concurrency': '1' }),
      env: c.env,
      post: false,
      signalWhen: { when: () => landed().length >= 4, signal: 'SIGKILL' }
    })
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
    const attempt2 = await runAction({
      inputs: inputs(c, path, 'resumed', { 'upload-concurrency': '1' }),
      env: c.env,
      runAttempt: 2
    })
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
