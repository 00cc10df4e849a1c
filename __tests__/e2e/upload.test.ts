/**
 * Upload mode on the bundled action: disk image files go through the ARM emulator's upload disks
 * (real page blobs in Azurite behind a write SAS) or into a storage account, then become images.
 * Evidence: the blob's bytes (hashed), the bytes the action says it sent, and the request log.
 */
import { describe, expect, it } from '@jest/globals'
import { truncateSync, writeFileSync } from 'node:fs'
import { errorLines, ledgerEntries } from '../support/action-runner.js'
import { sha256, useUploadCloud } from '../support/upload-run.js'
import {
  MiB,
  expectedSha256,
  nonZeroBytes,
  writeDynamicVhd,
  writeFixedVhd,
  writeRawImage,
  type Write
} from '../upload-it/fixtures.js'
import { parseVhdFooter, toFixedVhdFooter, vhdChecksum } from '../../src/upload/vhd-footer.js'

const up = useUploadCloud('upload-e2e')

const VIRTUAL = 64 * MiB
/** Scattered data: unaligned extents and single sectors, so trimming inside chunks matters. */
const WRITES: Write[] = [
  { offset: 0, length: 1 * MiB },
  { offset: 5 * MiB + 4096, length: 3 * MiB + 512 },
  { offset: 20 * MiB + 512, length: 512 },
  { offset: 33 * MiB, length: 64 * 1024 },
  { offset: 63 * MiB, length: 1 * MiB }
]
/** What trimming at 64 KiB may add per extent, plus the footer. */
const SLACK = WRITES.length * 2 * 64 * 1024 + 512

async function blobSha256(diskId: string): Promise<{ sha: string; footer: Buffer }> {
  const content = await up.cloud.emu.diskBlobClient(diskId).downloadToBuffer()
  return { sha: sha256(content), footer: content.subarray(content.length - 512) }
}

