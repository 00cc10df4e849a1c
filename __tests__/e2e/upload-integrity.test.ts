/**
 * Integrity of the bytes on the wire, on the bundled action: every Put Page the proxy in front of
 * Azurite sees must carry a Content-MD5 equal to the MD5 of the body that arrived (and that body
 * must be the image's bytes at its range), and a write the storage service acknowledges but never
 * stores (a "lost write") must fail the run before any image is made from the disk.
 */
import { describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import { errorLines } from '../support/action-runner.js'
import { sha256, useUploadCloud } from '../support/upload-run.js'
import type { PageWriteRecord } from '../emulator/fault-proxy.js'
import {
  MiB,
  expectedSha256,
  nonZeroBytes,
  writeRawImage,
  type Write
} from '../upload-it/fixtures.js'

const up = useUploadCloud('upload-integrity')

const VIRTUAL = 24 * MiB
/** Sparse, unaligned data: several Put Pages of different sizes, some split inside a 4 MiB chunk. */
const WRITES: Write[] = [
  { offset: 0, length: 64 * 1024 },
  { offset: 3 * MiB + 512, length: 512 },
  { offset: 6 * MiB - 4096, length: 2 * MiB + 8192 },
  { offset: 17 * MiB + 4096, length: 300 * 1024 },
  { offset: 23 * MiB, length: MiB }
]

const md5 = (b: Buffer): string => createHash('md5').update(b).digest('base64')

async function readAt(path: string, offset: number, count: number): Promise<Buffer> {
  const fh = await open(path, 'r')
  try {
    const buf = Buffer.alloc(count)
    const { bytesRead } = await fh.read(buf, 0, count, offset)
    return buf.subarray(0, bytesRead)
  } finally {
    await fh.close()
  }
}

/** "OS disk: sent N bytes in R requests": what the uploader counted as successful writes. */
function uploaderCounts(stdout: string): { bytes: number; requests: number } {
  const m = /OS disk: sent (\d+) bytes in (\d+) requests/.exec(stdout)
  expect(m).not.toBeNull()
  return { bytes: Number(m![1]), requests: Number(m![2]) }
}

describe('Put Page integrity on the wire (managed disk)', () => {
  it('no Put Page to the disk SAS carries a Content-MD5 (unverified on md-impexp), and every body is the image', async () => {
    const path = up.path('md5.raw')
    await writeRawImage(path, VIRTUAL, WRITES)
    const proxy = up.cloud.storageProxy!
    const from = proxy.pageWrites.length
    const run = await up.run({ vhd: path, 'image-name': 'md5-checked', 'keep-upload': 'true' })
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.code).toBe(0)

    const seen: PageWriteRecord[] = proxy.pageWrites.slice(from)
    // A fresh disk: nothing to clear, no faults, so every Put Page is a data write that landed.
    expect(seen.filter(w => w.pageWrite !== 'update')).toEqual([])
    expect(seen.every(w => w.handling === 'forwarded' && w.status === 201)).toBe(true)
    expect(seen.length).toBeGreaterThanOrEqual(WRITES.length + 1)

    for (const w of seen) {
      expect(w.contentMD5).toBeUndefined()
      expect(w.bodySize).toBe(w.count)
    }

    // The bodies are the image's bytes at their ranges; the last write is the footer.
    const footer = seen[seen.length - 1]
    expect({ offset: footer.offset, count: footer.count }).toEqual({ offset: VIRTUAL, count: 512 })
    const blob = await up.cloud.emu
      .diskBlobClient(up.diskId('md5-checked-upload-9000001-os'))
      .downloadToBuffer()
    expect(footer.bodyMD5).toBe(md5(blob.subarray(VIRTUAL)))
    for (const w of seen.slice(0, -1)) {
      expect(w.offset! + w.count!).toBeLessThanOrEqual(VIRTUAL)
      expect({ range: w.range, md5: w.bodyMD5 }).toEqual({
        range: w.range,
        md5: md5(await readAt(path, w.offset!, w.count!))
      })
    }
    expect(sha256(blob)).toBe(expectedSha256(VIRTUAL, WRITES, blob.subarray(VIRTUAL)))

    // What the proxy saw is exactly what the action counted and reported.
    const counted = uploaderCounts(run.main.stdout)
    const sentBytes = seen.reduce((s, w) => s + w.bodySize, 0)
    expect(counted).toEqual({ bytes: sentBytes, requests: seen.length })
    expect(Number(run.outputs['uploaded-bytes'])).toBe(sentBytes)
    expect(sentBytes).toBeGreaterThanOrEqual(nonZeroBytes(WRITES) + 512)
  })
})

