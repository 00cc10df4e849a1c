/**
 * Uploads a disk image into a page sink (page blob or managed disk) as a fixed VHD:
 * one sequential reader, zero chunks skipped, non-zero chunks trimmed to 64 KiB runs, up to
 * `concurrency` Put Pages in flight, each with a transactional MD5, and the footer last, so
 * "footer present" means "complete". Throttling (503 ServerBusy, 500 OperationTimedOut, 429,
 * dropped connections, timeouts) is retried with exponential backoff and jitter and halves the
 * concurrency (AIMD: it grows back by one after a window of successes), because beyond a few
 * connections a single blob/disk answers with timeouts rather than throughput.
 */
import { createHash } from 'node:crypto'
import { formatDuration, type Logger } from '../log.js'
import { abortReason } from '../sleep.js'
import { ConcurrencyLimiter } from './concurrency-limiter.js'
import type { DiskImage } from './disk-format.js'
import { openDiskReader, type DiskChunk, type DiskReader } from './disk-reader.js'
import {
  appendRange,
  firstUncovered,
  mergeRanges,
  nonZeroRuns,
  splitRange,
  subtractRanges,
  totalBytes,
  DEFAULT_SEGMENT_SIZE,
  type PageRange
} from './page-ranges.js'
import { createResumeFilter, rangesToClear } from './resume.js'
import { oneLine } from '../untrusted.js'
import { retryWrite, UploadError, type RetryPolicy } from './write-retry.js'
import { errorMessage } from '../error-message.js'

/** The uploader only reports progress and retries: the three plain methods of the run's Logger. */
export type UploadLogger = Pick<Logger, 'info' | 'warning' | 'debug'>

/** Where pages go. Implemented over PageBlobClient by page-blob-sink.ts; tests use fakes. */
export interface PageSink {
  /** One Put Page: `body.length` ≤ 4 MiB, offset and length multiples of 512. */
  writePages(
    body: Buffer,
    offset: number,
    md5: Buffer | undefined,
    signal: AbortSignal
  ): Promise<void>
  /** The ranges holding data (Get Page Ranges); order and merging are not assumed. */
  listWrittenRanges(signal: AbortSignal): Promise<PageRange[]>
  /** Put Page with `x-ms-page-write: clear`; only needed when resuming onto foreign data. */
  clearPages?(offset: number, count: number, signal: AbortSignal): Promise<void>
  /** Get Blob of a range: lets a resumed upload check the content it would skip. */
  readPages?(offset: number, count: number, signal: AbortSignal): Promise<Buffer>
}

export interface UploadProgress {
  /** Bytes of the image's data extents read and fully written (or found empty). */
  bytesProcessed: number
  /** All bytes the reader will read (the virtual size, or the allocated blocks of a dynamic VHD). */
  bytesToRead: number
  bytesSent: number
  bytesSkippedAsZero: number
  bytesSkippedAsWritten: number
  requests: number
  elapsedMs: number
  concurrency: number
}

export interface RetryOptions {
  /** Tries per request, the first included (default 8). */
  maxTries?: number
  baseDelayMs?: number
  maxDelayMs?: number
}

export interface UploadOptions {
  image: DiskImage
  sink: PageSink
  /** Writes in flight (default 8, 1–64). */
  concurrency?: number
  signal?: AbortSignal
  log: UploadLogger
  onProgress?: (progress: UploadProgress) => void
  /** Ranges already on the target from an earlier attempt with the same source identity. */
  alreadyWritten?: readonly PageRange[]
  /** Send `transactionalContentMD5` with each Put Page (default true). */
  md5?: boolean
  /** Trim granularity inside non-zero chunks (default 64 KiB). */
  segmentSize?: number
  retry?: RetryOptions
  /** Progress log interval (default 10 s). */
  progressIntervalMs?: number
  /** Try O_DIRECT reads (default true). */
  directIo?: boolean
  /** Check the target's page ranges cover everything sent (default true). */
  verify?: boolean
}

