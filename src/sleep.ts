/** Waiting that the run's AbortSignal can cut short. A leaf: the uploader compiles alone with it. */

/** An AbortSignal, or the SDKs' `AbortSignalLike` (which may carry no `reason`). */
export interface AbortSignalish {
  readonly aborted: boolean
  readonly reason?: unknown
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void
  removeEventListener(type: 'abort', listener: () => void): void
}

/** Why `signal` was aborted, or a standard AbortError when it carries no reason. */
export function abortReason(signal: AbortSignalish): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError')
}

/** Resolves after `ms`, or rejects with the abort reason as soon as `signal` is aborted. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(abortReason(signal))
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(abortReason(signal))
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * `work`, or the abort reason as soon as `signal` fires: for work that cannot be interrupted itself
 * (it goes on in the background; the run stops waiting for it). Without a signal, `work` as it is.
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignalish | undefined): Promise<T> {
  if (signal === undefined) return work
  if (signal.aborted) return Promise.reject(abortReason(signal))
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal))
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(
      value => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(e)
      }
    )
  })
}
