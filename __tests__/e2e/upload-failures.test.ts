/**
 * Upload mode when things go wrong, on the bundled action: faults on page writes (through the
 * proxy in front of Azurite) and on ARM calls, cancellation and the time limit mid-upload. The
 * evidence is the emulator's request log, the proxy's counters and the blob's bytes.
 */
import { describe, expect, it } from '@jest/globals'
import { errorLines, ledgerEntries } from '../support/action-runner.js'
import { sha256, useUploadCloud } from '../support/upload-run.js'
import { MiB, expectedSha256, writeRawImage, type Write } from '../upload-it/fixtures.js'

const up = useUploadCloud('upload-failures')

const WRITES: Write[] = Array.from({ length: 12 }, (_, i) => ({
  offset: i * 2 * MiB + 4096,
  length: MiB
}))
const VIRTUAL = 32 * MiB

async function image(name: string): Promise<string> {
  const path = up.path(`${name}.raw`)
  await writeRawImage(path, VIRTUAL, WRITES)
  return path
}

describe('transient faults', () => {
  it('uploads through 503s, dropped connections and 500 OperationTimedOut on page writes', async () => {
    const proxy = up.cloud.storageProxy!
    const injectedBefore = proxy.injected
    proxy.faults.add({ status: 503, times: 3 })
    proxy.faults.add({ drop: true, times: 2 })
    proxy.faults.add({ status: 500, times: 1 })
    const run = await up.run({
      vhd: await image('page-faults'),
      'image-name': 'page-faults',
      'keep-upload': 'true'
    })
    expect(errorLines(run.main)).toEqual([])
    expect(proxy.injected - injectedBefore).toBe(6)
    const content = await up.cloud.emu
      .diskBlobClient(up.diskId('page-faults-upload-9000001-os'))
      .downloadToBuffer()
    const footer = content.subarray(content.length - 512)
    expect(sha256(content)).toBe(expectedSha256(VIRTUAL, WRITES, footer))
  })

  it('goes on through 429, 500 and a dropped connection on ARM calls and polls', async () => {
    const before = up.cloud.emu.requests.length
    up.cloud.emu.faults.add({
      method: 'PUT',
      path: /\/disks\/arm-faults-upload/,
      status: 500,
      times: 1
    })
    up.cloud.emu.faults.add({
      method: 'POST',
      path: /beginGetAccess/,
      status: 429,
      retryAfter: 1,
      times: 1
    })
    up.cloud.emu.faults.add({ method: 'GET', path: /\/DiskOperations\//, drop: true, times: 1 })
    up.cloud.emu.faults.add({
      method: 'PUT',
      path: /\/images\/arm-faults\?/,
      status: 503,
      retryAfter: 1,
      times: 1
    })
    const run = await up.run({ vhd: await image('arm-faults'), 'image-name': 'arm-faults' })
    expect(errorLines(run.main)).toEqual([])
    expect(run.outputs['image-id']).toMatch(/\/images\/arm-faults$/)
    expect(up.cloud.emu.faults.pending).toEqual([])
    const requests = up.cloud.emu.requests.slice(before)
    // Each faulted request was sent again and then succeeded.
    const statuses = (method: string, re: RegExp) =>
      requests.filter(r => r.method === method && re.test(r.path)).map(r => r.status)
    expect(statuses('PUT', /\/disks\/arm-faults-upload-9000001-os$/)).toEqual([500, 202])
    expect(statuses('POST', /beginGetAccess$/)).toEqual([429, 202])
    expect(statuses('PUT', /\/images\/arm-faults$/)).toEqual([503, 201])
    // The dropped poll was read again.
    expect(
      requests.filter(r => r.method === 'GET' && /\/DiskOperations\//.test(r.path)).length
    ).toBeGreaterThan(1)
  })
})

describe('a failed upload: Azure checks the VHD footer when write access is revoked', () => {
  it('reports the page-write error (not InvalidVhd) and leaves no disk behind', async () => {
    const proxy = up.cloud.storageProxy!
    // A 403 is sent once more with a fresh grant (write-access.ts: the SAS may have ended); refused
    // again, it is fatal for the uploader (a wrong SAS): the upload stops with no footer written.
    proxy.faults.add({ status: 403, times: 2 })
    const before = up.cloud.emu.requests.length
    const run = await up.run({
      vhd: await image('write-refused'),
      'image-name': 'write-refused',
      'upload-concurrency': '1'
    })
    proxy.faults.clear()
    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/Put Page at offset \d+ \(\d+ bytes\) failed/)
    expect(run.allText).not.toMatch(/InvalidVhd|cookie value/)
    const diskId = up.diskId('write-refused-upload-9000001-os')
    const writes = up.cloud.writesSince(before)
    // Revoked (accepted: the footer was written first), then deleted, all in the main step.
    const revokes = writes.filter(w => w.path === `${diskId}/endGetAccess`)
    expect(revokes.map(w => w.status)).toEqual([202])
    expect(writes.some(w => w.method === 'DELETE' && w.path === diskId)).toBe(true)
    expect(up.cloud.emu.resources.get(diskId)).toBeUndefined()
    expect(writes.some(w => /\/images\//.test(w.path))).toBe(false)
    expect(run.post?.stdout).toMatch(/nothing this run created is left/)
  })

  it('a main step killed outright: the post step seals the disk, revokes access and deletes it', async () => {
    const proxy = up.cloud.storageProxy!
    proxy.faults.add({ delayMs: 1000, times: 1000 })
    const seen = proxy.requests
    const before = up.cloud.emu.requests.length
    const run = await up.run(
      { vhd: await image('killed'), 'image-name': 'killed', 'upload-concurrency': '1' },
      { signalWhen: { when: () => proxy.requests - seen >= 4, signal: 'SIGKILL' } }
    )
    proxy.faults.clear()
    expect(run.main.signal).toBe('SIGKILL')
    const diskId = up.diskId('killed-upload-9000001-os')
    expect(run.post?.code).toBe(0)
    expect(run.post?.stdout).toMatch(/deleted temporary disk 'killed-upload-9000001-os'/)
    expect(run.post?.stdout).not.toMatch(/::warning::/)
    expect(up.cloud.emu.resources.get(diskId)).toBeUndefined()
    const writes = up.cloud.writesSince(before)
    expect(writes.some(w => w.method === 'DELETE' && w.path === diskId)).toBe(true)
  })
})

describe('cancellation and the time limit', () => {
  it('SIGINT mid-upload: exits non-zero, then the post step revokes access and deletes the disk', async () => {
    const proxy = up.cloud.storageProxy!
    proxy.faults.add({ delayMs: 1000, times: 1000 })
    const seen = proxy.requests
    const before = up.cloud.emu.requests.length
    const run = await up.run(
      { vhd: await image('cancelled'), 'image-name': 'cancelled', 'upload-concurrency': '1' },
      { signalWhen: { when: () => proxy.requests - seen >= 4, signal: 'SIGINT' } }
    )
    proxy.faults.clear()
    expect(run.main.code).not.toBe(0)
    expect(run.main.stdout).toMatch(/Cancelled during 'Upload disk images/)
    expect(run.allText).not.toMatch(/InvalidVhd|cookie value/)
    const diskId = up.diskId('cancelled-upload-9000001-os')
    expect(run.post?.code).toBe(0)
    expect(run.post?.stdout).toMatch(/Revoked write access to disk 'cancelled-upload-9000001-os'/)
    const writes = up.cloud.writesSince(before)
    expect(writes.some(w => w.path === `${diskId}/endGetAccess`)).toBe(true)
    expect(writes.some(w => w.method === 'DELETE' && w.path === diskId)).toBe(true)
    expect(up.cloud.emu.resources.get(diskId)).toBeUndefined()
    expect(writes.some(w => /\/images\//.test(w.path))).toBe(false)
  })

  it('SIGINT mid-upload to a storage account: the post step deletes the partial page blob', async () => {
    up.addStorageAccount()
    const proxy = up.cloud.storageProxy!
    proxy.faults.add({ delayMs: 1000, times: 1000 })
    const seen = proxy.requests
    const run = await up.run(
      {
        vhd: await image('blob-cancelled'),
        'image-name': 'blob-cancelled',
        'upload-concurrency': '1',
        'upload-via': 'storage-account',
        'storage-account': 'devstoreaccount1'
      },
      { signalWhen: { when: () => proxy.requests - seen >= 6, signal: 'SIGINT' } }
    )
    proxy.faults.clear()
    expect(run.main.code).not.toBe(0)
    const ledger = ledgerEntries(run.state.ledger) as Array<{ kind: string; url?: string }>
    expect(ledger.map(e => e.kind)).toEqual(['upload-blob'])
    expect(run.post?.code).toBe(0)
    expect(run.post?.stdout).toMatch(/deleted temporary blob .*blob-cancelled-9000001-os\.vhd/)
    expect(await up.blob('blob-cancelled-9000001-os.vhd').exists()).toBe(false)
  })

  it('time limit mid-upload: names the step and progress, cleans up, and the post step finds nothing left', async () => {
    const proxy = up.cloud.storageProxy!
    // Twelve page writes of six seconds each, one at a time: longer than one minute.
    proxy.faults.add({ delayMs: 6000, times: 1000 })
    const before = up.cloud.emu.requests.length
    const run = await up.run({
      vhd: await image('too-slow'),
      'image-name': 'too-slow',
      'upload-concurrency': '1',
      'timeout-minutes': '1'
    })
    proxy.faults.clear()
    expect(run.main.code).toBe(1)
    const [error] = errorLines(run.main)
    expect(error).toMatch(
      /Timed out after 1 minute\(s\) during 'Upload disk images \(managed disks\)'/
    )
    expect(error).toMatch(/last progress/)
    const diskId = up.diskId('too-slow-upload-9000001-os')
    const writes = up.cloud.writesSince(before)
    expect(writes.some(w => w.path === `${diskId}/endGetAccess`)).toBe(true)
    expect(up.cloud.emu.resources.get(diskId)).toBeUndefined()
    expect(run.post?.stdout).toMatch(/nothing this run created is left/)
  })
})
