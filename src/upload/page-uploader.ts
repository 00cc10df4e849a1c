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
import { abortReason, sleep } from '../sleep.js'
import type { DiskImage } from './disk-format.js'
import { openDiskReader } from './disk-reader.js'
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

export type WriteErrorKind = 'throttle' | 'transient' | 'fatal'

const NETWORK_ERROR_CODES = new Set([
  'ECONNRESET',
  'ECONNABORTED',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'REQUEST_SEND_ERROR',
  'UND_ERR_SOCKET'
])

/**
 * What to do about a failed write. Throttling and dropped connections mean the target is
 * overloaded: retry with a lower concurrency. Other 5xx: retry. Anything else (403 expired SAS,
 * 404, 412…) will not get better by retrying.
 */
export function classifyWriteError(error: unknown): WriteErrorKind {
  const e = error as {
    statusCode?: number
    code?: string
    name?: string
    cause?: { code?: string }
  }
  const status = e?.statusCode
  if (status === 429 || status === 503 || status === 408) return 'throttle'
  if (status === 500 && e.code === 'OperationTimedOut') return 'throttle'
  if (status !== undefined && status >= 500) return 'transient'
  if (status === 400 && e.code === 'Md5Mismatch') return 'transient' // corrupted in transit
  if (status !== undefined && status > 0) return 'fatal'
  if (e?.name === 'TryTimeoutError') return 'throttle'
  if (NETWORK_ERROR_CODES.has(e?.code ?? '') || NETWORK_ERROR_CODES.has(e?.cause?.code ?? ''))
    return 'throttle'
  return 'fatal'
}

export class UploadError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause })
    this.name = 'UploadError'
  }
}

/** Retry-After (seconds) sent with 503/429, if any. */
function retryAfterMs(error: unknown): number | undefined {
  const headers = (error as { response?: { headers?: { get?(name: string): string | undefined } } })
    ?.response?.headers
  const value = headers?.get?.('retry-after')
  const seconds = value === undefined ? NaN : Number(value)
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined
}

/** Exponential backoff with "equal jitter": half fixed, half random, so retries spread out. */
export function backoffDelayMs(
  attempt: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random = Math.random
): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1))
  return ceiling / 2 + random() * (ceiling / 2)
}

/**
 * Limits writes in flight to `limit`, which AIMD moves between 1 and `max`: halved on throttling
 * (once per window: failures of requests started before the last cut don't cut again), +1 after
 * `limit` successes in a row.
 */
export class ConcurrencyLimiter {
  limit: number
  lowest: number
  private active = 0
  private epoch = 0
  private successes = 0
  private readonly waiters: Array<{
    resolve: () => void
    reject: (e: unknown) => void
    signal: AbortSignal
    onAbort: () => void
  }> = []

  constructor(readonly max: number) {
    this.limit = max
    this.lowest = max
  }

  /** Waits for a slot; returns the epoch to pass to throttled(). */
  async enter(signal: AbortSignal, priority = false): Promise<number> {
    if (signal.aborted) throw abortReason(signal)
    if (this.active < this.limit && this.waiters.length === 0) {
      this.active++
      return this.epoch
    }
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          const i = this.waiters.indexOf(waiter)
          if (i >= 0) this.waiters.splice(i, 1)
          reject(abortReason(signal))
        }
      }
      signal.addEventListener('abort', waiter.onAbort, { once: true })
      if (priority) this.waiters.unshift(waiter)
      else this.waiters.push(waiter)
    })
    return this.epoch
  }

  leave(): void {
    this.active--
    this.wake()
  }

  succeeded(): void {
    if (++this.successes >= this.limit && this.limit < this.max) {
      this.limit++
      this.successes = 0
      this.wake()
    }
  }

  /** Returns the new limit if this failure cut it, else undefined. */
  throttled(startedInEpoch: number): number | undefined {
    this.successes = 0
    if (startedInEpoch !== this.epoch || this.limit === 1) return undefined
    this.epoch++
    this.limit = Math.max(1, Math.floor(this.limit / 2))
    this.lowest = Math.min(this.lowest, this.limit)
    return this.limit
  }

  private wake(): void {
    while (this.active < this.limit && this.waiters.length > 0) {
      const waiter = this.waiters.shift()!
      waiter.signal.removeEventListener('abort', waiter.onAbort)
      this.active++
      waiter.resolve()
    }
  }
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