export interface UploadResult {
  /** Body bytes of every successful Put Page, the footer included. */
  bytesSent: number
  /** Non-zero bytes of the image (what the target holds besides the footer). */
  dataBytes: number
  /** Virtual bytes not sent because they are zero. */
  bytesSkippedAsZero: number
  /** Non-zero bytes not sent because the target already had them, read back and equal (resume). */
  bytesSkippedAsWritten: number
  /** Bytes the target listed as written but held other content: sent again (resume). */
  bytesRewritten: number
  /** Bytes cleared on the target because they held data where the image is zero (resume). */
  bytesCleared: number
  /** Successful write requests (Put Page and clears), the footer included. */
  requests: number
  retries: number
  durationMs: number
  directIo: boolean
  lowestConcurrency: number
}

function formatMiB(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}

export function describeProgress(p: UploadProgress): string {
  const fraction = p.bytesToRead > 0 ? p.bytesProcessed / p.bytesToRead : 1
  const seconds = p.elapsedMs / 1000
  const rate = seconds > 0 ? p.bytesSent / 1024 / 1024 / seconds : 0
  const eta =
    fraction > 0 && fraction < 1
      ? `, ETA ${formatDuration((p.elapsedMs * (1 - fraction)) / fraction)}`
      : ''
  return (
    `Uploaded ${formatMiB(p.bytesProcessed)} of ${formatMiB(p.bytesToRead)} of disk data (${(fraction * 100).toFixed(1)} %): ` +
    `sent ${formatMiB(p.bytesSent)} at ${rate.toFixed(1)} MiB/s, ${formatMiB(p.bytesSkippedAsZero)} skipped as empty` +
    (p.bytesSkippedAsWritten > 0
      ? `, ${formatMiB(p.bytesSkippedAsWritten)} already uploaded`
      : '') +
    `, ${p.concurrency} in flight${eta}`
  )
}

interface WriteJob {
  kind: 'write' | 'clear'
  offset: number
  count: number
  body?: Buffer
  md5?: Buffer
}

/** One upload in progress: what its parts (send, check, drain) share, and what they count. */
interface UploadRun {
  image: DiskImage
  sink: PageSink
  log: UploadLogger
  /** The caller's signal joined with `internal`: a write that fails for good stops the others. */
  signal: AbortSignal
  outer: AbortSignal | undefined
  internal: AbortController
  limiter: ConcurrencyLimiter
  retry: Omit<RetryPolicy, 'onRetry'>
  useMd5: boolean
  segmentSize: number
  /** The image's non-zero runs, merged: what the target must hold. */
  expected: PageRange[]
  count: {
    bytesSent: number
    bytesSkippedAsWritten: number
    bytesRewritten: number
    bytesProcessed: number
    scannedUpTo: number
    expectedBytes: number
    requests: number
    retries: number
  }
  inFlight: Set<Promise<void>>
  fatal: unknown
  readRefusedLogged: boolean
}

/** Chunks read ahead of the writers, so a writer that finishes finds its next chunk ready. */
const READ_AHEAD_BUFFERS = 2

