/**
 * Found by the chaos campaign (`npm run chaos -- --replay 786474695`, issue 12): main was killed
 * (SIGKILL, so no post step) after its upload disk was finished (write access revoked: Unattached)
 * while the image was being made from it. The re-run attempt (same owner key) refused that disk as
 * "not an unfinished upload of this file by this run", failed, and the disk was left behind.
 * A re-run attempt must reuse or clean up what its own earlier attempt made:
 * - a finished disk proven to hold the file (tagged complete after the revoke that followed the whole
 *   upload, same size, same source identity) is reused: nothing sent again, deleted at the end;
 * - a finished disk not proven so (killed between the revoke and the tag) is the job's own: it is
 *   deleted and the file sent again.
 * Evidence: the emulator's request log and resources, the storage proxy's page writes, the bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { errorLines, runAction, type ActionRun } from '../support/action-runner.js'
import { startLocalCloud, type LocalCloud } from '../support/cloud.js'
import type { Body } from '../emulator/index.js'
import { MiB, expectedSha256, writeRawImage, type Write } from '../upload-it/fixtures.js'

let cloud: LocalCloud
let dir: string

beforeAll(async () => {
  cloud = await startLocalCloud({
    withStorage: true,
    lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 }
  })
  cloud.emu.addResourceGroup('build-rg', 'westeurope')
  dir = mkdtempSync(join(tmpdir(), 'chaos-finished-disk-'))
})
afterAll(async () => {
  await cloud.close()
  rmSync(dir, { recursive: true, force: true })
})

const VIRTUAL = 24 * MiB
const WRITES: Write[] = [
  { offset: MiB, length: MiB },
  { offset: 9 * MiB, length: 2 * MiB }
]
const compute = (): string =>
  `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/build-rg/providers/Microsoft.Compute`

function inputs(vhd: string, image: string, extra: Record<string, string> = {}) {
  return {
    ...cloud.inputs,
    'resource-group': 'build-rg',
    'os-type': 'Linux',
    vhd,
    'image-name': image,
    ...extra
  }
}

/**
 * Attempt 1, killed outright (no post step) as the first write that `killOn` matches after the
 * disk's write access was revoked reaches Azure; that write is dropped, never carried out.
 */