describe('upload via a managed disk', () => {
  it.each([
    ['fixed VHD', 'fixed.vhd'],
    ['dynamic VHD', 'dynamic.vhd'],
    ['raw image', 'disk.raw']
  ])('%s round-trips to byte-identical disk content, sending only the data', async (kind, file) => {
    const path = up.path(file)
    let footer: Buffer | undefined
    if (kind === 'fixed VHD') footer = await writeFixedVhd(path, VIRTUAL, WRITES)
    else if (kind === 'dynamic VHD')
      footer = toFixedVhdFooter(await writeDynamicVhd(path, VIRTUAL, WRITES))
    else await writeRawImage(path, VIRTUAL, WRITES)
    const image = `img-${file.replace('.', '-')}`
    const before = up.cloud.emu.requests.length
    const run = await up.run({
      vhd: path,
      'image-name': image,
      'keep-upload': 'true',
      'hyper-v-generation': 'V2'
    })
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.code).toBe(0)

    const diskName = `${image}-upload-9000001-os`
    const diskId = up.diskId(diskName)
    const writes = up.cloud.writesSince(before)
    const diskPut = writes.find(w => w.method === 'PUT' && w.path === diskId)
    expect((diskPut?.body as any).properties.creationData).toEqual({
      createOption: 'Upload',
      uploadSizeBytes: VIRTUAL + 512
    })
    expect((diskPut?.body as any).sku).toEqual({ name: 'Standard_LRS' })
    const grant = writes.find(w => w.path === `${diskId}/beginGetAccess`)
    expect(grant?.body).toMatchObject({ access: 'Write' })
    expect(writes.some(w => w.path === `${diskId}/endGetAccess`)).toBe(true)
    const imagePut = writes.find(w => w.method === 'PUT' && w.path.endsWith(`/images/${image}`))
    expect((imagePut?.body as any).properties).toMatchObject({
      hyperVGeneration: 'V2',
      storageProfile: {
        osDisk: { osType: 'Linux', osState: 'Generalized', managedDisk: { id: diskId } }
      }
    })

    const { sha, footer: written } = await blobSha256(diskId)
    const parsed = parseVhdFooter(written)
    expect(parsed.cookie).toBe('conectix')
    expect(parsed.diskType).toBe(2)
    expect(parsed.currentSize).toBe(VIRTUAL)
    expect(parsed.checksum).toBe(vhdChecksum(written))
    expect(sha).toBe(expectedSha256(VIRTUAL, WRITES, footer ?? written))

    const sent = Number(run.outputs['uploaded-bytes'])
    expect(sent).toBeGreaterThanOrEqual(nonZeroBytes(WRITES) + 512)
    expect(sent).toBeLessThanOrEqual(nonZeroBytes(WRITES) + SLACK)
    expect(run.outputs['image-id']).toMatch(new RegExp(`/images/${image}$`))
    expect(run.outputs.location).toBe('westeurope')
    expect(run.summary).toContain('Kept the upload disk')
    const format = { 'fixed VHD': 'fixed-vhd', 'dynamic VHD': 'dynamic-vhd', 'raw image': 'raw' }[
      kind
    ]
    expect(run.summary).toMatch(
      new RegExp(`### Upload[\\s\\S]*\\| OS disk \\| ${format} \\| 0\\.06 GiB \\|`)
    )
  })

  it('deletes the temporary disks once the image exists, data disks on their LUNs', async () => {
    const os = up.path('os.raw')
    const data0 = up.path('data0.raw')
    const data1 = up.path('data1.vhd')
    await writeRawImage(os, 32 * MiB, [{ offset: 0, length: MiB }])
    await writeRawImage(data0, 24 * MiB, [{ offset: 2 * MiB, length: 4096 }])
    await writeFixedVhd(data1, 40 * MiB, [{ offset: 8 * MiB, length: 2 * MiB }])
    const before = up.cloud.emu.requests.length
    const run = await up.run({
      vhd: os,
      'data-vhds': `${data0}\n${data1}`,
      'image-name': 'with-data'
    })
    expect(errorLines(run.main)).toEqual([])
    const names = ['os', 'lun0', 'lun1'].map(l => `with-data-upload-9000001-${l}`)
    const imagePut = up.cloud
      .writesSince(before)
      .find(w => w.method === 'PUT' && w.path.endsWith('/images/with-data'))
    expect((imagePut?.body as any).properties.storageProfile.dataDisks).toEqual([
      { lun: 0, managedDisk: { id: up.diskId(names[1]) } },
      { lun: 1, managedDisk: { id: up.diskId(names[2]) } }
    ])
    for (const name of names) {
      expect(
        up.cloud.writesSince(before).some(w => w.method === 'DELETE' && w.path === up.diskId(name))
      ).toBe(true)
      expect(up.cloud.emu.resources.get(up.diskId(name))).toBeUndefined()
    }
    expect(Number(run.outputs['uploaded-bytes'])).toBeLessThanOrEqual(
      MiB + 4096 + 2 * MiB + 3 * (64 * 1024 + 512)
    )
  })

  it('revokes access and deletes the disk when the image fails, then a re-run succeeds', async () => {
    const path = up.path('fail.raw')
    await writeRawImage(path, 32 * MiB, [{ offset: MiB, length: MiB }])
    up.cloud.emu.faults.add({
      method: 'PUT',
      path: /\/images\/fails-once\?/,
      failOperation: { code: 'InternalOperationError', message: 'Injected failure.' }
    })
    const before = up.cloud.emu.requests.length
    const run = await up.run({ vhd: path, 'image-name': 'fails-once' }, { runId: '9100001' })
    expect(run.main.code).toBe(1)
    expect(errorLines(run.main)[0]).toContain('InternalOperationError')
    const diskId = up.diskId('fails-once-upload-9100001-os')
    const writes = up.cloud.writesSince(before)
    expect(writes.some(w => w.path === `${diskId}/endGetAccess`)).toBe(true)
    expect(writes.some(w => w.method === 'DELETE' && w.path === diskId)).toBe(true)
    expect(up.cloud.emu.resources.get(diskId)).toBeUndefined()
    expect(ledgerEntries(run.state.ledger).filter((e: any) => e.kind === 'upload-disk')).toEqual([])

    const again = await up.run(
      { vhd: path, 'image-name': 'fails-once' },
      { runId: '9100001', runAttempt: 2 }
    )
    expect(errorLines(again.main)).toEqual([])
    expect(again.outputs['image-id']).toMatch(/\/images\/fails-once$/)
  })

  it('resumes a killed upload, sending only what is missing', async () => {
    const path = up.path('resume.raw')
    const writes: Write[] = Array.from({ length: 24 }, (_, i) => ({
      offset: i * 2 * MiB,
      length: MiB
    }))
    await writeRawImage(path, 48 * MiB, writes)
    const proxy = up.cloud.storageProxy!
    // Slow page writes so the kill lands half-way.
    proxy.faults.add({ delayMs: 150, times: 1000 })
    // Killed once the proxy has seen 12 requests: with one write in flight, about half the pages.
    const seen = proxy.requests
    // The same inputs as the re-run attempt below: a re-run of a job cannot change them, and the
    // owner key the disk carries is derived from them (issue 14).
    const first = await up.run(
      { vhd: path, 'image-name': 'resumed', 'upload-concurrency': '1', 'keep-upload': 'true' },
      {
        runId: '9200001',
        post: false,
        signalWhen: { when: () => proxy.requests - seen >= 12, signal: 'SIGKILL' }
      }
    )
    proxy.faults.clear()
    expect(first.main.signal).toBe('SIGKILL')
    const diskId = up.diskId('resumed-upload-9200001-os')
    expect((up.cloud.emu.resources.get(diskId) as any).properties.diskState).toBe('ActiveUpload')
    // One range the disk lists as written now holds other bytes (a torn or foreign write): the
    // resumed upload must read it back, see the difference and send it again.
    const blob = up.cloud.emu.diskBlobClient(diskId)
    const listed = await blob.getPageRanges()
    expect(listed.pageRange?.length).toBeGreaterThan(0)
    const bad = listed.pageRange![0]
    await blob.uploadPages(Buffer.alloc(4096, 0xee), bad.offset, 4096)

    const second = await up.run(
      {
        vhd: path,
        'image-name': 'resumed',
        'upload-concurrency': '1',
        'keep-upload': 'true'
      },
      { runId: '9200001', runAttempt: 2 }
    )
    expect(errorLines(second.main)).toEqual([])
    expect(second.main.stdout).toContain('Resuming the upload')
    expect(second.main.stdout).toMatch(/sent again because the target held other content/)
    const sent = Number(second.outputs['uploaded-bytes'])
    expect(sent).toBeGreaterThan(0)
    expect(sent).toBeLessThan(nonZeroBytes(writes))
    const { sha, footer } = await blobSha256(diskId)
    expect(sha).toBe(expectedSha256(48 * MiB, writes, footer))
  })
})

