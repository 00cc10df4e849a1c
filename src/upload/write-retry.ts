/**
 * The uploader's one retry loop (every Put Page, clear, Get Blob and Get Page Ranges goes through
 * it): classify the failure, give up on what retrying cannot fix, else back off with jitter,
 * honouring Retry-After. Throttling (503 ServerBusy, 500 OperationTimedOut, 429, dropped
 * connections, timeouts) is told apart so the caller can lower its concurrency.
 */
import { abortReason, sleep } from '../sleep.js'

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

/** The fields of a storage SDK error (RestError) or a Node network error that decide a retry. */
interface ErrorFields {
  statusCode?: number
  code?: string
  name?: string
  message?: string
  cause?: { code?: string }
  response?: { headers?: { get?(name: string): string | undefined } }
}

function fields(error: unknown): ErrorFields {
  return typeof error === 'object' && error !== null ? (error as ErrorFields) : {}
}

/**
 * What to do about a failed write. Throttling and dropped connections mean the target is
 * overloaded: retry with a lower concurrency. Other 5xx: retry. Anything else (403 expired SAS,
 * 404, 412…) will not get better by retrying.
 */
export function classifyWriteError(error: unknown): WriteErrorKind {
  const e = fields(error)
  const status = e.statusCode
  if (status === 429 || status === 503 || status === 408) return 'throttle'
  if (status === 500 && e.code === 'OperationTimedOut') return 'throttle'
  if (status !== undefined && status >= 500) return 'transient'
  if (status === 400 && e.code === 'Md5Mismatch') return 'transient' // corrupted in transit
  if (status !== undefined && status > 0) return 'fatal'
  if (e.name === 'TryTimeoutError') return 'throttle'
  if (NETWORK_ERROR_CODES.has(e.code ?? '') || NETWORK_ERROR_CODES.has(e.cause?.code ?? ''))
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
  const value = fields(error).response?.headers?.get?.('retry-after')
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

export interface RetryPolicy {
  /** Tries per request, the first included. */
  maxTries: number
  baseDelayMs: number
  maxDelayMs: number
  signal: AbortSignal
  /** Told of each failure that will be retried, before the wait: to log it, count it, slow down. */
  onRetry(kind: Exclude<WriteErrorKind, 'fatal'>, message: string): void
}

/** Runs `once` until it succeeds, fails for good, runs out of tries, or the signal aborts. */
export async function retryWrite<T>(
  what: string,
  policy: RetryPolicy,
  once: (attempt: number) => Promise<T>
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await once(attempt)
    } catch (e) {
      if (policy.signal.aborted) throw abortReason(policy.signal)
      const kind = classifyWriteError(e)
      const message = fields(e).message ?? String(e)
      if (kind === 'fatal' || attempt >= policy.maxTries) {
        const hint =
          fields(e).statusCode === 403
            ? ' (the SAS may have expired or may not grant write access)'
            : ''
        throw new UploadError(
          `${what} failed${attempt > 1 ? ` after ${attempt} tries` : ''}: ${message}${hint}`,
          e
        )
      }
      policy.onRetry(kind, message)
      const { baseDelayMs, maxDelayMs } = policy
      const delay = Math.min(
        maxDelayMs,
        Math.max(backoffDelayMs(attempt, baseDelayMs, maxDelayMs), retryAfterMs(e) ?? 0)
      )
      await sleep(delay, policy.signal)
    }
  }
}
