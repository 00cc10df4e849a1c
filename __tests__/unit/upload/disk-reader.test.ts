import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtemp, rm, utimes } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspectDiskImage } from '../../../src/upload/disk-format.js'
import { openDiskReader, planChunks } from '../../../src/upload/disk-reader.js'
import {
  createResumeFilter,
  rangesToClear,
  readSourceIdentity,
  sameSourceIdentity,
  sourceIdentityFromMetadata,
  sourceIdentityToMetadata
} from '../../../src/upload/resume.js'
import {
  MiB,
  virtualBytes,
  writeDynamicVhd,
  writeFixedVhd,
  type Write
} from '../../upload-it/fixtures.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'reader-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('planChunks', () => {
  it('cuts extents at 4 MiB chunk boundaries and skips chunks without data', () => {
    const plan = [
      ...planChunks(
        [
          { virtualOffset: 2 * MiB, fileOffset: 1000 * 512, length: 4 * MiB },
          { virtualOffset: 20 * MiB, fileOffset: 512, length: MiB }
        ],
        22 * MiB
      )
    ]
    expect(plan).toEqual([
      {
        virtualOffset: 0,
        length: 4 * MiB,
        pieces: [{ fileOffset: 1000 * 512, chunkOffset: 2 * MiB, length: 2 * MiB }]
      },
      {
        virtualOffset: 4 * MiB,
        length: 4 * MiB,
        pieces: [{ fileOffset: 1000 * 512 + 2 * MiB, chunkOffset: 0, length: 2 * MiB }]
      },
      {
        virtualOffset: 20 * MiB,
        length: 2 * MiB,
        pieces: [{ fileOffset: 512, chunkOffset: 0, length: MiB }]
      }
    ])
  })
})

describe('openDiskReader', () => {
  const writes: Write[] = [
    { offset: 512, length: 512 },
    { offset: 5 * MiB, length: 3 * MiB },
    { offset: 31 * MiB, length: MiB }
  ]

  async function readAll(
    path: string,
    direct: boolean
  ): Promise<{ bytes: Buffer; usedDirect: boolean; read: number }> {
    const image = await inspectDiskImage(path, 'data')
    const reader = await openDiskReader(image, { buffers: 2, direct })
    const out = Buffer.alloc(image.virtualSize)
    try {
      for await (const chunk of reader.chunks()) {
        chunk.data.copy(out, chunk.virtualOffset)
        chunk.release()
      }
      return { bytes: out, usedDirect: reader.direct, read: reader.bytesRead }
    } finally {
      await reader.close()
    }
  }

  it('reads a fixed VHD identically with and without O_DIRECT, with two pooled buffers', async () => {
    const path = join(dir, 'f.vhd')
    await writeFixedVhd(path, 32 * MiB, writes)
    const expected = virtualBytes(0, 32 * MiB, writes)
    const direct = await readAll(path, true)
    const buffered = await readAll(path, false)
    expect(direct.bytes.equals(expected)).toBe(true)
    expect(buffered.bytes.equals(expected)).toBe(true)
    expect(buffered.usedDirect).toBe(false)
    expect(direct.read).toBe(32 * MiB)
    if (process.platform === 'linux') expect(typeof direct.usedDirect).toBe('boolean')
  })

  it('reads a dynamic VHD (blocks at sector, not 4 KiB, offsets) identically both ways', async () => {
    const path = join(dir, 'd.vhd')
    await writeDynamicVhd(path, 32 * MiB, writes, { reverse: true })
    const expected = virtualBytes(0, 32 * MiB, writes)
    const direct = await readAll(path, true)
    expect(direct.bytes.equals(expected)).toBe(true)
    expect((await readAll(path, false)).bytes.equals(expected)).toBe(true)
    expect(direct.read).toBe(4 * 2 * MiB) // blocks 0, 2, 3 and 15
  })
})

describe('resume', () => {
  it('identity: round-trips through metadata and notices a changed file', async () => {
    const path = join(dir, 'id.vhd')
    await writeFixedVhd(path, 32 * MiB, [{ offset: 0, length: 512 }])
    const a = await readSourceIdentity(path)
    const meta = sourceIdentityToMetadata(a)
    expect(Object.keys(meta).every(k => /^[a-z]+$/.test(k))).toBe(true)
    expect(sameSourceIdentity(sourceIdentityFromMetadata(meta), a)).toBe(true)
    expect(sourceIdentityFromMetadata({ VHDSOURCESIZE: meta.vhdsourcesize })).toBeUndefined()
    await utimes(path, new Date(), new Date(Date.now() + 5000))
    expect(sameSourceIdentity(await readSourceIdentity(path), a)).toBe(false)
  })

  it('filters runs against what is already written, in one pass', () => {
    const skip = createResumeFilter([
      { offset: 1024, count: 512 },
      { offset: 0, count: 512 },
      { offset: 4096, count: 8192 }
    ])
    expect(skip({ offset: 0, count: 2048 })).toEqual([
      { offset: 512, count: 512 },
      { offset: 1536, count: 512 }
    ])
    expect(skip({ offset: 4096, count: 4096 })).toEqual([])
    expect(skip({ offset: 8192, count: 8192 })).toEqual([{ offset: 12288, count: 4096 }])
    expect(createResumeFilter(undefined)({ offset: 0, count: 512 })).toEqual([
      { offset: 0, count: 512 }
    ])
  })

  it('clears written ranges where the image is empty, ignoring the footer', () => {
    expect(
      rangesToClear(
        [{ offset: 0, count: 4096 }],
        [
          { offset: 0, count: 8192 },
          { offset: 32 * MiB, count: 512 }
        ],
        32 * MiB
      )
    ).toEqual([{ offset: 4096, count: 4096 }])
  })
})
