/**
 * Parallel steps that create resources. The first failure aborts the others, and the call returns
 * only once every task has settled: cleanup must not start while a sibling is still creating
 * something it would then miss.
 */
export async function allOrAbort<T, R>(
  signal: AbortSignal,
  items: readonly T[],
  task: (item: T, signal: AbortSignal, index: number) => Promise<R>
): Promise<R[]> {
  const controller = new AbortController()
  const onAbort = (): void => controller.abort(signal.reason)
  if (signal.aborted) onAbort()
  else signal.addEventListener('abort', onAbort, { once: true })
  let firstError: { error: unknown } | undefined
  try {
    const settled = await Promise.allSettled(
      items.map((item, index) =>
        task(item, controller.signal, index).catch((error: unknown) => {
          if (firstError === undefined) {
            firstError = { error }
            controller.abort(error)
          }
          throw error
        })
      )
    )
    if (firstError !== undefined) throw firstError.error
    return settled.map(s => (s as PromiseFulfilledResult<R>).value)
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
