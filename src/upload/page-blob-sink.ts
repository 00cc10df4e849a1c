/**
 * The PageSink over Azure Storage's page-blob API (`@azure/storage-blob` PageBlobClient).
 * Works for a page blob in the user's storage account and for a managed disk's write SAS
 * (`beginGetAccess`), which is a page blob on an `md-…` host.
 *
 * The SDK's own retry policy is reduced to a single try: the uploader retries itself, with the
 * right classification (throttling halves concurrency) and one shared backoff. The SDK has no
 * client-side per-try timeout (its `tryTimeoutInMs` only sets the server's `timeout` parameter),
 * so each call gets an abort signal that fires after `tryTimeoutMs`.
 */
import {
  PageBlobClient,
  AnonymousCredential,
  type BlobHTTPHeaders,
  type StorageSharedKeyCredential
} from '@azure/storage-blob'
import type { TokenCredential } from '@azure/identity'
import { isNotFound } from '../azure/not-found.js'
import type { PageRange } from './page-ranges.js'
import type { PageSink } from './page-uploader.js'

/** 4 MiB at ~300 kbit/s; a slower link needs a smaller concurrency anyway. */
export const DEFAULT_TRY_TIMEOUT_MS = 120_000

export type PageBlobCredential = StorageSharedKeyCredential | AnonymousCredential | TokenCredential

/** Raised when a single try exceeded its timeout; the uploader treats it like a dropped connection. */
export class TryTimeoutError extends Error {
  readonly code = 'ETIMEDOUT'
  constructor(operation: string, ms: number) {
    super(`${operation} did not complete within ${Math.round(ms / 1000)} s`)
    this.name = 'TryTimeoutError'
  }
}

/**
 * A PageBlobClient for a SAS URL (managed-disk write access, or a blob SAS) or a URL plus a
 * credential, with the SDK retries turned off (see the file comment) unless `sdkRetries`: calls the
 * uploader does not retry itself (the blob's properties, creating it) keep the SDK's retries, or
 * one dropped connection would end the run (found by the chaos campaign).
 */
export function createPageBlobClient(
  url: string,
  credential?: PageBlobCredential,
  options: { sdkRetries?: boolean } = {}
): PageBlobClient {
  return new PageBlobClient(url, credential ?? new AnonymousCredential(), {
    ...(options.sdkRetries ? {} : { retryOptions: { maxTries: 1 } }),
    keepAliveOptions: { enable: true }
  })
}

export interface PageBlobSinkOptions {
  tryTimeoutMs?: number
}

async function withTryTimeout<T>(
  operation: string,
  ms: number,
  signal: AbortSignal | undefined,
  run: (s: AbortSignal) => Promise<T>
): Promise<T> {
  const timeout = AbortSignal.timeout(ms)
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout
  try {
    return await run(combined)
  } catch (e) {
    if (timeout.aborted && !signal?.aborted) throw new TryTimeoutError(operation, ms)
    throw e
  }
}

/** The sink the uploader writes to. The client should come from createPageBlobClient. */
export function createPageBlobSink(
  client: PageBlobClient,
  options: PageBlobSinkOptions = {}
): PageSink {
  const tryTimeoutMs = options.tryTimeoutMs ?? DEFAULT_TRY_TIMEOUT_MS
  return {
    async writePages(body, offset, md5, signal) {
      await withTryTimeout('Put Page', tryTimeoutMs, signal, abortSignal =>
        client.uploadPages(body, offset, body.length, { abortSignal, transactionalContentMD5: md5 })
      )
    },
    async clearPages(offset, count, signal) {
      await withTryTimeout('Put Page (clear)', tryTimeoutMs, signal, abortSignal =>
        client.clearPages(offset, count, { abortSignal })
      )
    },
    async readPages(offset, count, signal) {
      return withTryTimeout('Get Blob', tryTimeoutMs, signal, abortSignal =>
        client.downloadToBuffer(offset, count, { abortSignal })
      )
    },
    async listWrittenRanges(signal) {
      return withTryTimeout('Get Page Ranges', tryTimeoutMs, signal, async abortSignal => {
        const ranges: PageRange[] = []
        for await (const page of client.listPageRanges(0, undefined, { abortSignal }).byPage()) {
          for (const r of page.pageRange ?? [])
            ranges.push({ offset: r.start, count: r.end - r.start + 1 })
        }
        return ranges
      })
    }
  }
}

export interface PageBlobState {
  exists: boolean
  size?: number
  metadata?: Record<string, string>
  contentMD5?: Uint8Array
  /** The blob's ETag as read: a later delete or overwrite can be made conditional on it. */
  etag?: string
}

export async function readPageBlobState(
  client: PageBlobClient,
  signal?: AbortSignal
): Promise<PageBlobState> {
  try {
    const props = await client.getProperties({ abortSignal: signal })
    return {
      exists: true,
      size: props.contentLength,
      metadata: props.metadata,
      contentMD5: props.contentMD5,
      etag: props.etag
    }
  } catch (e) {
    if (isNotFound(e)) return { exists: false }
    throw e
  }
}

/**
 * Creates the page blob of `size` bytes for the storage-account destination. `ifMatch` (an ETag
 * read before) replaces only that blob; without it, only where no blob is: a blob that appeared
 * since it was read is never overwritten (Put Blob answers 412 ConditionNotMet or 409
 * BlobAlreadyExists: "Specifying Conditional Headers for Blob Service Operations").
 * Not for managed disks: their blob already exists at exactly `uploadSizeBytes`.
 */
export async function createPageBlob(
  client: PageBlobClient,
  size: number,
  options: {
    metadata?: Record<string, string>
    blobHTTPHeaders?: BlobHTTPHeaders
    signal?: AbortSignal
    ifMatch?: string
  } = {}
): Promise<void> {
  await client.create(size, {
    metadata: options.metadata,
    blobHTTPHeaders: options.blobHTTPHeaders,
    abortSignal: options.signal,
    conditions: options.ifMatch ? { ifMatch: options.ifMatch } : { ifNoneMatch: '*' }
  })
}
