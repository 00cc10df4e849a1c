/**
 * Sending one disk image through the page uploader to the target a destination prepared, and
 * reporting it (one log line and one summary row per disk). The destinations import this; it
 * imports no destination, so upload-image.ts → destinations → send-disk.ts has no way back.
 */
import { formatDuration } from '../log.js'
import type { RunContext } from '../run-context.js'
import { oneLine } from '../untrusted.js'
import type { DiskImage } from './disk-format.js'
import type { PageRange } from './page-ranges.js'
import {
  describeProgress,
  uploadDiskImage,
  type PageSink,
  type UploadResult
} from './page-uploader.js'

export interface UploadDisk extends DiskImage {
  /** 'os' or the data disk's LUN. */
  lun: 'os' | number
  description: string
}

export const gib = (n: number): string =>
  `${(n / 1024 ** 3).toFixed(n % 1024 ** 3 === 0 ? 0 : 2)} GiB`

const mib = (n: number): string => `${(n / 1024 ** 2).toFixed(1)} MiB`

/** One row per disk in the summary's upload table: what was sent against what the file holds. */
function addUploadRow(
  ctx: RunContext,
  label: string,
  disk: UploadDisk,
  result: UploadResult
): void {
  const title = 'Upload'
  let section = ctx.report.sections.find(s => s.title === title)
  if (!section) {
    section = {
      title,
      markdown:
        '| Disk | Format | Virtual size | Sent | Skipped as empty | Time | Sent MiB/s |\n|---|---|---|---|---|---|---|'
    }
    ctx.report.sections.push(section)
  }
  const seconds = Math.max(result.durationMs / 1000, 0.001)
  section.markdown +=
    `\n| ${label} | ${disk.format} | ${gib(disk.virtualSize)} | ${mib(result.bytesSent)} | ` +
    `${mib(result.bytesSkippedAsZero)} | ${formatDuration(result.durationMs)} | ${(result.bytesSent / 1024 ** 2 / seconds).toFixed(1)} |`
}

/** What a destination hands back for one disk: where to write and what is there already. */
export interface PreparedTarget {
  sink: PageSink
  alreadyWritten?: PageRange[]
  /** Send a transactional Content-MD5 with each Put Page (see the destinations for why or not). */
  md5: boolean
}

export interface SendDiskOptions {
  disk: UploadDisk
  target: PreparedTarget
  /** This disk's share of the upload concurrency. */
  concurrency: number
}

export async function sendDisk(ctx: RunContext, options: SendDiskOptions): Promise<UploadResult> {
  const { disk, target, concurrency } = options
  const label = disk.lun === 'os' ? 'OS disk' : `data disk LUN ${disk.lun}`
  const result = await uploadDiskImage({
    image: disk,
    sink: target.sink,
    concurrency,
    signal: ctx.signal,
    log: {
      info: m => ctx.log.info(oneLine(`${label}: ${m}`)),
      warning: m => ctx.log.warning(oneLine(`${label}: ${m}`)),
      debug: m => ctx.log.debug(oneLine(`${label}: ${m}`))
    },
    alreadyWritten: target.alreadyWritten,
    md5: target.md5,
    onProgress: p => ctx.log.debug(oneLine(`${label}: ${describeProgress(p)}`))
  })
  addUploadRow(ctx, label, disk, result)
  ctx.log.info(
    oneLine(
      `${label}: sent ${result.bytesSent} bytes in ${result.requests} requests (${formatDuration(result.durationMs)}); ` +
        `${result.bytesSkippedAsZero} bytes skipped as empty` +
        (result.bytesSkippedAsWritten > 0
          ? `, ${result.bytesSkippedAsWritten} already there from an earlier attempt (read back and compared)`
          : '') +
        (result.bytesRewritten > 0
          ? `, ${result.bytesRewritten} sent again because the target held other content there`
          : '') +
        (result.retries > 0 ? `, ${result.retries} retries` : '')
    )
  )
  return result
}