describe('bad disk image files are refused before any call to Azure', () => {
  const cases: Array<[string, (path: string) => void, RegExp]> = [
    [
      'VHDX',
      p => writeFileSync(p, Buffer.concat([Buffer.from('vhdxfile'), Buffer.alloc(64 * 1024)])),
      /VHDX[\s\S]*qemu-img convert -f vhdx -O vpc -o subformat=fixed,force_size/
    ],
    [
      'qcow2',
      p =>
        writeFileSync(
          p,
          Buffer.concat([Buffer.from([0x51, 0x46, 0x49, 0xfb]), Buffer.alloc(64 * 1024)])
        ),
      /qcow2[\s\S]*qemu-img convert -f qcow2/
    ],
    [
      'VMDK',
      p => writeFileSync(p, Buffer.concat([Buffer.from('KDMV'), Buffer.alloc(64 * 1024)])),
      /VMDK[\s\S]*qemu-img convert -f vmdk/
    ],
    [
      'raw size not a multiple of 1 MiB',
      p => {
        writeFileSync(p, Buffer.alloc(0))
        truncateSync(p, 30 * MiB + 1000)
      },
      /not a whole number of MiB[\s\S]*32505856/
    ]
  ]
  it.each(cases)('%s', async (name, make, message) => {
    const path = up.path(`bad-${name.replace(/\W+/g, '-')}.img`)
    make(path)
    const before = up.cloud.emu.requests.length
    const run = await up.run({ vhd: path, 'image-name': 'never' })
    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain(path)
    expect(errors[0].replace(/%0A/g, '\n')).toMatch(message)
    expect(up.cloud.emu.requests.length).toBe(before)
  })
})