describe('a lost write', () => {
  it('a Put Page acknowledged with 201 but never stored fails the run: no image, disk revoked and deleted', async () => {
    const path = up.path('lost.raw')
    await writeRawImage(path, VIRTUAL, WRITES)
    const proxy = up.cloud.storageProxy!
    const from = proxy.pageWrites.length
    const injected = proxy.injected
    // Lose the first data write (the footer is always the last one).
    proxy.faults.add({
      lose: true,
      match: req =>
        req.method === 'PUT' &&
        /[?&]comp=page(&|$)/.test(req.url ?? '') &&
        req.headers['x-ms-page-write'] === 'update'
    })
    const before = up.cloud.emu.requests.length
    const run = await up.run({ vhd: path, 'image-name': 'lost-write' })

    expect(proxy.injected - injected).toBe(1)
    const seen = proxy.pageWrites.slice(from)
    const lost = seen.filter(w => w.handling === 'lost')
    expect(lost).toHaveLength(1)
    expect(lost[0]).toMatchObject({ status: 201, pageWrite: 'update' })
    expect(lost[0].offset! + lost[0].count!).toBeLessThanOrEqual(VIRTUAL)
    // The uploader believed the write landed: it was not sent again.
    expect(seen.filter(w => w.range === lost[0].range)).toHaveLength(1)

    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/verification failed/)
    expect(errors[0]).toContain(`${lost[0].count} bytes at offset ${lost[0].offset}`)

    const diskId = up.diskId('lost-write-upload-9000001-os')
    const writes = up.cloud.writesSince(before)
    expect(writes.some(w => w.method === 'PUT' && w.path === diskId)).toBe(true)
    expect(writes.some(w => /\/images\//.test(w.path))).toBe(false)
    expect(
      up.cloud.emu.resources
        .list('Microsoft.Compute/images')
        .filter(i => /\/images\/lost-write$/i.test(String(i.id)))
    ).toEqual([])
    expect(writes.some(w => w.path === `${diskId}/endGetAccess`)).toBe(true)
    expect(writes.some(w => w.method === 'DELETE' && w.path === diskId)).toBe(true)
    expect(up.cloud.emu.resources.get(diskId)).toBeUndefined()
    expect(run.outputs['image-id'] ?? '').toBe('')
  })
})

describe('Put Page integrity on the wire (storage account)', () => {
  it('every Put Page to a page blob carries a Content-MD5 equal to the MD5 of its body', async () => {
    up.addStorageAccount()
    const path = up.path('md5-blob.raw')
    await writeRawImage(path, VIRTUAL, WRITES)
    const proxy = up.cloud.storageProxy!
    const from = proxy.pageWrites.length
    const run = await up.run({
      vhd: path,
      'image-name': 'md5-blob',
      'keep-upload': 'true',
      'upload-via': 'storage-account',
      'storage-account': 'devstoreaccount1'
    })
    expect(errorLines(run.main)).toEqual([])
    const seen: PageWriteRecord[] = proxy.pageWrites.slice(from)
    expect(seen.length).toBeGreaterThanOrEqual(WRITES.length + 1)
    for (const w of seen) {
      expect(w.contentMD5).toBeDefined()
      expect({ range: w.range, contentMD5: w.contentMD5 }).toEqual({
        range: w.range,
        contentMD5: w.bodyMD5
      })
    }
  })
})