async function killedAfterRevoke(
  vhd: string,
  image: string,
  killOn: RegExp,
  extra: Record<string, string> = {},
  /** The matched write is carried out and only its answer lost (else it is dropped unseen). */
  carriedOut = false
): Promise<ActionRun> {
  const diskId = `${compute()}/disks/${image}-upload-9000001-os`
  let kill = false
  cloud.emu.faults.add({
    observe: true,
    method: 'POST',
    path: new RegExp(`${diskId}/endGetAccess`),
    onMatch: () => {
      cloud.emu.faults.add({
        path: killOn,
        ...(carriedOut ? { dropResponse: true } : { drop: true }),
        times: 1000,
        onMatch: () => {
          kill = true
        }
      })
    }
  })
  try {
    return await runAction({
      inputs: inputs(vhd, image, extra),
      env: cloud.env,
      post: false,
      signalWhen: { when: () => kill, signal: 'SIGKILL' }
    })
  } finally {
    cloud.emu.faults.clear()
  }
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

describe('a re-run attempt after main was killed with its upload disk finished', () => {
  it('reuses the disk the earlier attempt finished and marked complete, then deletes it', async () => {
    const image = 'reused'
    const vhd = join(dir, `${image}.raw`)
    await writeRawImage(vhd, VIRTUAL, WRITES)
    const diskId = `${compute()}/disks/${image}-upload-9000001-os`
    const imageId = `${compute()}/images/${image}`

    // Killed as it asks for the image: the disk is finished (Unattached) and nothing cleaned up.
    const attempt1 = await killedAfterRevoke(vhd, image, new RegExp(`/images/${image}(\\?|$)`))
    expect(attempt1.main.signal).toBe('SIGKILL')
    expect(cloud.emu.resources.get(diskId)?.properties.diskState).toBe('Unattached')
    expect(cloud.emu.resources.get(imageId)).toBeUndefined()

    const before = cloud.emu.requests.length
    const pagesBefore = cloud.storageProxy!.pageWrites.length
    const attempt2 = await runAction({ inputs: inputs(vhd, image), env: cloud.env, runAttempt: 2 })
    expect(errorLines(attempt2.main)).toEqual([])
    expect(attempt2.main.code).toBe(0)
    expect(attempt2.post?.code).toBe(0)
    expect(attempt2.main.stdout).toContain(
      `Reusing disk '${image}-upload-9000001-os': an earlier attempt of this run uploaded this file into it`
    )
    // Nothing sent again, no new disk: the image was made from the earlier attempt's disk.
    expect(cloud.storageProxy!.pageWrites.length).toBe(pagesBefore)
    const writes = cloud.writesSince(before)
    expect(writes.filter(w => w.path === diskId && w.method === 'PUT')).toEqual([])
    const imagePut = writes.find(w => w.path === imageId && w.method === 'PUT')
    expect(
      (imagePut?.body as Body | undefined)?.properties.storageProfile.osDisk.managedDisk.id
    ).toBe(diskId)
    expect(attempt2.outputs['image-id']).toBe(imageId)
    expect(attempt2.outputs['uploaded-bytes']).toBe('0')
    expect(cloud.emu.resources.get(imageId)?.properties.provisioningState).toBe('Succeeded')
    // Nothing the job made is left but the image: the reused disk was deleted at the end.
    expect(cloud.emu.resources.get(diskId)).toBeUndefined()
  }, 120_000)

  it('killed once the image was asked for: reuses the image and deletes the earlier attempt’s upload disk', async () => {
    // Chaos seed 1628895111: the image PUT was carried out, then main killed; the re-run attempt
    // found the image made, reused it with nothing to upload, and left the finished upload disk.
    const image = 'image-made'
    const vhd = join(dir, `${image}.raw`)
    await writeRawImage(vhd, VIRTUAL, WRITES)
    const diskId = `${compute()}/disks/${image}-upload-9000001-os`
    const imageId = `${compute()}/images/${image}`
    const attempt1 = await killedAfterRevoke(
      vhd,
      image,
      new RegExp(`/images/${image}(\\?|$)`),
      {},
      true
    )
    expect(attempt1.main.signal).toBe('SIGKILL')
    expect(cloud.emu.resources.get(imageId)).toBeDefined()
    expect(cloud.emu.resources.get(diskId)?.properties.diskState).toBe('Unattached')

    const attempt2 = await runAction({ inputs: inputs(vhd, image), env: cloud.env, runAttempt: 2 })
    expect(errorLines(attempt2.main)).toEqual([])
    expect(attempt2.main.code).toBe(0)
    expect(attempt2.post?.code).toBe(0)
    expect(attempt2.main.stdout).toContain('Every target was created by an earlier attempt')
    expect(attempt2.outputs['image-id']).toBe(imageId)
    expect(cloud.emu.resources.get(imageId)?.properties.provisioningState).toBe('Succeeded')
    expect(cloud.emu.resources.get(diskId)).toBeUndefined()
  }, 120_000)

  it('deletes a finished disk not marked complete and sends the file again', async () => {
    const image = 'unmarked'
    const vhd = join(dir, `${image}.raw`)
    await writeRawImage(vhd, VIRTUAL, WRITES)
    const diskId = `${compute()}/disks/${image}-upload-9000001-os`
    const imageId = `${compute()}/images/${image}`

    // Killed on the first write after the revoke (the image, or the disk's tag once it has one):
    // the disk is Unattached and carries no proof that it holds the whole file.
    const killOn = new RegExp(`(/disks/${image}-upload-9000001-os|/images/${image})(\\?|$)`)
    const keep = { 'keep-upload': 'true' }
    const attempt1 = await killedAfterRevoke(vhd, image, killOn, keep)
    expect(attempt1.main.signal).toBe('SIGKILL')
    expect(cloud.emu.resources.get(diskId)?.properties.diskState).toBe('Unattached')
    expect(cloud.emu.resources.get(diskId)?.tags?.vhduploadcomplete).toBeUndefined()

    const before = cloud.emu.requests.length
    const pagesBefore = cloud.storageProxy!.pageWrites.length
    const attempt2 = await runAction({
      inputs: inputs(vhd, image, keep),
      env: cloud.env,
      runAttempt: 2
    })
    expect(errorLines(attempt2.main)).toEqual([])
    expect(attempt2.main.code).toBe(0)
    expect(attempt2.post?.code).toBe(0)
    // Deleted, then made and filled again.
    const diskWrites = cloud
      .writesSince(before)
      .filter(w => w.path === diskId)
      .map(w => w.method)
    expect(diskWrites.slice(0, 2)).toEqual(['DELETE', 'PUT'])
    expect(
      cloud.storageProxy!.pageWrites.slice(pagesBefore).filter(w => w.status === 201).length
    ).toBeGreaterThan(0)
    expect(cloud.emu.resources.get(imageId)?.properties.provisioningState).toBe('Succeeded')
    // Kept as asked (keep-upload), holding exactly the file, and now marked complete.
    const disk = cloud.emu.resources.get(diskId)
    expect(disk?.tags?.vhduploadcomplete).toBe('true')
    const content = await cloud.emu.diskBlobClient(diskId).downloadToBuffer()
    expect(sha256(content)).toBe(
      expectedSha256(VIRTUAL, WRITES, content.subarray(content.length - 512))
    )
  }, 120_000)
})
