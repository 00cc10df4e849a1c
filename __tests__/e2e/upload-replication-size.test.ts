/**
 * Upload mode into a gallery with Full replication (real-azure.md row 9, issue 8 point 9): Full
 * replication copies source disks of at most 2048 GiB ("The image size should be less than 2 TB,
 * but you can use shallow replication …", azure-compute-gallery.md); Azure fails a bigger one in
 * replication, hours after the upload ("The GalleryImageVersion source resource size 2520 exceeds
 * the max size 2048 supported", troubleshooting-shared-images.md). The action refuses it before
 * any write, naming `replication-mode`. The image is a sparse raw file: its size is real, its
 * bytes are never read.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { errorLines, runAction } from '../support/action-runner.js'
import { startLocalCloud, type LocalCloud } from '../support/cloud.js'
import { MiB, writeRawImage } from '../upload-it/fixtures.js'

const RG = 'build-rg'
const GALLERY = 'golden_gallery'
const GiB = 1024 * MiB

let cloud: LocalCloud
let dir: string

beforeAll(async () => {
  cloud = await startLocalCloud({ lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 } })
  cloud.emu.addResourceGroup(RG, 'westeurope')
  cloud.emu.addGallery(RG, GALLERY, 'westeurope')
  dir = mkdtempSync(join(tmpdir(), 'upload-replication-size-'))
})
afterAll(async () => {
  await cloud?.close()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('an uploaded disk over 2048 GiB into a gallery', () => {
  it('is refused with Full replication before any write, naming replication-mode', async () => {
    cloud.emu.addGalleryImage({
      resourceGroup: RG,
      gallery: GALLERY,
      name: 'big-upload',
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V2'
    })
    const path = join(dir, 'big.raw')
    await writeRawImage(path, 2100 * GiB, [{ offset: 0, length: MiB }])
    const before = cloud.emu.requests.length
    const run = await runAction({
      inputs: {
        ...cloud.inputs,
        'resource-group': RG,
        'os-type': 'Linux',
        vhd: path,
        gallery: GALLERY,
        'gallery-image': 'big-upload',
        'gallery-image-version': '1.0.0'
      },
      env: cloud.env
    })
    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(
      /replication-mode 'Full' copies disks of at most 2048 GiB, but '[^']+' is 2100 GiB: set replication-mode: Shallow/
    )
    // Nothing was created: no disk, no grant, no version.
    expect(cloud.emu.writes().filter(w => cloud.emu.requests.indexOf(w) >= before)).toEqual([])
  })
})