export async function uploadDiskImage(options: UploadOptions): Promise<UploadResult> {
  const { image, sink, log } = options
  const concurrency = options.concurrency ?? 8
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new RangeError(`upload concurrency must be an integer from 1 to 64, got ${concurrency}`)
  }
  const maxTries = Math.max(1, options.retry?.maxTries ?? 8)
  const baseDelayMs = options.retry?.baseDelayMs ?? 1000
  const maxDelayMs = options.retry?.maxDelayMs ?? 60_000
  const segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_SIZE
  const useMd5 = options.md5 ?? true
  const started = Date.now()

  const internal = new AbortController()
  const signal = options.signal
    ? AbortSignal.any([options.signal, internal.signal])
    : internal.signal
  if (signal.aborted) throw abortReason(signal)

  const limiter = new ConcurrencyLimiter(concurrency)
  // Resume trusts the target's page ranges only for where data is, never for what it is: every
  // range it would skip is read back and compared, and sent again if it differs. A target that
  // cannot be read back gets everything again.
  const canVerify = sink.readPages !== undefined
  if (options.alreadyWritten && options.alreadyWritten.length > 0 && !canVerify)
    log.info(
      'The target cannot be read back to check what an earlier attempt wrote: sending everything again'
    )
  const skipWritten = createResumeFilter(canVerify ? options.alreadyWritten : undefined)
  // Two buffers per writer: one being sent, one read ahead (≈ 2·N·4 MiB in total).
  const reader = await openDiskReader(image, { buffers: 2 * concurrency, direct: options.directIo })
  log.debug(oneLine(`Reading ${image.path} with ${reader.direct ? 'O_DIRECT' : 'buffered'} reads`))

  const expected: PageRange[] = [] // the image's non-zero runs, merged: what the target must hold
  let bytesSent = 0
  let bytesSkippedAsWritten = 0
  let bytesRewritten = 0
  let bytesProcessed = 0
  let scannedUpTo = 0
  let requests = 0
  let retries = 0
  let fatal: unknown

  const progress = (): UploadProgress => ({
    bytesProcessed,
    bytesToRead: image.bytesToRead,
    bytesSent,
    bytesSkippedAsZero: scannedUpTo - totalBytesCached(),
    bytesSkippedAsWritten,
    requests,
    elapsedMs: Date.now() - started,
    concurrency: limiter.limit
  })
  let expectedBytes = 0
  const totalBytesCached = (): number => expectedBytes

  let lastProgressCall = 0
  const reportProgress = (force = false): void => {
    if (!options.onProgress) return
    const now = Date.now()
    if (!force && now - lastProgressCall < 250) return
    lastProgressCall = now
    options.onProgress(progress())
  }
  const timer = setInterval(
    () => log.info(oneLine(describeProgress(progress()))),
    options.progressIntervalMs ?? 10_000
  )
  timer.unref?.()

  /** One request with retries; holds a concurrency slot only while the request is in flight. */
  const send = async (job: WriteJob): Promise<void> => {
    for (let attempt = 1; ; attempt++) {
      const epoch = await limiter.enter(signal, attempt > 1)
      try {
        if (job.kind === 'write') await sink.writePages(job.body!, job.offset, job.md5, signal)
        else await sink.clearPages!(job.offset, job.count, signal)
      } catch (e) {
        limiter.leave()
        if (signal.aborted) throw abortReason(signal)
        const kind = classifyWriteError(e)
        const what = `${job.kind === 'write' ? 'Put Page' : 'Clear Pages'} at offset ${job.offset} (${job.count} bytes)`
        const message = (e as Error)?.message ?? String(e)
        if (kind === 'fatal' || attempt >= maxTries) {
          const status = (e as { statusCode?: number }).statusCode
          const hint =
            status === 403 ? ' (the SAS may have expired or may not grant write access)' : ''
          throw new UploadError(
            `${what} failed${attempt > 1 ? ` after ${attempt} tries` : ''}: ${message}${hint}`,
            e
          )
        }
        retries++
        if (kind === 'throttle') {
          const cut = limiter.throttled(epoch)
          if (cut !== undefined)
            log.warning(
              oneLine(`${what}: ${message}; the target is busy, reducing concurrency to ${cut}`)
            )
          else log.debug(oneLine(`${what}: ${message}; retrying`))
        } else {
          log.debug(oneLine(`${what}: ${message}; retrying`))
        }
        const delay = Math.min(
          maxDelayMs,
          Math.max(backoffDelayMs(attempt, baseDelayMs, maxDelayMs), retryAfterMs(e) ?? 0)
        )
        await sleep(delay, signal)
        continue
      }
      limiter.leave()
      limiter.succeeded()
      requests++
      if (job.kind === 'write') bytesSent += job.count
      return
    }
  }

  /**
   * Whether the target holds `body` at `range` (Get Blob of the range, in one request slot). A
   * read the target refuses counts as "different": the range is sent again.
   */
  let readRefusedLogged = false
  const sameOnTarget = async (range: PageRange, body: Buffer): Promise<boolean> => {
    await limiter.enter(signal) // throws when aborted, before taking a slot
    try {
      const there = await withRetries(
        'Get Blob',
        () => sink.readPages!(range.offset, range.count, signal),
        { maxTries, baseDelayMs, maxDelayMs, signal, log }
      )
      return there.equals(body)
    } catch (e) {
      if (signal.aborted) throw abortReason(signal)
      if (!readRefusedLogged) {
        readRefusedLogged = true
        log.warning(
          oneLine(
            `Could not read back what an earlier attempt wrote (${(e as Error).message}): sending those ranges again`
          )
        )
      }
      return false
    } finally {
      limiter.leave()
    }
  }

  const inFlight = new Set<Promise<void>>()
  const track = (p: Promise<void>): void => {
    const tracked = p.catch(e => {
      if (fatal === undefined) fatal = e
      internal.abort(e)
    })
    inFlight.add(tracked)
    void tracked.finally(() => inFlight.delete(tracked))
  }

  try {
    try {
      for await (const chunk of reader.chunks(signal)) {
        const chunkEnd = chunk.virtualOffset + chunk.data.length
        const readBytes = bytesInExtents(image, chunk.virtualOffset, chunkEnd)
        const pieces: PageRange[] = []
        const checks: PageRange[] = []
        for (const run of nonZeroRuns(chunk.data, segmentSize)) {
          const absolute = { offset: chunk.virtualOffset + run.offset, count: run.count }
          appendRange(expected, absolute)
          expectedBytes += run.count
          const remaining = skipWritten(absolute)
          pieces.push(...remaining)
          checks.push(...subtractRanges([absolute], remaining))
        }
        scannedUpTo = chunkEnd
        if (pieces.length === 0 && checks.length === 0) {
          chunk.release()
          bytesProcessed += readBytes
          reportProgress()
          continue
        }
        let pending = pieces.length + checks.length
        const done = (): void => {
          if (--pending === 0) {
            chunk.release()
            bytesProcessed += readBytes
            reportProgress()
          }
        }
        const bodyOf = (r: PageRange): Buffer =>
          chunk.data.subarray(
            r.offset - chunk.virtualOffset,
            r.offset - chunk.virtualOffset + r.count
          )
        const write = (r: PageRange): Promise<void> => {
          const body = bodyOf(r)
          const md5 = useMd5 ? createHash('md5').update(body).digest() : undefined
          return send({ kind: 'write', offset: r.offset, count: r.count, body, md5 })
        }
        for (const piece of pieces) track(write(piece).then(done))
        for (const check of checks) {
          track(
            (async () => {
              if (await sameOnTarget(check, bodyOf(check))) bytesSkippedAsWritten += check.count
              else {
                bytesRewritten += check.count
                await write(check)
              }
            })().then(done)
          )
        }
      }
      scannedUpTo = image.virtualSize
    } catch (e) {
      if (fatal === undefined) fatal = e
      internal.abort(e)
    }
    while (inFlight.size > 0) await Promise.all([...inFlight])
    if (fatal !== undefined) throw options.signal?.aborted ? abortReason(options.signal) : fatal

    // Resuming onto a target that has data where this image is zero: clear it, or it shows through.
    let bytesCleared = 0
    if (options.alreadyWritten && options.alreadyWritten.length > 0) {
      const clears = rangesToClear(expected, options.alreadyWritten, image.virtualSize)
      if (clears.length > 0) {
        if (!sink.clearPages)
          throw new UploadError(
            `the target holds data in ${clears.length} ranges where the image is empty, and this sink cannot clear pages`
          )
        log.info(
          oneLine(
            `Clearing ${formatMiB(totalBytes(clears))} on the target where the image is empty`
          )
        )
        for (const clear of clears.flatMap(r => splitRange(r, 1024 * 1024 * 1024))) {
          track(send({ kind: 'clear', offset: clear.offset, count: clear.count }))
          bytesCleared += clear.count
        }
        while (inFlight.size > 0) await Promise.all([...inFlight])
        if (fatal !== undefined) throw fatal
      }
    }

    // The footer last: only a complete upload carries it.
    await send({
      kind: 'write',
      offset: image.virtualSize,
      count: image.footer.length,
      body: image.footer,
      md5: useMd5 ? createHash('md5').update(image.footer).digest() : undefined
    })

    if (options.verify ?? true) {
      const required = [...expected, { offset: image.virtualSize, count: image.footer.length }]
      const written = await withRetries('Get Page Ranges', () => sink.listWrittenRanges(signal), {
        maxTries,
        baseDelayMs,
        maxDelayMs,
        signal,
        log
      })
      const missing = firstUncovered(required, mergeRanges(written))
      if (missing) {
        throw new UploadError(
          `verification failed: the target's page ranges do not cover ${missing.count} bytes at offset ${missing.offset} that were uploaded`
        )
      }
    }

    const result: UploadResult = {
      bytesSent,
      dataBytes: expectedBytes,
      bytesSkippedAsZero: image.virtualSize - expectedBytes,
      bytesSkippedAsWritten,
      bytesRewritten,
      bytesCleared,
      requests,
      retries,
      durationMs: Date.now() - started,
      directIo: reader.direct,
      lowestConcurrency: limiter.lowest
    }
    bytesProcessed = image.bytesToRead
    reportProgress(true)
    // The per-disk result line is the caller's (upload-image.ts sendDisk): one line per disk.
    return result
  } finally {
    clearInterval(timer)
    await reader.close()
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

async function withRetries<T>(
  what: string,
  run: () => Promise<T>,
  o: {
    maxTries: number
    baseDelayMs: number
    maxDelayMs: number
    signal: AbortSignal
    log: UploadLogger
  }
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run()
    } catch (e) {
      if (o.signal.aborted) throw abortReason(o.signal)
      if (classifyWriteError(e) === 'fatal' || attempt >= o.maxTries)
        throw new UploadError(`${what} failed: ${(e as Error)?.message ?? e}`, e)
      o.log.debug(oneLine(`${what}: ${(e as Error)?.message}; retrying`))
      await sleep(backoffDelayMs(attempt, o.baseDelayMs, o.maxDelayMs), o.signal)
    }
  }
}
