/**
 * Resuming an interrupted upload. Page ranges already on the service are only trustworthy when
 * they came from the same source file, so the caller stores a source identity next to the target
 * (blob metadata, or tags on the managed disk) and compares it before passing `alreadyWritten`.
 * The identity is cheap: size, mtime and SHA-256 of the first and last MiB (no whole-file hash:
 * 100 GiB would cost minutes of CPU).
 */
import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import { mergeRanges, subtractRanges, type PageRange } from './page-ranges.js'

const SAMPLE_BYTES = 1024 * 1024

export interface SourceIdentity {
  size: number
  mtimeMs: number
  /** SHA-256 (hex) of the first MiB of the file. */
  headSha256: string
  /** SHA-256 (hex) of the last MiB of the file. */
  tailSha256: string
}

export async function readSourceIdentity(path: string): Promise<SourceIdentity> {
  const handle = await open(path, 'r')
  try {
    const stat = await handle.stat()
    const sample = async (position: number): Promise<string> => {
      const length = Math.min(SAMPLE_BYTES, stat.size - position)
      const buf = Buffer.alloc(Math.max(0, length))
      let done = 0
      while (done < buf.length) {
        const { bytesRead } = await handle.read(buf, done, buf.length - done, position + done)
        if (bytesRead === 0) break
        done += bytesRead
      }
      return createHash('sha256').update(buf.subarray(0, done)).digest('hex')
    }
    return {
      size: stat.size,
      mtimeMs: Math.floor(stat.mtimeMs),
      headSha256: await sample(0),
      tailSha256: await sample(Math.max(0, stat.size - SAMPLE_BYTES))
    }
  } finally {
    await handle.close()
  }
}

/** Metadata / tag names are C# identifiers for blob metadata, so keep them lower-case letters. */
const KEYS = {
  size: 'vhdsourcesize',
  mtimeMs: 'vhdsourcemtime',
  headSha256: 'vhdsourcehead',
  tailSha256: 'vhdsourcetail'
}

/** The identity as string key/values, usable as blob metadata or resource tags. */
export function sourceIdentityToMetadata(identity: SourceIdentity): Record<string, string> {
  return {
    [KEYS.size]: String(identity.size),
    [KEYS.mtimeMs]: String(identity.mtimeMs),
    [KEYS.headSha256]: identity.headSha256,
    [KEYS.tailSha256]: identity.tailSha256
  }
}

/** Reads an identity back from metadata/tags; undefined when any part is missing or malformed. */
export function sourceIdentityFromMetadata(
  metadata: Record<string, string | undefined> | undefined
): SourceIdentity | undefined {
  if (!metadata) return undefined
  const lower: Record<string, string | undefined> = {}
  for (const [k, v] of Object.entries(metadata)) lower[k.toLowerCase()] = v
  const size = Number(lower[KEYS.size])
  const mtimeMs = Number(lower[KEYS.mtimeMs])
  const headSha256 = lower[KEYS.headSha256]
  const tailSha256 = lower[KEYS.tailSha256]
  if (!Number.isSafeInteger(size) || !Number.isFinite(mtimeMs) || !headSha256 || !tailSha256)
    return undefined
  return { size, mtimeMs, headSha256, tailSha256 }
}

/**
 * Tag set on an upload disk once its write access was revoked after the whole file was sent
 * (pages and footer acknowledged): the only proof a re-run attempt has that an `Unattached` disk
 * holds the file. `Unattached` alone proves nothing: a failed upload is sealed (footer written) so
 * that its access can be revoked, and is `Unattached` too until the cleanup deletes it.
 */
export const UPLOAD_COMPLETE_TAG = 'vhduploadcomplete'

export function sameSourceIdentity(
  a: SourceIdentity | undefined,
  b: SourceIdentity | undefined
): boolean {
  return (
    !!a &&
    !!b &&
    a.size === b.size &&
    a.mtimeMs === b.mtimeMs &&
    a.headSha256 === b.headSha256 &&
    a.tailSha256 === b.tailSha256
  )
}

/**
 * A filter for runs produced in increasing offset order: returns the parts of `run` not already
 * on the service. A moving cursor keeps it linear over the whole upload.
 */
export function createResumeFilter(
  alreadyWritten: readonly PageRange[] | undefined
): (run: PageRange) => PageRange[] {
  const written = mergeRanges(alreadyWritten ?? [])
  if (written.length === 0) return run => [run]
  let cursor = 0
  return run => {
    while (cursor < written.length && written[cursor].offset + written[cursor].count <= run.offset)
      cursor++
    return subtractRanges(
      [run],
      written.slice(cursor, cursor + 1 + countOverlapping(written, cursor, run))
    )
  }
}

function countOverlapping(written: readonly PageRange[], from: number, run: PageRange): number {
  let n = 0
  while (from + 1 + n < written.length && written[from + 1 + n].offset < run.offset + run.count) n++
  return n
}

/**
 * Ranges holding data on the service where the image is zero: they must be cleared, or an older,
 * different image would show through (AzCopy's "two images into one managed disk" bug).
 * `expected` is the image's non-zero runs (sorted, merged); only [0, virtualSize) is considered
 * because the footer is rewritten anyway.
 */
export function rangesToClear(
  expected: readonly PageRange[],
  alreadyWritten: readonly PageRange[],
  virtualSize: number
): PageRange[] {
  const written = mergeRanges(alreadyWritten)
    .map(r => ({ offset: r.offset, count: Math.min(r.offset + r.count, virtualSize) - r.offset }))
    .filter(r => r.count > 0)
  return subtractRanges(written, expected)
}
