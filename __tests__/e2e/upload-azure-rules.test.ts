/**
 * Upload-mode rules real Azure applies, on the bundled action against the emulator that applies
 * them: an Arm64 upload disk says so (`supportedCapabilities.architecture`) and the gallery version
 * made from it keeps it; an image from a page blob is made only in the storage account's region, so
 * an account elsewhere is refused before anything is uploaded.
 */
import { describe, expect, it } from '@jest/globals'
import { errorLines } from '../support/action-runner.js'
import { useUploadCloud } from '../support/upload-run.js'
import { MiB, writeRawImage } from '../upload-it/fixtures.js'

const up = useUploadCloud('upload-rules')

describe('Arm64 uploads', () => {
  it('the upload disk carries supportedCapabilities.architecture and the version keeps Arm64', async () => {
    const os = up.path('arm64.raw')
    await writeRawImage(os, 32 * MiB, [{ offset: 0, length: MiB }])
    up.cloud.emu.addGallery('build-rg', 'arm_gallery', 'westeurope')
    const before = up.cloud.emu.requests.length
    const run = await up.run({
      vhd: os,
      architecture: 'Arm64',
      'hyper-v-generation': 'V2',
      gallery: 'arm_gallery',
      'gallery-image': 'arm-image',
      'create-gallery-image': 'true',
      'gallery-image-version': '1.0.0'
    })
    expect(errorLines(run.main)).toEqual([])
    const writes = up.cloud.writesSince(before)
    const diskPut = writes.find(
      w => w.method === 'PUT' && /\/disks\/arm-image-upload-/.test(w.path)
    )
    expect((diskPut?.body as any).properties.supportedCapabilities).toEqual({
      architecture: 'Arm64'
    })
    // The write SAS is granted for one hour (renewed while an upload runs), not timeout-minutes + 15.
    const grants = writes.filter(w => w.path.endsWith('/beginGetAccess'))
    expect(grants.map(w => w.body)).toEqual([{ access: 'Write', durationInSeconds: 3600 }])
    const definition = writes.find(w => w.method === 'PUT' && w.path.endsWith('/images/arm-image'))
    expect((definition?.body as any).properties.architecture).toBe('Arm64')
    const versionId = run.outputs['gallery-image-version-id']
    expect(up.cloud.emu.resources.state(versionId)?.facts.architecture).toBe('Arm64')
  })
})

describe('storage-account uploads are made in the account region', () => {
  it('an account in another region than the image is refused before any write, naming location', async () => {
    up.addStorageAccount('northeurope')
    const os = up.path('elsewhere.raw')
    await writeRawImage(os, 32 * MiB, [{ offset: 0, length: MiB }])
    const before = up.cloud.emu.requests.length
    const run = await up.run({
      vhd: os,
      'upload-via': 'storage-account',
      'storage-account': 'devstoreaccount1',
      'image-name': 'elsewhere'
    })
    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toEqual([
      "::error::Storage account 'devstoreaccount1' is in northeurope, but 'location' is not set, so it is the resource group's region, westeurope: Azure makes an image or gallery version from a page blob only in the blob's region. Set 'location: northeurope', or use a storage account in westeurope."
    ])
    expect(up.cloud.writesSince(before)).toEqual([])

    // Following the advice works: the image is made in the account's region.
    const again = await up.run({
      vhd: os,
      'upload-via': 'storage-account',
      'storage-account': 'devstoreaccount1',
      'image-name': 'elsewhere',
      location: 'northeurope'
    })
    expect(errorLines(again.main)).toEqual([])
    expect(again.outputs.location).toBe('northeurope')
    expect(up.cloud.emu.resources.get(again.outputs['image-id'])?.location).toBe('northeurope')
  })
})
