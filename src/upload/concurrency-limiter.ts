/**
 * The uploader's writes in flight, moved by AIMD: a single blob or disk answers too many
 * connections with timeouts rather than throughput, so throttling halves the limit and a window
 * of successes grows it back by one (see page-uploader.ts).
 */
import { abortReason } from '../sleep.js'

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
