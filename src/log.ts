/**
 * What the steps need from the runner, as a small interface: only index/main/post bind it to
 * @actions/core, so everything else runs in unit tests without module mocks.
 */
export interface Logger {
  info(message: string): void
  warning(message: string): void
  debug(message: string): void
  /** A collapsible log group around one step. */
  group<T>(name: string, fn: () => Promise<T>): Promise<T>
  /** Mask a value in every later log line (core.setSecret). */
  secret(value: string): void
}

export const silentLogger: Logger = {
  info: () => undefined,
  warning: () => undefined,
  debug: () => undefined,
  group: (_name, fn) => fn(),
  secret: () => undefined
}

/** The one duration format of the log and the summary: '45s', '1m 05s', '2h 03m'. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m}m ${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`
}
