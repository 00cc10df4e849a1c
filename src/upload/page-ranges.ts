/**
 * Which bytes of a chunk need a Put Page. Pure and synchronous.
 * All-zero chunks are skipped (every serious uploader does); inside a non-zero chunk we trim to
 * maximal runs of non-zero 64 KiB segments, which cut the bytes sent by ~63 % on scattered data
 * for ~10 % more requests (measured, see notes). Put Page bodies must be ≤ 4 MiB and 512-aligned.
 */

/** A byte range, in the page-blob service's words: a start offset and a byte count. */
export interface PageRange {
  offset: number
  count: number
}

export const PAGE_SIZE = 512
export const MAX_PUT_PAGE_BYTES = 4 * 1024 * 1024
export const CHUNK_SIZE = MAX_PUT_PAGE_BYTES
export const DEFAULT_SEGMENT_SIZE = 64 * 1024

/** Shared, never written: `Buffer.equals` against it is a memcmp (~40 GB/s). */
const ZEROS = Buffer.alloc(CHUNK_SIZE)

export function isAllZero(bytes: Buffer): boolean {
  for (let at = 0; at < bytes.length; at += ZEROS.length) {
    const part = bytes.subarray(at, Math.min(bytes.length, at + ZEROS.length))
    if (!part.equals(ZEROS.subarray(0, part.length))) return false
  }
  return true
}

/**
 * Runs of non-zero `segmentSize` segments in `chunk`, relative to its start, each ≤ 4 MiB.
 * The chunk length and the segment size must be multiples of 512 (a trailing partial segment is
 * allowed), so every run is page-aligned.
 */
export function nonZeroRuns(chunk: Buffer, segmentSize = DEFAULT_SEGMENT_SIZE): PageRange[] {
  if (chunk.length % PAGE_SIZE !== 0)
    throw new Error(`chunk length ${chunk.length} is not a multiple of ${PAGE_SIZE}`)
  if (segmentSize <= 0 || segmentSize % PAGE_SIZE !== 0 || segmentSize > ZEROS.length) {
    throw new Error(
      `segment size ${segmentSize} must be a positive multiple of ${PAGE_SIZE} up to ${ZEROS.length}`
    )
  }
  if (isAllZero(chunk)) return []
  const runs: PageRange[] = []
  let runStart = -1
  for (let at = 0; at < chunk.length; at += segmentSize) {
    const end = Math.min(chunk.length, at + segmentSize)
    const zero = chunk.subarray(at, end).equals(ZEROS.subarray(0, end - at))
    if (!zero && runStart < 0) runStart = at
    if (zero && runStart >= 0) {
      runs.push(...splitRange({ offset: runStart, count: at - runStart }))
      runStart = -1
    }
  }
  if (runStart >= 0) runs.push(...splitRange({ offset: runStart, count: chunk.length - runStart }))
  return runs
}

/** Splits a range into pieces of at most `max` bytes (Put Page's 4 MiB limit by default). */
export function splitRange(range: PageRange, max = MAX_PUT_PAGE_BYTES): PageRange[] {
  const pieces: PageRange[] = []
  for (let at = range.offset; at < range.offset + range.count; at += max) {
    pieces.push({ offset: at, count: Math.min(max, range.offset + range.count - at) })
  }
  return pieces
}

/** Sorts and merges overlapping or touching ranges (Azurite, unlike Azure, does not merge). */
export function mergeRanges(ranges: readonly PageRange[]): PageRange[] {
  const sorted = ranges.filter(r => r.count > 0).sort((a, b) => a.offset - b.offset)
  const merged: PageRange[] = []
  for (const r of sorted) appendRange(merged, r)
  return merged
}

/** Appends a range to a sorted, merged list whose ranges all start at or before `range`. */
export function appendRange(list: PageRange[], range: PageRange): void {
  if (range.count <= 0) return
  const last = list[list.length - 1]
  if (last && range.offset <= last.offset + last.count) {
    last.count = Math.max(last.count, range.offset + range.count - last.offset)
  } else {
    list.push({ offset: range.offset, count: range.count })
  }
}

/** `ranges` minus `remove`; both sorted, `remove` merged. Returns sorted, disjoint pieces. */
export function subtractRanges(
  ranges: readonly PageRange[],
  remove: readonly PageRange[]
): PageRange[] {
  const out: PageRange[] = []
  let j = 0
  for (const r of ranges) {
    let start = r.offset
    const end = r.offset + r.count
    while (j < remove.length && remove[j].offset + remove[j].count <= start) j++
    let k = j
    while (start < end && k < remove.length && remove[k].offset < end) {
      const rs = remove[k].offset
      const re = remove[k].offset + remove[k].count
      if (rs > start) out.push({ offset: start, count: rs - start })
      start = Math.max(start, re)
      k++
    }
    if (start < end) out.push({ offset: start, count: end - start })
  }
  return out
}

/** The first part of `required` not covered by `covered` (both sorted; `covered` merged), if any. */
export function firstUncovered(
  required: readonly PageRange[],
  covered: readonly PageRange[]
): PageRange | undefined {
  return subtractRanges(required, covered)[0]
}

export function totalBytes(ranges: readonly PageRange[]): number {
  return ranges.reduce((sum, r) => sum + r.count, 0)
}
