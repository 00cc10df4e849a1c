/**
 * The write SAS of an upload disk lives only as long as needed: a short grant, renewed while the
 * upload still runs, instead of one SAS for the whole time limit (which outlived a killed runner by
 * up to a day; security review, finding 8). A disk's SAS carries no `se=` (it uses a stored policy,
 * `si=`), so the expiry is the one we asked for. Renewing means granting write access again on the
 * `ActiveUpload` disk, as a resumed upload does (see the emulator README: unverified on Azure).
 */
import type { PageSink } from './page-uploader.js'

/** Each grant: one hour. A 4 MiB Put Page at a slow 1 Mbit/s still fits many times over. */
export const WRITE_ACCESS_SECONDS = 60 * 60
/** Renew when less than this is left, so no request starts with a SAS about to expire. */
export const RENEW_BEFORE_MS = 15 * 60_000

export interface RenewingSinkOptions {
  /** The SAS from the first grant, made `lifetimeMs` before `now()` at the latest. */
  firstSas: string
  /** Grants write access again; returns the new SAS URL. */
  grant: () => Promise<string>
  /** A page sink writing through one SAS URL. */
  sinkFor: (sasUrl: string) => PageSink
  lifetimeMs?: number
  renewBeforeMs?: number
  now?: () => number
}

export interface RenewingSink extends PageSink {
  /** The SAS URL in use now (for the footer seal after a failure). */
  currentSas(): string
  /** How many times write access was granted again. */
  renewals(): number
}

/** A PageSink that renews the write SAS before it expires; one renewal at a time. */
export function createRenewingSink(options: RenewingSinkOptions): RenewingSink {
  const now = options.now ?? Date.now
  const lifetimeMs = options.lifetimeMs ?? WRITE_ACCESS_SECONDS * 1000
  const renewBeforeMs = options.renewBeforeMs ?? RENEW_BEFORE_MS
  let sas = options.firstSas
  let sink = options.sinkFor(sas)
  let grantedAt = now()
  let renewing: Promise<void> | undefined
  let count = 0

  /** Grants write access again; concurrent callers share one grant. */
  const renew = (): Promise<void> =>
    (renewing ??= (async () => {
      const started = now()
      try {
        sas = await options.grant()
        sink = options.sinkFor(sas)
        grantedAt = started
        count++
      } finally {
        renewing = undefined
      }
    })())

  const fresh = async (): Promise<PageSink> => {
    if (now() >= grantedAt + lifetimeMs - renewBeforeMs) await renew()
    return sink
  }

  /**
   * A request refused with 403 is sent once more with a new SAS: one a renewal in the meantime
   * made (a grant may end the previous SAS: the emulator's stored policy does, Azure's behaviour is
   * not known), or else one granted now, since the SAS in use may have ended sooner than asked (a
   * disk SAS names no expiry to check: `si=`, no `se=`). A disk whose write access was revoked is
   * no longer ActiveUpload, so that grant is refused and the upload stops there.
   */
  const withRenewal = async <T>(run: (s: PageSink) => Promise<T>): Promise<T> => {
    const used = await fresh()
    try {
      return await run(used)
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 403) throw e
      if (renewing) await renewing
      if (sink === used) await renew()
      if (sink === used) throw e
      return run(sink)
    }
  }

  const renewingSink: RenewingSink = {
    async writePages(body, offset, md5, signal) {
      await withRenewal(s => s.writePages(body, offset, md5, signal))
    },
    async listWrittenRanges(signal) {
      return withRenewal(s => s.listWrittenRanges(signal))
    },
    currentSas: () => sas,
    renewals: () => count
  }
  // Only sinks that can clear pages advertise it (the uploader checks for the method).
  if (sink.clearPages) {
    renewingSink.clearPages = async (offset, count, signal) => {
      await withRenewal(s => s.clearPages!(offset, count, signal))
    }
  }
  if (sink.readPages) {
    renewingSink.readPages = async (offset, count, signal) =>
      withRenewal(s => s.readPages!(offset, count, signal))
  }
  return renewingSink
}
