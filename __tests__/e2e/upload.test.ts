/**
 * Upload mode on the bundled action: disk image files go through the ARM emulator's upload disks
 * (real page blobs in Azurite behind a write SAS) or into a storage account, then become images.
 * Evidence: the blob's bytes (hashed), the bytes the action says it sent, and the request log.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob'
import { errorLines, runAction, ledgerEntries } from '../support/action-runner.js'
import { startLocalCloud, type LocalCloud } from '../support/cloud.js'
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

let cloud: LocalCloud
let dir: string

beforeAll(async () => {
  cloud = await startLocalCloud({
    withStorage: true,
    lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 }
  })
  cloud.emu.addResourceGroup('build-rg', 'westeurope')
  dir = mkdtempSync(join(tmpdir(), 'upload-e2e-'))
})
afterAll(async () => {
  await cloud.close()
  rmSync(dir, { recursive: true, force: true })
})

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

const base = () => ({ ...cloud.inputs, 'resource-group': 'build-rg', 'os-type': 'Linux' })

function diskIdOf(name: string): string {
  return `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/build-rg/providers/Microsoft.Compute/disks/${name}`
}

async function blobSha256(diskId: string): Promise<{ sha: string; footer: Buffer }> {
  const content = await cloud.emu.diskBlobClient(diskId).downloadToBuffer()
  return {
    sha: createHash('sha256').update(content).digest('hex'),
    footer: content.subarray(content.length - 512)
  }
}

describe('upload via a managed disk', () => {
  it.each([
    ['fixed VHD', 'fixed.vhd'],
    ['dynamic VHD', 'dynamic.vhd'],
    ['raw image', 'disk.raw']
  ])('%s round-trips to byte-identical disk content, sending only the data', async (kind, file) => {
    const path = join(dir, file)
    let footer: Buffer | undefined
    if (kind === 'fixed VHD') footer = await writeFixedVhd(path, VIRTUAL, WRITES)
    else if (kind === 'dynamic VHD')
      footer = toFixedVhdFooter(await writeDynamicVhd(path, VIRTUAL, WRITES))
    else await writeRawImage(path, VIRTUAL, WRITES)
    const image = `img-${file.replace('.', '-')}`
    const before = cloud.emu.requests.length
    const run = await runAction({
      inputs: {
        ...base(),
        vhd: path,
        'image-name': image,
        'keep-upload': 'true',
        'hyper-v-generation': 'V2'
      },
      env: cloud.env
    })
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.code).toBe(0)

    const diskName = `${image}-upload-9000001-os`
    const diskId = diskIdOf(diskName)
    const writes = cloud.writesSince(before)
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
    const os = join(dir, 'os.raw')
    const data0 = join(dir, 'data0.raw')
    const data1 = join(dir, 'data1.vhd')
    await writeRawImage(os, 32 * MiB, [{ offset: 0, length: MiB }])
    await writeRawImage(data0, 24 * MiB, [{ offset: 2 * MiB, length: 4096 }])
    await writeFixedVhd(data1, 40 * MiB, [{ offset: 8 * MiB, length: 2 * MiB }])
    const before = cloud.emu.requests.length
    const run = await runAction({
      inputs: { ...base(), vhd: os, 'data-vhds': `${data0}\n${data1}`, 'image-name': 'with-data' },
      env: cloud.env
    })
    expect(errorLines(run.main)).toEqual([])
    const names = ['os', 'lun0', 'lun1'].map(l => `with-data-upload-9000001-${l}`)
    const imagePut = cloud
      .writesSince(before)
      .find(w => w.method === 'PUT' && w.path.endsWith('/images/with-data'))
    expect((imagePut?.body as any).properties.storageProfile.dataDisks).toEqual([
      { lun: 0, managedDisk: { id: diskIdOf(names[1]) } },
      { lun: 1, managedDisk: { id: diskIdOf(names[2]) } }
    ])
    for (const name of names) {
      expect(
        cloud.writesSince(before).some(w => w.method === 'DELETE' && w.path === diskIdOf(name))
      ).toBe(true)
      expect(cloud.emu.resources.get(diskIdOf(name))).toBeUndefined()
    }
    expect(Number(run.outputs['uploaded-bytes'])).toBeLessThanOrEqual(
      MiB + 4096 + 2 * MiB + 3 * (64 * 1024 + 512)
    )
  })

  it('revokes access and deletes the disk when the image fails, then a re-run succeeds', async () => {
    const path = join(dir, 'fail.raw')
    await writeRawImage(path, 32 * MiB, [{ offset: MiB, length: MiB }])
    cloud.emu.faults.add({
      method: 'PUT',
      path: /\/images\/fails-once\?/,
      failOperation: { code: 'InternalOperationError', message: 'Injected failure.' }
    })
    const before = cloud.emu.requests.length
    const run = await runAction({
      inputs: { ...base(), vhd: path, 'image-name': 'fails-once' },
      env: cloud.env,
      runId: '9100001'
    })
    expect(run.main.code).toBe(1)
    expect(errorLines(run.main)[0]).toContain('InternalOperationError')
    const diskId = diskIdOf('fails-once-upload-9100001-os')
    const writes = cloud.writesSince(before)
    expect(writes.some(w => w.path === `${diskId}/endGetAccess`)).toBe(true)
    expect(writes.some(w => w.method === 'DELETE' && w.path === diskId)).toBe(true)
    expect(cloud.emu.resources.get(diskId)).toBeUndefined()
    expect(ledgerEntries(run.state.ledger).filter((e: any) => e.kind === 'upload-disk')).toEqual([])

    const again = await runAction({
      inputs: { ...base(), vhd: path, 'image-name': 'fails-once' },
      env: cloud.env,
      runId: '9100001',
      runAttempt: 2
    })
    expect(errorLines(again.main)).toEqual([])
    expect(again.outputs['image-id']).toMatch(/\/images\/fails-once$/)
  })

  it('resumes a killed upload, sending only what is missing', async () => {
    const path = join(dir, 'resume.raw')
    const writes: Write[] = Array.from({ length: 24 }, (_, i) => ({
      offset: i * 2 * MiB,
      length: MiB
    }))
    await writeRawImage(path, 48 * MiB, writes)
    const proxy = cloud.storageProxy!
    // Slow page writes so the kill lands half-way.
    proxy.faults.add({ delayMs: 150, times: 1000 })
    // Killed once the proxy has seen 12 requests: with one write in flight, about half the pages.
    const seen = proxy.requests
    const first = await runAction({
      // The same inputs as the re-run attempt below: a re-run of a job cannot change them, and the
      // owner key the disk carries is derived from them (issue 14).
      inputs: {
        ...base(),
        vhd: path,
        'image-name': 'resumed',
        'upload-concurrency': '1',
        'keep-upload': 'true'
      },
      env: cloud.env,
      runId: '9200001',
      post: false,
      signalWhen: { when: () => proxy.requests - seen >= 12, signal: 'SIGKILL' }
    })
    proxy.faults.clear()
    expect(first.main.signal).toBe('SIGKILL')
    const diskId = diskIdOf('resumed-upload-9200001-os')
    expect((cloud.emu.resources.get(diskId) as any).properties.diskState).toBe('ActiveUpload')
    // One range the disk lists as written now holds other bytes (a torn or foreign write): the
    // resumed upload must read it back, see the difference and send it again.
    const blob = cloud.emu.diskBlobClient(diskId)
    const listed = await blob.getPageRanges()
    expect(listed.pageRange?.length).toBeGreaterThan(0)
    const bad = listed.pageRange![0]
    await blob.uploadPages(Buffer.alloc(4096, 0xee), bad.offset, 4096)

    const second = await runAction({
      inputs: {
        ...base(),
        vhd: path,
        'image-name': 'resumed',
        'upload-concurrency': '1',
        'keep-upload': 'true'
      },
      env: cloud.env,
      runId: '9200001',
      runAttempt: 2
    })
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
    ],
    ['missing file', () => undefined, /no such file|does not exist|not found/i]
  ]
  it.each(cases)('%s', async (name, make, message) => {
    const path = join(dir, `bad-${name.replace(/\W+/g, '-')}.img`)
    make(path)
    const before = cloud.emu.requests.length
    const run = await runAction({
      inputs: { ...base(), vhd: path, 'image-name': 'never' },
      env: cloud.env
    })
    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain(path)
    expect(errors[0].replace(/%0A/g, '\n')).toMatch(message)
    expect(cloud.emu.requests.length).toBe(before)
  })
})

describe('upload via a storage account', () => {
  it('writes a page blob, makes the image from its URI, deletes the blob', async () => {
    // Azurite serves one account: the ARM storage account has its name, as in Azure.
    cloud.emu.addStorageAccount('build-rg', 'devstoreaccount1')
    const path = join(dir, 'blob.vhd')
    const footer = await writeFixedVhd(path, VIRTUAL, WRITES)
    const before = cloud.emu.requests.length
    const run = await runAction({
      inputs: {
        ...base(),
        vhd: path,
        'image-name': 'from-blob',
        'upload-via': 'storage-account',
        'storage-account': 'devstoreaccount1',
        'keep-upload': 'true'
      },
      env: cloud.env
    })
    expect(errorLines(run.main)).toEqual([])
    // Azurite here is plain http on this machine: no Entra ID token goes there, the account key is read.
    expect(run.main.stdout).toMatch(
      /using the account key read through ARM \(listKeys\): its blob endpoint on this machine is plain http/
    )
    expect(
      cloud.writesSince(before).filter(w => w.method === 'POST' && w.path.endsWith('/listKeys'))
    ).toHaveLength(1)
    const imagePut = cloud
      .writesSince(before)
      .find(w => w.method === 'PUT' && w.path.endsWith('/images/from-blob'))
    const blobUri: string = (imagePut?.body as any).properties.storageProfile.osDisk.blobUri
    expect(blobUri).toMatch(/\/vhds\/from-blob-9000001-os\.vhd$/)
    const azurite = cloud.azurite!
    const service = new BlobServiceClient(
      azurite.blobEndpoint,
      new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey)
    )
    const blob = service.getContainerClient('vhds').getBlobClient('from-blob-9000001-os.vhd')
    const content = await blob.downloadToBuffer()
    expect(createHash('sha256').update(content).digest('hex')).toBe(
      expectedSha256(VIRTUAL, WRITES, footer)
    )
    expect(Number(run.outputs['uploaded-bytes'])).toBeLessThanOrEqual(nonZeroBytes(WRITES) + SLACK)

    // Without keep-upload the blob is gone afterwards.
    const second = await runAction({
      inputs: {
        ...base(),
        vhd: path,
        'image-name': 'from-blob-2',
        'upload-via': 'storage-account',
        'storage-account': 'devstoreaccount1'
      },
      env: cloud.env
    })
    expect(errorLines(second.main)).toEqual([])
    expect(
      await service.getContainerClient('vhds').getBlobClient('from-blob-2-9000001-os.vhd').exists()
    ).toBe(false)
  })

  it('resumes a killed page-blob upload, sending only what is missing', async () => {
    cloud.emu.addStorageAccount('build-rg', 'devstoreaccount1')
    const path = join(dir, 'resume-blob.raw')
    const writes: Write[] = Array.from({ length: 24 }, (_, i) => ({
      offset: i * 2 * MiB,
      length: MiB
    }))
    await writeRawImage(path, 48 * MiB, writes)
    const upload = {
      ...base(),
      vhd: path,
      'image-name': 'resumed-blob',
      'upload-concurrency': '1',
      'upload-via': 'storage-account',
      'storage-account': 'devstoreaccount1',
      // A re-run attempt has the same inputs: the blob's owner key is the job's (issue 14).
      'keep-upload': 'true'
    }
    const proxy = cloud.storageProxy!
    proxy.faults.add({ delayMs: 150, times: 1000 })
    const seen = proxy.requests
    const first = await runAction({
      inputs: upload,
      env: cloud.env,
      runId: '9300001',
      post: false,
      signalWhen: { when: () => proxy.requests - seen >= 12, signal: 'SIGKILL' }
    })
    proxy.faults.clear()
    expect(first.main.signal).toBe('SIGKILL')
    const second = await runAction({
      inputs: upload,
      env: cloud.env,
      runId: '9300001',
      runAttempt: 2
    })
    expect(errorLines(second.main)).toEqual([])
    expect(second.main.stdout).toContain('Resuming the upload')
    const sent = Number(second.outputs['uploaded-bytes'])
    expect(sent).toBeGreaterThan(0)
    expect(sent).toBeLessThan(nonZeroBytes(writes))
    const azurite = cloud.azurite!
    const content = await new BlobServiceClient(
      azurite.blobEndpoint,
      new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey)
    )
      .getContainerClient('vhds')
      .getBlobClient('resumed-blob-9300001-os.vhd')
      .downloadToBuffer()
    const footer = content.subarray(content.length - 512)
    expect(createHash('sha256').update(content).digest('hex')).toBe(
      expectedSha256(48 * MiB, writes, footer)
    )
  })
})

describe('upload into a gallery image version', () => {
  it('makes the version from the uploaded managed disks, then deletes them', async () => {
    const os = join(dir, 'gallery-os.raw')
    const data = join(dir, 'gallery-data.raw')
    await writeRawImage(os, 32 * MiB, [{ offset: 0, length: MiB }])
    await writeRawImage(data, 24 * MiB, [{ offset: 4 * MiB, length: 4096 }])
    cloud.emu.addGallery('build-rg', 'uploads_gallery', 'westeurope')
    const before = cloud.emu.requests.length
    const run = await runAction({
      inputs: {
        ...base(),
        vhd: os,
        'data-vhds': data,
        'hyper-v-generation': 'V2',
        gallery: 'uploads_gallery',
        'gallery-image': 'mkosi-image',
        'create-gallery-image': 'true',
        'gallery-image-version': '1.0.0'
      },
      env: cloud.env
    })
    expect(errorLines(run.main)).toEqual([])
    const writes = cloud.writesSince(before)
    const definition = writes.find(
      w => w.method === 'PUT' && w.path.endsWith('/images/mkosi-image')
    )
    expect((definition?.body as any).properties).toMatchObject({
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V2'
    })
    const version = writes.find(w => w.method === 'PUT' && w.path.endsWith('/versions/1.0.0'))
    const [osDisk, dataDisk] = ['os', 'lun0'].map(l => diskIdOf(`mkosi-image-upload-9000001-${l}`))
    expect((version?.body as any).properties.storageProfile).toEqual({
      osDiskImage: { source: { id: osDisk } },
      dataDiskImages: [{ lun: 0, source: { id: dataDisk } }]
    })
    // The disks go only after the version exists.
    const versionAt = cloud.emu.requests.indexOf(version!)
    for (const id of [osDisk, dataDisk]) {
      const deleted = writes.find(w => w.method === 'DELETE' && w.path === id)
      expect(cloud.emu.requests.indexOf(deleted!)).toBeGreaterThan(versionAt)
      expect(cloud.emu.resources.get(id)).toBeUndefined()
    }
    expect(run.outputs['gallery-image-version']).toBe('1.0.0')
    expect(run.outputs['image-id']).toBe(run.outputs['gallery-image-version-id'])
    expect(Number(run.outputs['uploaded-bytes'])).toBeGreaterThan(0)
  })

  it('refuses a TrustedLaunchSupported version from managed disks before uploading anything', async () => {
    const os = join(dir, 'tls-os.raw')
    await writeRawImage(os, 32 * MiB, [{ offset: 0, length: MiB }])
    cloud.emu.addGallery('build-rg', 'tl_gallery', 'westeurope')
    const before = cloud.emu.requests.length
    const run = await runAction({
      inputs: {
        ...base(),
        vhd: os,
        'hyper-v-generation': 'V2',
        'security-type': 'TrustedLaunchSupported',
        gallery: 'tl_gallery',
        'gallery-image': 'tl-image',
        'create-gallery-image': 'true'
      },
      env: cloud.env
    })
    expect(run.main.code).toBe(1)
    expect(errorLines(run.main)[0]).toMatch(/TrustedLaunchSupported.*upload-via: storage-account/)
    expect(cloud.writesSince(before)).toEqual([])
  })

  it('makes the version from the page blob in a storage account', async () => {
    cloud.emu.addStorageAccount('build-rg', 'devstoreaccount1')
    const os = join(dir, 'gallery-blob.raw')
    await writeRawImage(os, 32 * MiB, [{ offset: MiB, length: MiB }])
    cloud.emu.addGallery('build-rg', 'blob_gallery', 'westeurope')
    const before = cloud.emu.requests.length
    const run = await runAction({
      inputs: {
        ...base(),
        vhd: os,
        'upload-via': 'storage-account',
        'storage-account': 'devstoreaccount1',
        gallery: 'blob_gallery',
        'gallery-image': 'blob-image',
        'create-gallery-image': 'true',
        'gallery-image-version': '2.0.0'
      },
      env: cloud.env
    })
    expect(errorLines(run.main)).toEqual([])
    const version = cloud
      .writesSince(before)
      .find(w => w.method === 'PUT' && w.path.endsWith('/versions/2.0.0'))
    const account = `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/build-rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1`
    expect((version?.body as any).properties.storageProfile.osDiskImage.source).toEqual({
      storageAccountId: account,
      uri: expect.stringMatching(/\/vhds\/blob-image-9000001-os\.vhd$/)
    })
  })
})
