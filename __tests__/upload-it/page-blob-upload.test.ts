/**
 * End to end against Azurite (disk persistence, temp folder): inspect → create page blob →
 * upload → download and compare SHA-256 with the expected fixed VHD; zeros not sent; resume.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  BlobServiceClient,
  StorageSharedKeyCredential,
  type ContainerClient
} from '@azure/storage-blob'
import { startAzurite, type AzuriteInstance } from '../support/azurite.js'
import { inspectDiskImage, type DiskImage } from '../../src/upload/disk-format.js'
import {
  createPageBlob,
  createPageBlobClient,
  createPageBlobSink,
  readPageBlobState
} from '../../src/upload/page-blob-sink.js'
import { uploadDiskImage, type PageSink } from '../../src/upload/page-uploader.js'
import {
  sameSourceIdentity,
  sourceIdentityFromMetadata,
  sourceIdentityToMetadata
} from '../../src/upload/resume.js'
import {
  expectedSha256,
  MiB,
  writeDynamicVhd,
  writeFixedVhd,
  writeRawImage,
  type Write
} from './fixtures.js'

const quiet = { info: () => {}, warning: () => {}, debug: () => {} }

let azurite: AzuriteInstance
let container: ContainerClient
let dir: string
let credential: StorageSharedKeyCredential

beforeAll(async () => {
  azurite = await startAzurite()
  dir = await mkdtemp(join(tmpdir(), 'upload-it-'))
  credential = new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey)
  container = new BlobServiceClient(azurite.blobEndpoint, credential).getContainerClient('vhds')
  await container.create()
})

afterAll(async () => {
  await azurite?.stop()
  if (dir) await rm(dir, { recursive: true, force: true })
})

/** Scattered data: unaligned extents, a lone sector, 4 KiB blocks, the last MiB. */
function scatteredWrites(virtualSize: number): Write[] {
  const w: Write[] = [
    { offset: 0, length: 64 * 1024 },
    { offset: 7 * MiB + 4096, length: 5 * MiB + 4096 },
    { offset: 20 * MiB + 512, length: 512 },
    { offset: virtualSize - MiB, length: MiB }
  ]
  for (let i = 0; i < 20; i++) w.push({ offset: 24 * MiB + i * 3 * MiB + 12288, length: 4096 })
  return w
}

async function downloadSha256(blobName: string): Promise<string> {
  const buf = await container.getBlobClient(blobName).downloadToBuffer()
  return createHash('sha256').update(buf).digest('hex')
}

async function uploadTo(
  blobName: string,
  image: DiskImage,
  sink?: PageSink,
  alreadyWritten?: Array<{ offset: number; count: number }>
) {
  const client = createPageBlobClient(container.getPageBlobClient(blobName).url, credential)
  if (!alreadyWritten)
    await createPageBlob(client, image.uploadSize, {
      metadata: sourceIdentityToMetadata(image.identity)
    })
  return uploadDiskImage({
    image,
    sink: sink ?? createPageBlobSink(client),
    concurrency: 4,
    log: quiet,
    alreadyWritten
  })
}

/** Bytes a 64 KiB-trimmed upload must send for `writes` (plus the footer). */
function trimmedBytes(writes: readonly Write[]): number {
  const seg = 64 * 1024
  const segments = new Set<number>()
  for (const w of writes)
    for (let s = Math.floor(w.offset / seg); s * seg < w.offset + w.length; s++) segments.add(s)
  return segments.size * seg + 512
}

describe('upload to a page blob (Azurite)', () => {
  it('fixed VHD: the blob is the file, zeros are not sent', async () => {
    const path = join(dir, 'fixed.vhd')
    const size = 128 * MiB
    const writes = scatteredWrites(size)
    const footer = await writeFixedVhd(path, size, writes)
    const image = await inspectDiskImage(path, 'os')
    const result = await uploadTo('fixed.vhd', image)
    expect(result.bytesSent).toBe(trimmedBytes(writes))
    expect(result.bytesSent).toBeLessThan(16 * MiB)
    expect(await downloadSha256('fixed.vhd')).toBe(expectedSha256(size, writes, footer))
  })

  it('dynamic VHD: the blob is the equivalent fixed VHD', async () => {
    const path = join(dir, 'dynamic.vhd')
    const size = 96 * MiB
    const writes = scatteredWrites(size)
    await writeDynamicVhd(path, size, writes, { reverse: true, zeroBlocks: [45] })
    const image = await inspectDiskImage(path, 'data')
    const result = await uploadTo('dynamic.vhd', image)
    expect(result.bytesSent).toBe(trimmedBytes(writes))
    expect(await downloadSha256('dynamic.vhd')).toBe(expectedSha256(size, writes, image.footer))
  })

  it('raw image: uploaded as is plus the generated footer', async () => {
    const path = join(dir, 'disk.raw')
    const size = 64 * MiB
    const writes = scatteredWrites(size).filter(w => w.offset + w.length <= size)
    await writeRawImage(path, size, writes)
    const image = await inspectDiskImage(path, 'os')
    const result = await uploadTo('raw.vhd', image)
    expect(result.bytesSent).toBe(trimmedBytes(writes))
    expect(await downloadSha256('raw.vhd')).toBe(expectedSha256(size, writes, image.footer))
  })

  it('resume after an abort half-way sends only the rest', async () => {
    const path = join(dir, 'resume.vhd')
    const size = 128 * MiB
    const writes: Write[] = [{ offset: 0, length: 48 * MiB }, ...scatteredWrites(size).slice(1)]
    const footer = await writeFixedVhd(path, size, writes)
    const image = await inspectDiskImage(path, 'os')
    const client = createPageBlobClient(container.getPageBlobClient('resume.vhd').url, credential)
    const real = createPageBlobSink(client)

    // First attempt: the "runner" dies after 6 Put Pages.
    const controller = new AbortController()
    let count = 0
    const dying: PageSink = {
      ...real,
      writePages: async (body, offset, md5, signal) => {
        await real.writePages(body, offset, md5, signal)
        if (++count === 6) controller.abort(new Error('runner cancelled'))
      }
    }
    await createPageBlob(client, image.uploadSize, {
      metadata: sourceIdentityToMetadata(image.identity)
    })
    await expect(
      uploadDiskImage({ image, sink: dying, concurrency: 2, log: quiet, signal: controller.signal })
    ).rejects.toThrow('runner cancelled')

    // Second attempt: same source (identity matches), so continue from the page ranges.
    const state = await readPageBlobState(client)
    expect(state.size).toBe(image.uploadSize)
    expect(sameSourceIdentity(sourceIdentityFromMetadata(state.metadata), image.identity)).toBe(
      true
    )
    const written = await real.listWrittenRanges(new AbortController().signal)
    const writtenBytes = written.reduce((s, r) => s + r.count, 0)
    expect(writtenBytes).toBeGreaterThanOrEqual(6 * 64 * 1024)
    expect(written.some(r => r.offset + r.count > size)).toBe(false) // no footer yet

    const result = await uploadDiskImage({
      image,
      sink: real,
      concurrency: 4,
      log: quiet,
      alreadyWritten: written
    })
    expect(result.bytesSkippedAsWritten).toBe(writtenBytes)
    expect(result.bytesSent).toBe(trimmedBytes(writes) - writtenBytes)
    expect(await downloadSha256('resume.vhd')).toBe(expectedSha256(size, writes, footer))
  })
})
