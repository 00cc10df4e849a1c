/**
 * Waiting on a long-running operation without minutes of silence: a line at least every 20 s with
 * the elapsed time and the operation's state, and the run's AbortSignal honoured.
 */
import type { OperationState, PollerLike } from '@azure/core-lro'
import { isRestError } from '@azure/core-rest-pipeline'
import { formatDuration, type Logger } from '../log.js'
import { sleep } from '../sleep.js'
import { recentRequestId } from './policies.js'
import { oneLine } from '../untrusted.js'

export const HEARTBEAT_MS = 20_000

export interface WaitOptions {
  log: Logger
  signal: AbortSignal
  heartbeatMs?: number
  /** Extra words for the heartbeat line, e.g. replication progress. */
  detail?: () => string | undefined
}

export async function waitFor<T>(
  what: string,
  poller: PollerLike<OperationState<T>, T>,
  options: WaitOptions
): Promise<T> {
  const started = Date.now()
  const timer = setInterval(() => {
    const state = poller.operationState?.status ?? 'running'
    const detail = options.detail?.()
    options.log.info(
      oneLine(
        `${what}: ${state} after ${formatDuration(Date.now() - started)}${detail ? ` (${detail})` : ''}`
      )
    )
  }, options.heartbeatMs ?? HEARTBEAT_MS)
  try {
    const result = await poller.pollUntilDone({ abortSignal: options.signal })
    options.log.info(oneLine(`${what}: done in ${formatDuration(Date.now() - started)}`))
    return result
  } catch (error) {
    throw withOperationRequestId(error, poller.operationState)
  } finally {
    clearInterval(timer)
  }
}

/** Polls `check` until it returns a value, logging the state on the heartbeat; bounded by `limitMs`. */
export async function waitUntil<T>(
  what: string,
  check: () => Promise<{ done: T | undefined; state: string }>,
  options: WaitOptions & { intervalMs?: number; limitMs: number; onLimit: () => Error }
): Promise<T> {
  const started = Date.now()
  let lastLog = started
  for (;;) {
    const { done, state } = await check()
    if (done !== undefined) {
      options.log.info(oneLine(`${what}: ${state} after ${formatDuration(Date.now() - started)}`))
      return done
    }
    if (Date.now() - started > options.limitMs) throw options.onLimit()
    if (Date.now() - lastLog >= (options.heartbeatMs ?? HEARTBEAT_MS)) {
      options.log.info(oneLine(`${what}: ${state} after ${formatDuration(Date.now() - started)}`))
      lastLog = Date.now()
    }
    await sleep(options.intervalMs ?? 5000, options.signal)
  }
}

/**
 * An operation that ends Failed is reported by core-lro as a plain Error, with no response and so no
 * request id. Gives it the request id of the request that started the operation (for Compute also
 * the operation's id), as `requestId`, which describeAzureError quotes.
 */
function withOperationRequestId(error: unknown, state: unknown): unknown {
  if (!(error instanceof Error) || isRestError(error) || 'requestId' in error) return error
  // core-lro keeps the initial request in its state's (untyped) config.
  const config = (
    state as { config?: { initialRequestUrl?: string; requestMethod?: string } } | undefined
  )?.config
  if (!config?.initialRequestUrl || !config.requestMethod) return error
  const requestId = recentRequestId(config.requestMethod, config.initialRequestUrl)
  if (requestId) Object.assign(error, { requestId })
  return error
}