describe('upload via a storage account', () => {
  it('writes a page blob, makes the image from its URI, deletes the blob', async () => {
    // Azurite serves one account: the ARM storage account has its name, as in Azure.
    up.addStorageAccount()
    const path = up.path('blob.vhd')
    const footer = await writeFixedVhd(path, VIRTUAL, WRITES)
    const before = up.cloud.emu.requests.length
    const run = await up.run({
      vhd: path,
      'image-name': 'from-blob',
      'upload-via': 'storage-account',
      'storage-account': 'devstoreaccount1',
      'keep-upload': 'true'
    })
    expect(errorLines(run.main)).toEqual([])
    // Azurite here is plain http on this machine: no Entra ID token goes there, the account key is read.
    expect(run.main.stdout).toMatch(
      /using the account key read through ARM \(listKeys\): its blob endpoint on this machine is plain http/
    )
    expect(
      up.cloud.writesSince(before).filter(w => w.method === 'POST' && w.path.endsWith('/listKeys'))
    ).toHaveLength(1)
    const imagePut = up.cloud
      .writesSince(before)
      .find(w => w.method === 'PUT' && w.path.endsWith('/images/from-blob'))
    const blobUri: string = (imagePut?.body as any).properties.storageProfile.osDisk.blobUri
    expect(blobUri).toMatch(/\/vhds\/from-blob-9000001-os\.vhd$/)
    const content = await up.blob('from-blob-9000001-os.vhd').downloadToBuffer()
    expect(sha256(content)).toBe(expectedSha256(VIRTUAL, WRITES, footer))
    expect(Number(run.outputs['uploaded-bytes'])).toBeLessThanOrEqual(nonZeroBytes(WRITES) + SLACK)

    // Without keep-upload the blob is gone afterwards.
    const second = await up.run({
      vhd: path,
      'image-name': 'from-blob-2',
      'upload-via': 'storage-account',
      'storage-account': 'devstoreaccount1'
    })
    expect(errorLines(second.main)).toEqual([])
    expect(await up.blob('from-blob-2-9000001-os.vhd').exists()).toBe(false)
  })

  it('resumes a killed page-blob upload, sending only what is missing', async () => {
    up.addStorageAccount()
    const path = up.path('resume-blob.raw')
    const writes: Write[] = Array.from({ length: 24 }, (_, i) => ({
      offset: i * 2 * MiB,
      length: MiB
    }))
    await writeRawImage(path, 48 * MiB, writes)
    const upload = {
      vhd: path,
      'image-name': 'resumed-blob',
      'upload-concurrency': '1',
      'upload-via': 'storage-account',
      'storage-account': 'devstoreaccount1',
      // A re-run attempt has the same inputs: the blob's owner key is the job's (issue 14).
      'keep-upload': 'true'
    }
    const proxy = up.cloud.storageProxy!
    proxy.faults.add({ delayMs: 150, times: 1000 })
    const seen = proxy.requests
    const first = await up.run(upload, {
      runId: '9300001',
      post: false,
      signalWhen: { when: () => proxy.requests - seen >= 12, signal: 'SIGKILL' }
    })
    proxy.faults.clear()
    expect(first.main.signal).toBe('SIGKILL')
    const second = await up.run(upload, { runId: '9300001', runAttempt: 2 })
    expect(errorLines(second.main)).toEqual([])
    expect(second.main.stdout).toContain('Resuming the upload')
    const sent = Number(second.outputs['uploaded-bytes'])
    expect(sent).toBeGreaterThan(0)
    expect(sent).toBeLessThan(nonZeroBytes(writes))
    const content = await up.blob('resumed-blob-9300001-os.vhd').downloadToBuffer()
    const footer = content.subarray(content.length - 512)
    expect(sha256(content)).toBe(expectedSha256(48 * MiB, writes, footer))
  })
})

