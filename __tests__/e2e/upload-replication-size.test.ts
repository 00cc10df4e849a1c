/**
 * Upload mode into a gallery with Full replication (real-azure.md row 9, issue 8 point 9): Full
 * replication copies source disks of at most 2048 GiB ("The image size should be less than 2 TB,
 * but you can use shallow replication …", azure-compute-gallery.md); Azure fails a bigger one in
 * replication, hours after the upload ("The GalleryImageVersion source resource size 2520 exceeds
 * the max size 2048 supported", troubleshooting-shared-images.md). The action refuses it before
 * any write, naming `replication-mode`. The image is a sparse raw file: its size is real, its
 * bytes are never read.
 */
import { beforeAll, describe, expect, it } from '@jest/globals'
import { errorLines } from '../support/action-runner.js'
import { UPLOAD_LOCATION, UPLOAD_RG, useUploadCloud } from '../support/upload-run.js'
import { MiB, writeRawImage } from '../upload-it/fixtures.js'

const GALLERY = 'golden_gallery'
const GiB = 1024 * MiB

// Refused before any write: no blob service needed.
const up = useUploadCloud('upload-replication-size', { withStorage: false })
beforeAll(() => void up.cloud.emu.addGallery(UPLOAD_RG, GALLERY, UPLOAD_LOCATION))

describe('an uploaded disk over 2048 GiB into a gallery', () => {
  it('is refused with Full replication before any write, naming replication-mode', async () => {
    up.cloud.emu.addGalleryImage({
      resourceGroup: UPLOAD_RG,
      gallery: GALLERY,
      name: 'big-upload',
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V2'
    })
    const path = up.path('big.raw')
    await writeRawImage(path, 2100 * GiB, [{ offset: 0, length: MiB }])
    const before = up.cloud.emu.requests.length
    const run = await up.run({
      vhd: path,
      gallery: GALLERY,
      'gallery-image': 'big-upload',
      'gallery-image-version': '1.0.0'
    })
    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(
      /replication-mode 'Full' copies disks of at most 2048 GiB, but '[^']+' is 2100 GiB: set replication-mode: Shallow/
    )
    // Nothing was created: no disk, no grant, no version.
    expect(up.cloud.writesSince(before)).toEqual([])
  })
})
