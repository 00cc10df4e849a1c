/**
 * Following a managed Run Command's output while it runs, from what Azure shows of it. Pure.
 *
 * What Azure shows: the run command's `instanceView.output` and `instanceView.error` are the LAST
 * 4 KB of the script's stdout and stderr ("Output and error fields in instanceView is limited to
 * last 4KB", linux/ and windows/run-command-managed.md), refreshed while it runs ("Reports progress
 * and last 4k output during execution", run-command-overview.md). The Linux handler rewrites them
 * every 15 s from the tail of its stdout/stderr files (Azure/run-command-handler-linux,
 * internal/cmds/cmds.go: `updateStatusInSeconds = 15`, `maxTailLen = 4 * 1024`, commit
 * f95dc245dce0f66856c8b3d3bf8f21340a1ed7d7). The whole output only reaches an append blob
 * (`outputBlobUri`), which needs a storage account the user did not ask for.
 *
 * So each poll gives a window on the end of each stream. What is new since the last poll is what
 * follows the largest overlap between the end of the previous window and the start of the new one;
 * lines are printed only once complete (the rest waits for the next poll or the end). When more
 * than 4 KB arrived between two polls nothing overlaps, and the follower says that lines were
 * skipped. Output that repeats itself exactly (the same line many times) can make the overlap look
 * larger than it is, so some of those repeats may not be printed: the end state is still complete.
 */

/** The most Azure shows of each stream at a time (bytes; the tail is cut on bytes). */
export const TAIL_BYTES = 4 * 1024

/** The text of `current` that follows `previous`, two windows on the end of one growing stream. */
export function newSince(
  previous: string,
  current: string
): { text: string; skipped: boolean } {
  if (current === previous) return { text: '', skipped: false }
  if (current.startsWith(previous)) return { text: current.slice(previous.length), skipped: false }
  // The window moved: find the longest end of `previous` that starts `current`. A window cut on
  // bytes may start inside a multi-byte character, which arrives as U+FFFD: not part of the overlap.
  const body = current.replace(/^\uFFFD+/, '')
  for (let k = Math.min(previous.length, body.length); k > 0; k--) {
    if (previous.endsWith(body.slice(0, k))) return { text: body.slice(k), skipped: false }
  }
  return { text: body, skipped: previous !== '' }
}

/** Where output was lost: more than TAIL_BYTES arrived between two polls. */
export const SKIPPED_MARK = '[… more than 4 KB of output arrived between two polls; lines were skipped here …]'

export interface StreamFollower {
  /**
   * Takes the stream's current window; returns the complete new lines, in order. When lines were
   * lost between two polls, a marker line says so where they were.
   */
  update(current: string): { lines: string; skipped: boolean }
  /** The script ended: whatever is left of the last line. */
  end(): string
}

/** Follows one stream across polls. */
export function followStream(): StreamFollower {
  let window = ''
  let partial = ''
  return {
    update(current) {
      const { text, skipped } = newSince(window, current)
      window = current
      const before = skipped && partial !== '' ? `${partial}\n` : ''
      const pending = (skipped ? `${SKIPPED_MARK}\n` : partial) + text
      const cut = pending.lastIndexOf('\n')
      partial = pending.slice(cut + 1)
      return { lines: before + pending.slice(0, cut + 1), skipped }
    },
    end() {
      const rest = partial
      partial = ''
      return rest
    }
  }
}

/** The last `count` non-blank lines of `text` (any line ending), for the failure report. */
export function lastLines(text: string, count: number): string {
  const lines = text.replace(/\r\n?/g, '\n').split('\n')
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop()
  return lines.slice(-count).join('\n')
}
