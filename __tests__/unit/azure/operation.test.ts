import { describe, expect, it } from '@jest/globals'
import type { OperationState, PollerLike } from '@azure/core-lro'
import {
  createHttpHeaders,
  createPipelineRequest,
  RestError,
  type PipelineResponse
} from '@azure/core-rest-pipeline'
import { waitFor, waitUntil } from '../../../src/azure/operation.js'
import { sleep } from '../../../src/sleep.js'
import { requestLogPolicy } from '../../../src/azure/policies.js'
import { silentLogger } from '../../../src/log.js'
import { recordingLogger } from '../targets/gallery-fixtures.js'

const never = (): AbortSignal => new AbortController().signal

describe('sleep', () => {
  it('resolves after the interval', async () => {
    await expect(sleep(2, never())).resolves.toBeUndefined()
  })

  it('rejects at once with the reason of an already aborted signal', async () => {
    const controller = new AbortController()
    const reason = new Error('cancelled')
    controller.abort(reason)
    await expect(sleep(60_000, controller.signal)).rejects.toBe(reason)
  })

  it('rejects with the reason when aborted while sleeping', async () => {
    const controller = new AbortController()
    const reason = new Error('run cancelled')
    const sleeping = sleep(60_000, controller.signal)
    controller.abort(reason)
    await expect(sleeping).rejects.toBe(reason)
  })

  it('is not affected by an abort after it resolved', async () => {
    const controller = new AbortController()
    await sleep(1, controller.signal)
    expect(() => controller.abort(new Error('late'))).not.toThrow()
  })
})

describe('waitUntil', () => {
  it('polls until the check returns a value, and returns it', async () => {
    const log = recordingLogger()
    let calls = 0
    const result = await waitUntil(
      'Replication',
      async () => {
        calls++
        return calls < 3 ? { done: undefined, state: 'Replicating' } : { done: 'ok', state: 'Done' }
      },
      { log, signal: never(), intervalMs: 1, limitMs: 60_000, onLimit: () => new Error('limit') }
    )
    expect(result).toBe('ok')
    expect(calls).toBe(3)
    expect(log.lines[log.lines.length - 1]).toEqual({
      level: 'info',
      message: expect.stringMatching(/^Replication: Done after \d+s$/)
    })
  })

  it('returns a falsy value that is not undefined', async () => {
    const result = await waitUntil('x', async () => ({ done: 0, state: 's' }), {
      log: silentLogger,
      signal: never(),
      limitMs: 60_000,
      onLimit: () => new Error('limit')
    })
    expect(result).toBe(0)
  })

  it('logs the state on every heartbeat while waiting', async () => {
    const log = recordingLogger()
    let calls = 0
    await waitUntil(
      'Disk',
      async () =>
        ++calls < 3 ? { done: undefined, state: 'Pending' } : { done: true, state: 'Ready' },
      {
        log,
        signal: never(),
        intervalMs: 1,
        heartbeatMs: 0,
        limitMs: 60_000,
        onLimit: () => new Error('limit')
      }
    )
    expect(log.lines.map(l => l.message.replace(/after .*$/, 'after …'))).toEqual([
      'Disk: Pending after …',
      'Disk: Pending after …',
      'Disk: Ready after …'
    ])
  })

  it('throws the onLimit error once the limit has passed', async () => {
    const limit = new Error('gave up waiting')
    let calls = 0
    await expect(
      waitUntil(
        'x',
        async () => {
          calls++
          return { done: undefined, state: 'waiting' }
        },
        { log: silentLogger, signal: never(), intervalMs: 1, limitMs: 0, onLimit: () => limit }
      )
    ).rejects.toBe(limit)
    expect(calls).toBeGreaterThanOrEqual(1)
  })

  it('stops with the abort reason when the signal is aborted', async () => {
    const controller = new AbortController()
    const reason = new Error('cancelled')
    let calls = 0
    await expect(
      waitUntil(
        'x',
        async () => {
          if (++calls === 2) controller.abort(reason)
          return { done: undefined, state: 'waiting' }
        },
        {
          log: silentLogger,
          signal: controller.signal,
          intervalMs: 1,
          limitMs: 60_000,
          onLimit: () => new Error('limit')
        }
      )
    ).rejects.toBe(reason)
    expect(calls).toBe(2)
  })
})

type Poller<T> = PollerLike<OperationState<T>, T>

/** The part of a PollerLike that waitFor uses. */
function fakePoller<T>(
  pollUntilDone: (options: { abortSignal?: AbortSignal }) => Promise<T>,
  operationState?: unknown
): Poller<T> & { options: Array<{ abortSignal?: AbortSignal }> } {
  const options: Array<{ abortSignal?: AbortSignal }> = []
  return {
    options,
    operationState,
    pollUntilDone: (o: { abortSignal?: AbortSignal }) => {
      options.push(o)
      return pollUntilDone(o)
    }
  } as unknown as Poller<T> & { options: Array<{ abortSignal?: AbortSignal }> }
}