export async function uploadDiskImage(options: UploadOptions): Promise<UploadResult> {
  const concurrency = options.concurrency ?? 8
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new RangeError(`upload concurrency must be an integer from 1 to 64, got ${concurrency}`)
  }
  const { image, log } = options
  const started = Date.now()
  const run = startRun(options, concurrency)
  const skipWritten = resumeFilter(run, options.alreadyWritten)
  // One buffer per writer being sent plus two read ahead ((N + 2)·4 MiB): a chunk stays held until
  // all its page writes finish, and at most N writes are in flight, so more buffers only wait.
  // Measured with `npm run bench` (whole action, c = 8): 2·N buffers cost 24 MiB more peak RSS.
  const reader = await openDiskReader(image, {
    buffers: concurrency + READ_AHEAD_BUFFERS,
    direct: options.directIo
  })
  log.debug(oneLine(`Reading ${image.path} with ${reader.direct ? 'O_DIRECT' : 'buffered'} reads`))

  const progress = (): UploadProgress => ({
    bytesProcessed: run.count.bytesProcessed,
    bytesToRead: image.bytesToRead,
    bytesSent: run.count.bytesSent,
    bytesSkippedAsZero: run.count.scannedUpTo - run.count.expectedBytes,
    bytesSkippedAsWritten: run.count.bytesSkippedAsWritten,
    requests: run.count.requests,
    elapsedMs: Date.now() - started,
    concurrency: run.limiter.limit
  })
  const reportProgress = progressReporter(options.onProgress, progress)
  const timer = setInterval(
    () => log.info(oneLine(describeProgress(progress()))),
    options.progressIntervalMs ?? 10_000
  )
  timer.unref?.()

  try {
    await sendImage(run, reader, skipWritten, reportProgress)
    const bytesCleared = await clearWhereImageIsEmpty(run, options.alreadyWritten)
    // The footer last: only a complete upload carries it.
    await send(run, writeJob(run, image.virtualSize, image.footer))
    if (options.verify ?? true) await verifyTarget(run)

    const { count } = run
    const result: UploadResult = {
      bytesSent: count.bytesSent,
      dataBytes: count.expectedBytes,
      bytesSkippedAsZero: image.virtualSize - count.expectedBytes,
      bytesSkippedAsWritten: count.bytesSkippedAsWritten,
      bytesRewritten: count.bytesRewritten,
      bytesCleared,
      requests: count.requests,
      retries: count.retries,
      durationMs: Date.now() - started,
      directIo: reader.direct,
      lowestConcurrency: run.limiter.lowest
    }
    count.bytesProcessed = image.bytesToRead
    reportProgress(true)
    // The per-disk result line is the caller's (send-disk.ts sendDisk): one line per disk.
    return result
  } finally {
    clearInterval(timer)
    await reader.close()
  }
}

function startRun(options: UploadOptions, concurrency: number): UploadRun {
  const internal = new AbortController()
  const signal = options.signal
    ? AbortSignal.any([options.signal, internal.signal])
    : internal.signal
  if (signal.aborted) throw abortReason(signal)
  return {
    image: options.image,
    sink: options.sink,
    log: options.log,
    signal,
    outer: options.signal,
    internal,
    limiter: new ConcurrencyLimiter(concurrency),
    retry: {
      maxTries: Math.max(1, options.retry?.maxTries ?? 8),
      baseDelayMs: options.retry?.baseDelayMs ?? 1000,
      maxDelayMs: options.retry?.maxDelayMs ?? 60_000,
      signal
    },
    useMd5: options.md5 ?? true,
    segmentSize: options.segmentSize ?? DEFAULT_SEGMENT_SIZE,
    expected: [],
    count: {
      bytesSent: 0,
      bytesSkippedAsWritten: 0,
      bytesRewritten: 0,
      bytesProcessed: 0,
      scannedUpTo: 0,
      expectedBytes: 0,
      requests: 0,
      retries: 0
    },
    inFlight: new Set(),
    fatal: undefined,
    readRefusedLogged: false
  }
}

/**
 * Resume trusts the target's page ranges only for where data is, never for what it is: every
 * range it would skip is read back and compared, and sent again if it differs. A target that
 * cannot be read back gets everything again.
 */
function resumeFilter(
  run: UploadRun,
  alreadyWritten: readonly PageRange[] | undefined
): (range: PageRange) => PageRange[] {
  const canVerify = run.sink.readPages !== undefined
  if (alreadyWritten && alreadyWritten.length > 0 && !canVerify)
    run.log.info(
      'The target cannot be read back to check what an earlier attempt wrote: sending everything again'
    )
  return createResumeFilter(canVerify ? alreadyWritten : undefined)
}

/** Calls `onProgress` at most every 250 ms, or now when forced. */
function progressReporter(
  onProgress: ((progress: UploadProgress) => void) | undefined,
  progress: () => UploadProgress
): (force?: boolean) => void {
  let lastCall = 0
  return (force = false) => {
    if (!onProgress) return
    const now = Date.now()
    if (!force && now - lastCall < 250) return
    lastCall = now
    onProgress(progress())
  }
}

/** Reads the whole image and sends its non-zero runs; returns when every write has settled. */
async function sendImage(
  run: UploadRun,
  reader: DiskReader,
  skipWritten: (range: PageRange) => PageRange[],
  reportProgress: () => void
): Promise<void> {
  try {
    for await (const chunk of reader.chunks(run.signal)) {
      sendChunk(run, chunk, skipWritten, reportProgress)
    }
    run.count.scannedUpTo = run.image.virtualSize
  } catch (e) {
    fail(run, e)
  }
  await drain(run)
  if (run.fatal !== undefined) throw run.outer?.aborted ? abortReason(run.outer) : run.fatal
}

