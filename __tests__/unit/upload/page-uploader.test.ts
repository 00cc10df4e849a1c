import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { inspectDiskImage, type DiskImage } from '../../../src/upload/disk-format.js'
import { ConcurrencyLimiter } from '../../../src/upload/concurrency-limiter.js'
import { uploadDiskImage, type PageSink } from '../../../src/upload/page-uploader.js'
import { backoffDelayMs, classifyWriteError, UploadError } from '../../../src/upload/write-retry.js'
import { mergeRanges, type PageRange } from '../../../src/upload/page-ranges.js'
import {
  MiB,
  nonZeroBytes,
  virtualBytes,
  writeDynamicVhd,
  writeFixedVhd,
  type Write
} from '../../upload-it/fixtures.js'

const quiet = { info: () => {}, warning: () => {}, debug: () => {} }
const fastRetry = { baseDelayMs: 1, maxDelayMs: 5 }

/** An in-memory page blob that records each request. */
class MemorySink implements PageSink {
  readonly data: Buffer
  readonly writes: Array<{ offset: number; count: number }> = []
  written: PageRange[] = []
  inFlight = 0
  maxInFlight = 0
  failures: Array<(offset: number) => unknown> = []
  onWrite?: (count: number) => void
  /** Writes whose MD5 was checked against the body. */
  md5Checked = 0
  constructor(size: number) {
    this.data = Buffer.alloc(size)
  }
  async writePages(
    body: Buffer,
    offset: number,
    md5: Buffer | undefined,
    signal: AbortSignal
  ): Promise<void> {
    this.inFlight++
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight)
    try {
      await new Promise(r => setImmediate(r))
      if (signal.aborted) throw signal.reason
      const fail = this.failures.shift()?.(offset)
      if (fail) throw fail
      // The transactional MD5 is of exactly the bytes sent (Azure rejects anything else).
      expect(md5?.toString('base64')).toBe(createHash('md5').update(body).digest('base64'))
      this.md5Checked++
      body.copy(this.data, offset)
      this.writes.push({ offset, count: body.length })
      this.written.push({ offset, count: body.length })
      this.onWrite?.(this.writes.length)
    } finally {
      this.inFlight--
    }
  }
  async clearPages(offset: number, count: number): Promise<void> {
    this.data.fill(0, offset, offset + count)
    const keep: PageRange[] = []
    for (const r of mergeRanges(this.written)) {
      if (r.offset < offset)
        keep.push({ offset: r.offset, count: Math.min(r.count, offset - r.offset) })
      if (r.offset + r.count > offset + count)
        keep.push({
          offset: Math.max(r.offset, offset + count),
          count: r.offset + r.count - Math.max(r.offset, offset + count)
        })
    }
    this.written = keep
  }
  reads = 0
  async readPages(offset: number, count: number): Promise<Buffer> {
    this.reads += count
    return Buffer.from(this.data.subarray(offset, offset + count))
  }
  async listWrittenRanges(): Promise<PageRange[]> {
    return [...this.written]
  }
}

let dir: string
let image: DiskImage
const writes: Write[] = [
  { offset: 0, length: 4096 },
  { offset: 3 * MiB + 512, length: 512 },
  { offset: 10 * MiB - 8192, length: 9 * MiB },
  { offset: 63 * MiB, length: MiB }
]
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'uploader-'))
  await writeFixedVhd(join(dir, 'a.vhd'), 64 * MiB, writes)
  image = await inspectDiskImage(join(dir, 'a.vhd'), 'os')
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

function expectSameAsImage(sink: MemorySink, img: DiskImage, w: readonly Write[]): void {
  expect(sink.data.subarray(0, img.virtualSize).equals(virtualBytes(0, img.virtualSize, w))).toBe(
    true
  )
  expect(sink.data.subarray(img.virtualSize).equals(img.footer)).toBe(true)
}