describe('waitFor', () => {
  it('returns the result, passing the run’s signal to the poller', async () => {
    const log = recordingLogger()
    const signal = never()
    const poller = fakePoller(async () => ({ id: 'image-id' }))
    expect(await waitFor('Create image', poller, { log, signal })).toEqual({ id: 'image-id' })
    expect(poller.options).toEqual([{ abortSignal: signal }])
    expect(log.lines).toEqual([
      { level: 'info', message: expect.stringMatching(/^Create image: done in \d+s$/) }
    ])
  })

  it('logs heartbeat lines with the operation state and detail while waiting', async () => {
    const log = recordingLogger()
    let heard: () => void = () => undefined
    const twoHeartbeats = new Promise<void>(resolve => (heard = resolve))
    const info = log.info
    log.info = message => {
      info(message)
      if (log.lines.length === 2) heard()
    }
    const poller = fakePoller(
      async () => {
        await twoHeartbeats
        return 'done'
      },
      { status: 'running' }
    )
    const result = await waitFor('Snapshot', poller, {
      log,
      signal: never(),
      heartbeatMs: 1,
      detail: () => '2 of 3 regions'
    })
    expect(result).toBe('done')
    const messages = log.lines.map(l => l.message)
    expect(messages.slice(0, 2)).toEqual([
      expect.stringMatching(/^Snapshot: running after \d+s \(2 of 3 regions\)$/),
      expect.stringMatching(/^Snapshot: running after \d+s \(2 of 3 regions\)$/)
    ])
    expect(messages[messages.length - 1]).toMatch(/^Snapshot: done in \d+s$/)

    // The heartbeat stops with the operation.
    const count = log.lines.length
    await sleep(10, never())
    expect(log.lines).toHaveLength(count)
  })

  it('says running without a state and leaves out an empty detail', async () => {
    const log = recordingLogger()
    let heard: () => void = () => undefined
    const heartbeat = new Promise<void>(resolve => (heard = resolve))
    const info = log.info
    log.info = message => {
      info(message)
      heard()
    }
    const poller = fakePoller(async () => {
      await heartbeat
      return 1
    })
    await waitFor('Delete', poller, {
      log,
      signal: never(),
      heartbeatMs: 1,
      detail: () => undefined
    })
    expect(log.lines[0].message).toMatch(/^Delete: running after \d+s$/)
  })

  it('rethrows the poller’s error and stops the heartbeat', async () => {
    const log = recordingLogger()
    const error = new Error('The operation failed')
    const poller = fakePoller(async () => {
      throw error
    })
    await expect(waitFor('Capture', poller, { log, signal: never(), heartbeatMs: 1 })).rejects.toBe(
      error
    )
    expect(log.lines.map(l => l.message)).not.toContainEqual(expect.stringMatching(/done/))
    const count = log.lines.length
    await sleep(10, never())
    expect(log.lines).toHaveLength(count)
  })

  it('gives a failed operation the request id of the request that started it', async () => {
    const url =
      'https://management.azure.com/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/images/op-test-img'
    await requestLogPolicy(silentLogger).sendRequest(
      createPipelineRequest({ url: `${url}?api-version=2024-07-01`, method: 'PUT' }),
      async (request): Promise<PipelineResponse> => ({
        request,
        status: 201,
        headers: createHttpHeaders({ 'x-ms-request-id': 'req-started-it' })
      })
    )
    const error = new Error('The long-running operation has failed')
    const poller = fakePoller(
      async () => {
        throw error
      },
      {
        status: 'failed',
        config: { initialRequestUrl: `${url}?api-version=2024-07-01`, requestMethod: 'PUT' }
      }
    )
    const thrown = await waitFor('Create image', poller, {
      log: silentLogger,
      signal: never()
    }).catch(e => e)
    expect(thrown).toBe(error)
    expect((thrown as { requestId?: string }).requestId).toBe('req-started-it')
  })

  it('leaves REST errors, errors with a request id and unknown operations as they are', async () => {
    const rest = new RestError('Conflict', { statusCode: 409 })
    const known = Object.assign(new Error('x'), { requestId: 'own' })
    const plain = new Error('no config')
    const config = {
      config: { initialRequestUrl: 'https://management.azure.com/never-seen', requestMethod: 'PUT' }
    }
    for (const [error, state] of [
      [rest, config],
      [known, config],
      [plain, undefined],
      [plain, config]
    ] as const) {
      const poller = fakePoller(async () => {
        throw error
      }, state)
      const thrown = await waitFor('op', poller, { log: silentLogger, signal: never() }).catch(
        e => e
      )
      expect(thrown).toBe(error)
    }
    expect('requestId' in rest && rest.requestId).toBeFalsy()
    expect(known.requestId).toBe('own')
    expect('requestId' in plain).toBe(false)
  })
})