/**
 * Starts the writes (and, when resuming, the read-back checks) of one chunk's non-zero runs;
 * the chunk's buffer goes back to the reader once all of them have settled.
 */
function sendChunk(
  run: UploadRun,
  chunk: DiskChunk,
  skipWritten: (range: PageRange) => PageRange[],
  reportProgress: () => void
): void {
  const chunkEnd = chunk.virtualOffset + chunk.data.length
  const readBytes = bytesInExtents(run.image, chunk.virtualOffset, chunkEnd)
  const pieces: PageRange[] = []
  const checks: PageRange[] = []
  for (const nonZero of nonZeroRuns(chunk.data, run.segmentSize)) {
    const absolute = { offset: chunk.virtualOffset + nonZero.offset, count: nonZero.count }
    appendRange(run.expected, absolute)
    run.count.expectedBytes += nonZero.count
    const remaining = skipWritten(absolute)
    pieces.push(...remaining)
    checks.push(...subtractRanges([absolute], remaining))
  }
  run.count.scannedUpTo = chunkEnd
  let pending = pieces.length + checks.length
  const done = (): void => {
    if (--pending > 0) return
    chunk.release()
    run.count.bytesProcessed += readBytes
    reportProgress()
  }
  if (pending === 0) return done()
  const bodyOf = (r: PageRange): Buffer =>
    chunk.data.subarray(r.offset - chunk.virtualOffset, r.offset - chunk.virtualOffset + r.count)
  const write = (r: PageRange): Promise<void> => send(run, writeJob(run, r.offset, bodyOf(r)))
  for (const piece of pieces) track(run, write(piece).then(done))
  for (const check of checks) {
    const checked = async (): Promise<void> => {
      if (await sameOnTarget(run, check, bodyOf(check)))
        run.count.bytesSkippedAsWritten += check.count
      else {
        run.count.bytesRewritten += check.count
        await write(check)
      }
    }
    track(run, checked().then(done))
  }
}

function writeJob(run: UploadRun, offset: number, body: Buffer): WriteJob {
  const md5 = run.useMd5 ? createHash('md5').update(body).digest() : undefined
  return { kind: 'write', offset, count: body.length, body, md5 }
}

/** One request with retries; holds a concurrency slot only while the request is in flight. */
async function send(run: UploadRun, job: WriteJob): Promise<void> {
  const { sink, limiter, signal, log } = run
  const what = `${job.kind === 'write' ? 'Put Page' : 'Clear Pages'} at offset ${job.offset} (${job.count} bytes)`
  let epoch = 0
  const onRetry: RetryPolicy['onRetry'] = (kind, message) => {
    run.count.retries++
    const cut = kind === 'throttle' ? limiter.throttled(epoch) : undefined
    if (cut !== undefined)
      log.warning(
        oneLine(`${what}: ${message}; the target is busy, reducing concurrency to ${cut}`)
      )
    else log.debug(oneLine(`${what}: ${message}; retrying`))
  }
  await retryWrite(what, { ...run.retry, onRetry }, async attempt => {
    epoch = await limiter.enter(signal, attempt > 1)
    try {
      if (job.body) await sink.writePages(job.body, job.offset, job.md5, signal)
      else if (sink.clearPages) await sink.clearPages(job.offset, job.count, signal)
      else throw new UploadError('this target cannot clear pages')
    } finally {
      limiter.leave()
    }
  })
  limiter.succeeded()
  run.count.requests++
  if (job.kind === 'write') run.count.bytesSent += job.count
}

/** Retries that only log (reads: they neither count as write retries nor cut concurrency). */
function readPolicy(run: UploadRun, what: string): RetryPolicy {
  return {
    ...run.retry,
    onRetry: (_kind, message) => run.log.debug(oneLine(`${what}: ${message}; retrying`))
  }
}

/**
 * Whether the target holds `body` at `range` (Get Blob of the range, in one request slot). A
 * read the target refuses counts as "different": the range is sent again.
 */