describe('uploadDiskImage', () => {
  it('sends only non-zero 64 KiB runs, the footer last, within the concurrency', async () => {
    const sink = new MemorySink(image.uploadSize)
    const progress: number[] = []
    const result = await uploadDiskImage({
      image,
      sink,
      concurrency: 3,
      log: quiet,
      onProgress: p => progress.push(p.bytesProcessed)
    })
    expectSameAsImage(sink, image, writes)
    expect(sink.md5Checked).toBe(sink.writes.length)
    expect(sink.writes[sink.writes.length - 1]).toEqual({ offset: 64 * MiB, count: 512 })
    expect(sink.maxInFlight).toBeLessThanOrEqual(3)
    for (const w of sink.writes) expect(w.count).toBeLessThanOrEqual(4 * MiB)
    // 64 KiB + 64 KiB + 9 MiB rounded out to 64 KiB segments (+64 KiB) + 1 MiB, and the footer.
    const data = 64 * 1024 + 64 * 1024 + 9 * MiB + 64 * 1024 + MiB
    expect(result).toMatchObject({
      bytesSent: data + 512,
      dataBytes: data,
      bytesSkippedAsZero: 64 * MiB - data,
      retries: 0
    })
    expect(result.bytesSent).toBeGreaterThanOrEqual(nonZeroBytes(writes) + 512)
    expect(progress[progress.length - 1]).toBe(64 * MiB)
  })

  it('retries throttling, halves the concurrency and still writes everything', async () => {
    const sink = new MemorySink(image.uploadSize)
    const busy = Object.assign(new Error('The server is busy.'), {
      statusCode: 503,
      code: 'ServerBusy'
    })
    const timedOut = Object.assign(new Error('Operation timed out'), {
      statusCode: 500,
      code: 'OperationTimedOut'
    })
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })
    sink.failures = [() => busy, () => timedOut, () => reset, () => busy]
    const warnings: string[] = []
    const result = await uploadDiskImage({
      image,
      sink,
      concurrency: 8,
      log: { ...quiet, warning: m => warnings.push(m) },
      retry: fastRetry
    })
    expectSameAsImage(sink, image, writes)
    expect(result.retries).toBe(4)
    expect(result.lowestConcurrency).toBeLessThan(8)
    expect(warnings.some(w => /reducing concurrency/.test(w))).toBe(true)
  })

  it('gives up at once on a fatal error and never writes the footer', async () => {
    const sink = new MemorySink(image.uploadSize)
    sink.failures = [
      () =>
        Object.assign(new Error('Server failed to authenticate the request.'), {
          statusCode: 403,
          code: 'AuthenticationFailed'
        })
    ]
    await expect(uploadDiskImage({ image, sink, log: quiet, retry: fastRetry })).rejects.toThrow(
      /403|SAS may have expired/
    )
    expect(sink.writes.some(w => w.offset === image.virtualSize)).toBe(false)
  })

  it('gives up after maxTries on persistent throttling', async () => {
    const sink = new MemorySink(image.uploadSize)
    sink.failures = Array.from(
      { length: 100 },
      () => () => Object.assign(new Error('busy'), { statusCode: 503 })
    )
    await expect(
      uploadDiskImage({
        image,
        sink,
        concurrency: 1,
        log: quiet,
        retry: { ...fastRetry, maxTries: 5 }
      })
    ).rejects.toThrow(/after 5 tries/)
  })

  it('stops promptly when aborted', async () => {
    const sink = new MemorySink(image.uploadSize)
    const controller = new AbortController()
    sink.onWrite = n => n === 2 && controller.abort(new Error('cancelled by test'))
    await expect(
      uploadDiskImage({ image, sink, concurrency: 2, log: quiet, signal: controller.signal })
    ).rejects.toThrow('cancelled by test')
    expect(sink.writes.length).toBeLessThanOrEqual(4)
    expect(sink.writes.some(w => w.offset === image.virtualSize)).toBe(false)
  })

  it('fails when the target does not list what was sent', async () => {
    const sink = new MemorySink(image.uploadSize)
    sink.listWrittenRanges = async () => sink.written.slice(1)
    const error = await uploadDiskImage({ image, sink, log: quiet }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UploadError)
    expect((error as Error).message).toMatch(/verification failed/)
    expect(sink.md5Checked).toBe(sink.writes.length)
  })

  it('resumes: skips ranges already written and clears foreign data where the image is empty', async () => {
    const sink = new MemorySink(image.uploadSize)
    const first = await uploadDiskImage({ image, sink, log: quiet })
    // Pretend the second half was lost, and stale data sits in an empty region.
    const kept = mergeRanges(sink.written)
      .filter(r => r.offset < 12 * MiB)
      .map(r => ({ offset: r.offset, count: Math.min(r.count, 12 * MiB - r.offset) }))
    sink.written = [...kept, { offset: 30 * MiB, count: MiB }]
    sink.data.fill(0, 12 * MiB)
    sink.data.fill(7, 30 * MiB, 31 * MiB)
    sink.writes.length = 0
    const second = await uploadDiskImage({ image, sink, log: quiet, alreadyWritten: sink.written })
    expectSameAsImage(sink, image, writes)
    expect(second.bytesSkippedAsWritten).toBe(kept.reduce((sum, r) => sum + r.count, 0))
    expect(second.bytesSent).toBe(first.bytesSent - second.bytesSkippedAsWritten)
    expect(second.bytesCleared).toBe(MiB)
  })

  it('resumes: content the target lists as written but holds differently is sent again', async () => {
    const sink = new MemorySink(image.uploadSize)
    await uploadDiskImage({ image, sink, log: quiet })
    const listed = mergeRanges(sink.written)
    // The target lists every range, but one holds other bytes (a different earlier file, or a
    // write that landed torn): ranges alone would call it done.
    const bad = listed[0]
    sink.data.fill(0xee, bad.offset, bad.offset + 4096)
    sink.writes.length = 0
    sink.reads = 0
    const second = await uploadDiskImage({ image, sink, log: quiet, alreadyWritten: listed })
    expectSameAsImage(sink, image, writes)
    const dataBytes = nonZeroBytes(writes)
    expect(sink.reads).toBeGreaterThanOrEqual(dataBytes)
    expect(second.bytesRewritten).toBeGreaterThanOrEqual(4096)
    expect(second.bytesSkippedAsWritten + second.bytesRewritten).toBe(second.dataBytes)
    expect(sink.writes.some(w => w.offset <= bad.offset && w.offset + w.count > bad.offset)).toBe(
      true
    )
  })

  it('resumes onto a target that cannot be read back by sending everything again', async () => {
    const sink = new MemorySink(image.uploadSize)
    const first = await uploadDiskImage({ image, sink, log: quiet })
    const listed = mergeRanges(sink.written)
    const blind: PageSink = {
      writePages: (b, o, m, sig) => sink.writePages(b, o, m, sig),
      clearPages: (o, c) => sink.clearPages(o, c),
      listWrittenRanges: () => sink.listWrittenRanges()
    }
    sink.writes.length = 0
    const second = await uploadDiskImage({ image, sink: blind, log: quiet, alreadyWritten: listed })
    expect(second.bytesSkippedAsWritten).toBe(0)
    expect(second.bytesSent).toBe(first.bytesSent)
    expectSameAsImage(sink, image, writes)
  })

  it('reads only the allocated blocks of a dynamic VHD', async () => {
    const path = join(dir, 'd.vhd')
    const w: Write[] = [
      { offset: 2 * MiB - 512, length: 1024 },
      { offset: 33 * MiB, length: 100 * 1024 }
    ]
    await writeDynamicVhd(path, 64 * MiB, w, { reverse: true, zeroBlocks: [20] })
    const img = await inspectDiskImage(path, 'data')
    const sink = new MemorySink(img.uploadSize)
    const result = await uploadDiskImage({ image: img, sink, log: quiet, concurrency: 2 })
    expectSameAsImage(sink, img, w)
    expect(img.bytesToRead).toBe(4 * 2 * MiB) // blocks 0, 1, 16 and the allocated-but-empty 20
    expect(result.dataBytes).toBe(64 * 1024 * 2 + 128 * 1024)
  })
})

