import { describe, expect, it } from '@jest/globals'
import { createRenewingSink } from '../../../src/upload/write-access.js'
import type { PageSink } from '../../../src/upload/page-uploader.js'

/** Sinks that record which SAS each write went through. */
function recorder(): { writes: string[]; sinkFor: (sas: string) => PageSink } {
  const writes: string[] = []
  return {
    writes,
    sinkFor: sas => ({
      writePages: async () => void writes.push(sas),
      listWrittenRanges: async () => [],
      clearPages: async () => void writes.push(`clear via ${sas}`)
    })
  }
}

const signal = new AbortController().signal
const body = Buffer.alloc(512)

describe('the write SAS is short-lived and renewed while the upload runs', () => {
  it('writes through the first SAS until it is close to expiry, then through a new grant', async () => {
    let clock = 0
    let grants = 0
    const r = recorder()
    const sink = createRenewingSink({
      firstSas: 'sas-0',
      grant: async () => `sas-${++grants}`,
      sinkFor: r.sinkFor,
      lifetimeMs: 60 * 60_000,
      renewBeforeMs: 15 * 60_000,
      now: () => clock
    })
    await sink.writePages(body, 0, undefined, signal)
    clock = 44 * 60_000
    await sink.writePages(body, 512, undefined, signal)
    expect(grants).toBe(0)
    clock = 45 * 60_000 // 15 minutes left: renew first
    await sink.writePages(body, 1024, undefined, signal)
    await sink.clearPages!(0, 512, signal)
    clock = 45 * 60_000 + 44 * 60_000 // still within the second grant's window
    await sink.writePages(body, 1536, undefined, signal)
    expect(r.writes).toEqual(['sas-0', 'sas-0', 'sas-1', 'clear via sas-1', 'sas-1'])
    expect(sink.currentSas()).toBe('sas-1')
    expect(sink.renewals()).toBe(1)
  })

  it('renews once for many writes in flight', async () => {
    let clock = 0
    let grants = 0
    let release!: () => void
    const gate = new Promise<void>(resolve => (release = resolve))
    const r = recorder()
    const sink = createRenewingSink({
      firstSas: 'sas-0',
      grant: async () => {
        await gate
        return `sas-${++grants}`
      },
      sinkFor: r.sinkFor,
      now: () => clock
    })
    clock = 50 * 60_000
    const writes = [0, 1, 2, 3].map(i => sink.writePages(body, i * 512, undefined, signal))
    release()
    await Promise.all(writes)
    expect(grants).toBe(1)
    expect(r.writes).toEqual(['sas-1', 'sas-1', 'sas-1', 'sas-1'])
  })

  it('a failed renewal fails the write and the next write tries again', async () => {
    let clock = 0
    let attempts = 0
    const r = recorder()
    const sink = createRenewingSink({
      firstSas: 'sas-0',
      grant: async () => {
        attempts++
        if (attempts === 1) throw new Error('grant refused')
        return 'sas-2'
      },
      sinkFor: r.sinkFor,
      now: () => clock
    })
    clock = 50 * 60_000
    await expect(sink.writePages(body, 0, undefined, signal)).rejects.toThrow('grant refused')
    await sink.writePages(body, 0, undefined, signal)
    expect(r.writes).toEqual(['sas-2'])
  })

  it('a write refused with 403 because a renewal ended its SAS is sent again with the new one', async () => {
    let clock = 0
    const sent: string[] = []
    let release!: () => void
    const inFlight = new Promise<void>(resolve => (release = resolve))
    const sink = createRenewingSink({
      firstSas: 'sas-0',
      grant: async () => 'sas-1',
      sinkFor: sas => ({
        writePages: async () => {
          if (sas === 'sas-0') {
            await inFlight
            // By now the renewal replaced the stored policy this SAS used.
            throw Object.assign(new Error('AuthenticationFailed'), { statusCode: 403 })
          }
          sent.push(sas)
        },
        listWrittenRanges: async () => []
      }),
      now: () => clock
    })
    const slow = sink.writePages(body, 0, undefined, signal)
    clock = 50 * 60_000
    await sink.writePages(body, 512, undefined, signal)
    release()
    await slow
    expect(sent).toEqual(['sas-1', 'sas-1'])
  })

  it('a 403 without a renewal grants write access once more and sends again, once', async () => {
    const used: string[] = []
    const sink = createRenewingSink({
      firstSas: 'sas-0',
      grant: async () => `sas-${used.length}`,
      sinkFor: sas => ({
        writePages: async () => {
          used.push(sas)
          throw Object.assign(new Error('AuthenticationFailed'), { statusCode: 403 })
        },
        listWrittenRanges: async () => []
      }),
      now: () => 0
    })
    await expect(sink.writePages(body, 0, undefined, signal)).rejects.toThrow(
      'AuthenticationFailed'
    )
    expect(used).toEqual(['sas-0', 'sas-1'])
    expect(sink.renewals()).toBe(1)
  })

  it('a SAS that ended sooner than asked: the refused write goes through with a new grant', async () => {
    const written: string[] = []
    const sink = createRenewingSink({
      firstSas: 'ended',
      grant: async () => 'new',
      sinkFor: sas => ({
        writePages: async () => {
          if (sas === 'ended')
            throw Object.assign(new Error('AuthorizationFailure'), { statusCode: 403 })
          written.push(sas)
        },
        listWrittenRanges: async () => []
      }),
      now: () => 0
    })
    await Promise.all([0, 1, 2].map(i => sink.writePages(body, i * 512, undefined, signal)))
    expect(written).toEqual(['new', 'new', 'new'])
    // The writes in flight shared one grant.
    expect(sink.renewals()).toBe(1)
  })

  it('a refused grant (write access revoked: the disk is no longer ActiveUpload) stops the write', async () => {
    const sink = createRenewingSink({
      firstSas: 'sas-0',
      grant: async () => {
        throw Object.assign(new Error('OperationNotAllowed'), { statusCode: 409 })
      },
      sinkFor: () => ({
        writePages: async () => {
          throw Object.assign(new Error('AuthenticationFailed'), { statusCode: 403 })
        },
        listWrittenRanges: async () => []
      }),
      now: () => 0
    })
    await expect(sink.writePages(body, 0, undefined, signal)).rejects.toThrow('OperationNotAllowed')
  })
})
