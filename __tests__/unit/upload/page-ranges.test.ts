import { describe, expect, it } from '@jest/globals'
import {
  firstUncovered,
  isAllZero,
  mergeRanges,
  nonZeroRuns,
  splitRange,
  subtractRanges,
  CHUNK_SIZE
} from '../../../src/upload/page-ranges.js'

const KiB = 1024
const MiB = 1024 * KiB

function chunkWith(length: number, writes: Array<[number, number]>): Buffer {
  const buf = Buffer.alloc(length)
  for (const [offset, count] of writes) buf.fill(0xab, offset, offset + count)
  return buf
}

describe('nonZeroRuns', () => {
  it('skips an all-zero chunk', () => {
    expect(isAllZero(Buffer.alloc(CHUNK_SIZE))).toBe(true)
    expect(nonZeroRuns(Buffer.alloc(CHUNK_SIZE))).toEqual([])
  })

  it('keeps a chunk that is zero except one 512 B sector as the 64 KiB segment around it', () => {
    const chunk = chunkWith(CHUNK_SIZE, [[3 * MiB + 70 * KiB, 512]])
    expect(nonZeroRuns(chunk)).toEqual([{ offset: 3 * MiB + 64 * KiB, count: 64 * KiB }])
  })

  it('finds the last byte of the chunk', () => {
    const chunk = chunkWith(CHUNK_SIZE, [])
    chunk[CHUNK_SIZE - 1] = 1
    expect(nonZeroRuns(chunk)).toEqual([{ offset: CHUNK_SIZE - 64 * KiB, count: 64 * KiB }])
  })

  it('merges neighbouring segments and rounds unaligned extents out to segments', () => {
    // 4 KiB-aligned, not 64 KiB-aligned data crossing segment boundaries.
    const chunk = chunkWith(CHUNK_SIZE, [
      [60 * KiB, 8 * KiB],
      [1 * MiB + 4 * KiB, 200 * KiB]
    ])
    expect(nonZeroRuns(chunk)).toEqual([
      { offset: 0, count: 128 * KiB },
      { offset: 1 * MiB, count: 256 * KiB }
    ])
  })

  it('sends a full chunk as one 4 MiB Put Page', () => {
    expect(nonZeroRuns(Buffer.alloc(CHUNK_SIZE, 1))).toEqual([{ offset: 0, count: CHUNK_SIZE }])
  })

  it('handles a short last chunk and a trailing partial segment, all 512-aligned', () => {
    const chunk = chunkWith(1 * MiB + 512, [[1 * MiB, 512]])
    expect(nonZeroRuns(chunk)).toEqual([{ offset: 1 * MiB, count: 512 }])
    const runs = nonZeroRuns(
      chunkWith(3 * MiB, [
        [0, 1],
        [2 * MiB + 5, 1]
      ])
    )
    expect(runs).toEqual([
      { offset: 0, count: 64 * KiB },
      { offset: 2 * MiB, count: 64 * KiB }
    ])
    for (const r of runs) expect((r.offset % 512) + (r.count % 512)).toBe(0)
  })

  it('trims at 4 KiB when asked', () => {
    expect(nonZeroRuns(chunkWith(CHUNK_SIZE, [[10 * KiB, 1]]), 4 * KiB)).toEqual([
      { offset: 8 * KiB, count: 4 * KiB }
    ])
  })

  it('rejects lengths that are not whole sectors', () => {
    expect(() => nonZeroRuns(Buffer.alloc(1000, 1))).toThrow(/multiple of 512/)
    expect(() => nonZeroRuns(Buffer.alloc(4096, 1), 1000)).toThrow(/segment size/)
  })
})

describe('range algebra', () => {
  it('splits to the Put Page limit', () => {
    expect(splitRange({ offset: 512, count: 9 * MiB })).toEqual([
      { offset: 512, count: 4 * MiB },
      { offset: 512 + 4 * MiB, count: 4 * MiB },
      { offset: 512 + 8 * MiB, count: 1 * MiB }
    ])
  })

  it('merges overlapping and touching ranges (Azurite does not)', () => {
    expect(
      mergeRanges([
        { offset: 1024, count: 512 },
        { offset: 0, count: 512 },
        { offset: 512, count: 512 },
        { offset: 4096, count: 512 },
        { offset: 4096, count: 0 }
      ])
    ).toEqual([
      { offset: 0, count: 1536 },
      { offset: 4096, count: 512 }
    ])
  })

  it('subtracts covered parts', () => {
    expect(
      subtractRanges(
        [
          { offset: 0, count: 4096 },
          { offset: 8192, count: 1024 }
        ],
        [
          { offset: 512, count: 512 },
          { offset: 2048, count: 7168 }
        ]
      )
    ).toEqual(
      [
        { offset: 0, count: 512 },
        { offset: 1024, count: 1024 },
        { offset: 9216, count: 0 }
      ].filter(r => r.count > 0)
    )
    expect(subtractRanges([{ offset: 0, count: 512 }], [])).toEqual([{ offset: 0, count: 512 }])
  })

  it('finds the first uncovered byte range', () => {
    const covered = mergeRanges([
      { offset: 0, count: 1024 },
      { offset: 1024, count: 1024 }
    ])
    expect(firstUncovered([{ offset: 0, count: 2048 }], covered)).toBeUndefined()
    expect(firstUncovered([{ offset: 1536, count: 1024 }], covered)).toEqual({
      offset: 2048,
      count: 512
    })
  })
})
