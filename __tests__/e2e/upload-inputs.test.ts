/**
 * Bad disk image files, on the bundled action: a missing or unreadable file, a FIFO, a directory or
 * a file that is not a disk image gets one `::error::` starting with the input it came from
 * (`Input 'vhd': …` or `Input 'data-vhds': …`), exit 1, and no request reaches Azure. A FIFO must
 * not block the step (open() of a FIFO waits for a writer).
 */
import { beforeAll, describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { errorLines } from '../support/action-runner.js'
import { useUploadCloud } from '../support/upload-run.js'
import { MiB, writeRawImage } from '../upload-it/fixtures.js'

// Nothing reaches Azure: no blob service needed.
const up = useUploadCloud('upload-inputs', { withStorage: false })
let goodImage: string

beforeAll(async () => {
  goodImage = up.path('good.raw')
  await writeRawImage(goodImage, 32 * MiB, [{ offset: 0, length: MiB }])
})

async function expectRefused(
  extra: Record<string, string>,
  input: 'vhd' | 'data-vhds',
  reason: RegExp
): Promise<void> {
  const before = up.cloud.emu.requests.length
  const started = Date.now()
  const run = await up.run({ 'image-name': 'img', ...extra })
  expect(run.main.code).toBe(1)
  const errors = errorLines(run.main)
  expect(errors).toHaveLength(1)
  expect(errors[0].startsWith(`::error::Input '${input}': `)).toBe(true)
  expect(errors[0]).toMatch(reason)
  // Nothing reached Azure, not even a token request or a read.
  expect(up.cloud.emu.requests.length).toBe(before)
  expect(run.post?.code).toBe(0)
  expect(up.cloud.emu.requests.length).toBe(before)
  // Fast: no waiting on the file (a FIFO blocks open() forever).
  expect(Date.now() - started).toBeLessThan(30_000)
}

describe("bad disk image files name the input ('vhd' / 'data-vhds')", () => {
  it('a missing vhd file', async () => {
    const path = up.path('missing.vhd')
    await expectRefused({ vhd: path }, 'vhd', /missing\.vhd: cannot read the disk image: ENOENT/)
  })

  it('a FIFO as vhd fails fast instead of hanging', async () => {
    const path = up.path('pipe.vhd')
    execFileSync('mkfifo', [path])
    await expectRefused(
      { vhd: path },
      'vhd',
      /pipe\.vhd: is a FIFO \(named pipe\), not a regular file/
    )
  })

  it('a directory as vhd', async () => {
    const path = up.path('a-directory')
    mkdirSync(path)
    await expectRefused({ vhd: path }, 'vhd', /a-directory: is a directory, not a regular file/)
  })

  it('an unreadable vhd (a symbolic link loop)', async () => {
    const path = up.path('loop.vhd')
    symlinkSync(path, path)
    await expectRefused({ vhd: path }, 'vhd', /loop\.vhd: cannot read the disk image: ELOOP/)
  })

  it('a file that is not a disk image', async () => {
    const path = up.path('notes.txt')
    writeFileSync(path, 'not a disk image\n')
    await expectRefused({ vhd: path }, 'vhd', /notes\.txt: /)
  })

  it('a missing or FIFO data disk names data-vhds', async () => {
    await expectRefused(
      { vhd: goodImage, 'data-vhds': up.path('missing-data.vhd') },
      'data-vhds',
      /missing-data\.vhd: cannot read the disk image: ENOENT/
    )
    const fifo = up.path('data-pipe.vhd')
    execFileSync('mkfifo', [fifo])
    await expectRefused(
      { vhd: goodImage, 'data-vhds': fifo },
      'data-vhds',
      /data-pipe\.vhd: is a FIFO \(named pipe\)/
    )
  })
})