describe('helpers', () => {
  it('classifies errors', () => {
    expect(classifyWriteError({ statusCode: 503, code: 'ServerBusy' })).toBe('throttle')
    expect(classifyWriteError({ statusCode: 500, code: 'OperationTimedOut' })).toBe('throttle')
    expect(classifyWriteError({ statusCode: 429 })).toBe('throttle')
    expect(classifyWriteError({ code: 'ECONNRESET' })).toBe('throttle')
    expect(classifyWriteError({ name: 'RestError', code: 'REQUEST_SEND_ERROR' })).toBe('throttle')
    expect(classifyWriteError({ name: 'TryTimeoutError' })).toBe('throttle')
    expect(classifyWriteError({ statusCode: 500, code: 'InternalError' })).toBe('transient')
    expect(classifyWriteError({ statusCode: 403, code: 'AuthenticationFailed' })).toBe('fatal')
    expect(classifyWriteError({ statusCode: 416 })).toBe('fatal')
    expect(classifyWriteError(new TypeError('bug'))).toBe('fatal')
  })

  it('backs off exponentially with jitter, capped', () => {
    expect(backoffDelayMs(1, 1000, 60000, () => 0)).toBe(500)
    expect(backoffDelayMs(3, 1000, 60000, () => 1)).toBe(4000)
    expect(backoffDelayMs(20, 1000, 60000, () => 1)).toBe(60000)
  })

  it('AIMD: halves once per window, grows by one after a window of successes', async () => {
    const limiter = new ConcurrencyLimiter(8)
    const s = new AbortController().signal
    const epoch = await limiter.enter(s)
    limiter.leave()
    expect(limiter.throttled(epoch)).toBe(4)
    expect(limiter.throttled(epoch)).toBeUndefined() // same window
    for (let i = 0; i < 4; i++) limiter.succeeded()
    expect(limiter.limit).toBe(5)
    expect(limiter.lowest).toBe(4)
  })
})