async function sameOnTarget(run: UploadRun, range: PageRange, body: Buffer): Promise<boolean> {
  const { sink, limiter, signal } = run
  const readPages = sink.readPages
  if (!readPages) return false
  await limiter.enter(signal) // throws when aborted, before taking a slot
  try {
    const there = await retryWrite('Get Blob', readPolicy(run, 'Get Blob'), () =>
      readPages.call(sink, range.offset, range.count, signal)
    )
    return there.equals(body)
  } catch (e) {
    if (signal.aborted) throw abortReason(signal)
    if (!run.readRefusedLogged) {
      run.readRefusedLogged = true
      run.log.warning(
        oneLine(
          `Could not read back what an earlier attempt wrote (${errorMessage(e)}): sending those ranges again`
        )
      )
    }
    return false
  } finally {
    limiter.leave()
  }
}

/** The first failure wins and stops the rest. */
function fail(run: UploadRun, error: unknown): void {
  if (run.fatal === undefined) run.fatal = error
  run.internal.abort(error)
}

function track(run: UploadRun, p: Promise<void>): void {
  const tracked = p.catch(e => fail(run, e))
  run.inFlight.add(tracked)
  void tracked.finally(() => run.inFlight.delete(tracked))
}

async function drain(run: UploadRun): Promise<void> {
  while (run.inFlight.size > 0) await Promise.all([...run.inFlight])
}

/** Resuming onto a target that has data where this image is zero: clear it, or it shows through. */
async function clearWhereImageIsEmpty(
  run: UploadRun,
  alreadyWritten: readonly PageRange[] | undefined
): Promise<number> {
  if (!alreadyWritten || alreadyWritten.length === 0) return 0
  const clears = rangesToClear(run.expected, alreadyWritten, run.image.virtualSize)
  if (clears.length === 0) return 0
  if (!run.sink.clearPages)
    throw new UploadError(
      `the target holds data in ${clears.length} ranges where the image is empty, and this sink cannot clear pages`
    )
  run.log.info(
    oneLine(`Clearing ${formatMiB(totalBytes(clears))} on the target where the image is empty`)
  )
  let bytesCleared = 0
  for (const clear of clears.flatMap(r => splitRange(r, 1024 * 1024 * 1024))) {
    track(run, send(run, { kind: 'clear', offset: clear.offset, count: clear.count }))
    bytesCleared += clear.count
  }
  await drain(run)
  if (run.fatal !== undefined) throw run.fatal
  return bytesCleared
}

/** The target's page ranges must cover everything sent, the footer included. */
async function verifyTarget(run: UploadRun): Promise<void> {
  const { image, sink, signal } = run
  const required = [...run.expected, { offset: image.virtualSize, count: image.footer.length }]
  const written = await retryWrite('Get Page Ranges', readPolicy(run, 'Get Page Ranges'), () =>
    sink.listWrittenRanges(signal)
  )
  const missing = firstUncovered(required, mergeRanges(written))
  if (missing) {
    throw new UploadError(
      `verification failed: the target's page ranges do not cover ${missing.count} bytes at offset ${missing.offset} that were uploaded`
    )
  }
}

/** Bytes of the image's extents inside [start, end) of the virtual disk. */
function bytesInExtents(image: DiskImage, start: number, end: number): number {
  if (image.extents.length === 1) {
    const e = image.extents[0]
    return Math.max(0, Math.min(end, e.virtualOffset + e.length) - Math.max(start, e.virtualOffset))
  }
  let sum = 0
  for (const e of extentsNear(image, start)) {
    if (e.virtualOffset >= end) break
    sum += Math.max(0, Math.min(end, e.virtualOffset + e.length) - Math.max(start, e.virtualOffset))
  }
  return sum
}

/** Extents from the first one that may overlap `start` (binary search; extents are sorted). */
function* extentsNear(image: DiskImage, start: number): Generator<DiskImage['extents'][number]> {
  const list = image.extents
  let lo = 0
  let hi = list.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (list[mid].virtualOffset + list[mid].length <= start) lo = mid + 1
    else hi = mid
  }
  for (let i = lo; i < list.length; i++) yield list[i]
}