describe('upload into a gallery image version', () => {
  it('makes the version from the uploaded managed disks, then deletes them', async () => {
    const os = up.path('gallery-os.raw')
    const data = up.path('gallery-data.raw')
    await writeRawImage(os, 32 * MiB, [{ offset: 0, length: MiB }])
    await writeRawImage(data, 24 * MiB, [{ offset: 4 * MiB, length: 4096 }])
    up.cloud.emu.addGallery('build-rg', 'uploads_gallery', 'westeurope')
    const before = up.cloud.emu.requests.length
    const run = await up.run({
      vhd: os,
      'data-vhds': data,
      'hyper-v-generation': 'V2',
      gallery: 'uploads_gallery',
      'gallery-image': 'mkosi-image',
      'create-gallery-image': 'true',
      'gallery-image-version': '1.0.0'
    })
    expect(errorLines(run.main)).toEqual([])
    const writes = up.cloud.writesSince(before)
    const definition = writes.find(
      w => w.method === 'PUT' && w.path.endsWith('/images/mkosi-image')
    )
    expect((definition?.body as any).properties).toMatchObject({
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V2'
    })
    const version = writes.find(w => w.method === 'PUT' && w.path.endsWith('/versions/1.0.0'))
    const [osDisk, dataDisk] = ['os', 'lun0'].map(l => up.diskId(`mkosi-image-upload-9000001-${l}`))
    expect((version?.body as any).properties.storageProfile).toEqual({
      osDiskImage: { source: { id: osDisk } },
      dataDiskImages: [{ lun: 0, source: { id: dataDisk } }]
    })
    // The disks go only after the version exists.
    const versionAt = up.cloud.emu.requests.indexOf(version!)
    for (const id of [osDisk, dataDisk]) {
      const deleted = writes.find(w => w.method === 'DELETE' && w.path === id)
      expect(up.cloud.emu.requests.indexOf(deleted!)).toBeGreaterThan(versionAt)
      expect(up.cloud.emu.resources.get(id)).toBeUndefined()
    }
    expect(run.outputs['gallery-image-version']).toBe('1.0.0')
    expect(run.outputs['image-id']).toBe(run.outputs['gallery-image-version-id'])
    expect(Number(run.outputs['uploaded-bytes'])).toBeGreaterThan(0)
  })

  it('refuses a TrustedLaunchSupported version from managed disks before uploading anything', async () => {
    const os = up.path('tls-os.raw')
    await writeRawImage(os, 32 * MiB, [{ offset: 0, length: MiB }])
    up.cloud.emu.addGallery('build-rg', 'tl_gallery', 'westeurope')
    const before = up.cloud.emu.requests.length
    const run = await up.run({
      vhd: os,
      'hyper-v-generation': 'V2',
      'security-type': 'TrustedLaunchSupported',
      gallery: 'tl_gallery',
      'gallery-image': 'tl-image',
      'create-gallery-image': 'true'
    })
    expect(run.main.code).toBe(1)
    expect(errorLines(run.main)[0]).toMatch(/TrustedLaunchSupported.*upload-via: storage-account/)
    expect(up.cloud.writesSince(before)).toEqual([])
  })

  it('makes the version from the page blob in a storage account', async () => {
    up.addStorageAccount()
    const os = up.path('gallery-blob.raw')
    await writeRawImage(os, 32 * MiB, [{ offset: MiB, length: MiB }])
    up.cloud.emu.addGallery('build-rg', 'blob_gallery', 'westeurope')
    const before = up.cloud.emu.requests.length
    const run = await up.run({
      vhd: os,
      'upload-via': 'storage-account',
      'storage-account': 'devstoreaccount1',
      gallery: 'blob_gallery',
      'gallery-image': 'blob-image',
      'create-gallery-image': 'true',
      'gallery-image-version': '2.0.0'
    })
    expect(errorLines(run.main)).toEqual([])
    const version = up.cloud
      .writesSince(before)
      .find(w => w.method === 'PUT' && w.path.endsWith('/versions/2.0.0'))
    const account = `/subscriptions/${up.cloud.emu.subscriptionId}/resourceGroups/build-rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1`
    expect((version?.body as any).properties.storageProfile.osDiskImage.source).toEqual({
      storageAccountId: account,
      uri: expect.stringMatching(/\/vhds\/blob-image-9000001-os\.vhd$/)
    })
  })
})
