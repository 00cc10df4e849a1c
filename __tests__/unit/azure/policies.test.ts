import { describe, it, expect } from '@jest/globals'
import {
  RestError,
  createPipelineRequest,
  type PipelineRequest,
  type PipelineResponse,
  type SendRequest
} from '@azure/core-rest-pipeline'
import { ComputeManagementClient } from '@azure/arm-compute'
import {
  azurePolicies,
  isExtraTransientError,
  isRejectedTokenResponse,
  pathOf,
  refreshableCredential,
  requestLogPolicy,
  requestTimeoutPolicy,
  tokenRefreshPolicy,
  transientRetryPolicy
} from '../../../src/azure/policies.js'
import {
  recordingLogger,
  reply,
  scriptedHttpClient,
  tokenSequence,
  type Reply
} from './fake-http.js'

const ARM = 'https://management.azure.com'
const VM_URL = `${ARM}/subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm?api-version=2026-04-01`

function request(
  url = VM_URL,
  method: PipelineRequest['method'] = 'GET',
  token = 'old'
): PipelineRequest {
  const r = createPipelineRequest({ url, method })
  r.headers.set('Authorization', `Bearer ${token}`)
  return r
}

/** A `next` that answers from a script and records the Authorization header of each call. */
function scriptedNext(
  replies: Array<Reply | Error>
): SendRequest & { auth: Array<string | undefined> } {
  const auth: Array<string | undefined> = []
  const next = async (r: PipelineRequest): Promise<PipelineResponse> => {
    auth.push(r.headers.get('Authorization'))
    const n = replies.shift()
    if (n === undefined) throw new Error('no more replies')
    if (n instanceof Error) throw n
    return reply(r, n)
  }
  return Object.assign(next, { auth })
}

const expired: Reply = {
  status: 401,
  headers: {
    'WWW-Authenticate':
      'Bearer authorization_uri="https://login.microsoftonline.com/t", error="invalid_token", error_description="The access token has expired."'
  },
  body: {
    error: {
      code: 'ExpiredAuthenticationToken',
      message: 'The access token expiry UTC time is earlier than current UTC time.'
    }
  }
}

describe('isRejectedTokenResponse', () => {
  const r = (x: Reply): PipelineResponse => reply(request(), x)

  it('recognises expired and invalid tokens by ARM error code', () => {
    expect(isRejectedTokenResponse(r(expired))).toBe(true)
    expect(
      isRejectedTokenResponse(
        r({ status: 401, body: { error: { code: 'InvalidAuthenticationToken', message: 'x' } } })
      )
    ).toBe(true)
  })

  it('recognises a bare invalid_token challenge', () => {
    expect(
      isRejectedTokenResponse(
        r({ status: 401, headers: { 'WWW-Authenticate': 'Bearer error="invalid_token"' } })
      )
    ).toBe(true)
  })

  it('does not treat wrong audience, 403 or CAE claims challenges as refreshable', () => {
    expect(
      isRejectedTokenResponse(
        r({
          status: 401,
          body: { error: { code: 'InvalidAuthenticationTokenAudience', message: 'x' } }
        })
      )
    ).toBe(false)
    expect(
      isRejectedTokenResponse(
        r({ status: 403, body: { error: { code: 'AuthorizationFailed', message: 'x' } } })
      )
    ).toBe(false)
    expect(
      isRejectedTokenResponse(
        r({
          status: 401,
          headers: { 'WWW-Authenticate': 'Bearer error="insufficient_claims", claims="eyJ9"' }
        })
      )
    ).toBe(false)
  })
})

describe('tokenRefreshPolicy', () => {
  it('on an expired-token 401 refreshes the credential and re-sends once with the new token', async () => {
    const credential = tokenSequence(['tok-fresh-123'])
    const log = recordingLogger()
    const policy = tokenRefreshPolicy({ credential, scopes: `${ARM}/.default`, log })
    const next = scriptedNext([expired, { status: 200, body: { name: 'vm' } }])
    const response = await policy.sendRequest(request(), next)
    expect(response.status).toBe(200)
    expect(next.auth).toEqual(['Bearer old', 'Bearer tok-fresh-123'])
    expect(credential.refreshes).toBe(1)
    expect(log.lines.join('\n')).toContain('ExpiredAuthenticationToken')
    expect(log.lines.join('\n')).not.toContain('tok-fresh-123')
  })

  it('re-sends only once: a second rejection is returned as is', async () => {
    const credential = tokenSequence(['new'])
    const policy = tokenRefreshPolicy({ credential, scopes: 's', log: recordingLogger() })
    const next = scriptedNext([expired, expired])
    const response = await policy.sendRequest(request(), next)
    expect(response.status).toBe(401)
    expect(next.auth).toHaveLength(2)
  })

  it('swaps the rejected token on later requests that still carry it, without a new refresh', async () => {
    const credential = tokenSequence(['new'])
    const policy = tokenRefreshPolicy({ credential, scopes: 's', log: recordingLogger() })
    await policy.sendRequest(request(), scriptedNext([expired, { status: 200 }]))
    const later = scriptedNext([{ status: 200 }])
    await policy.sendRequest(request(VM_URL, 'GET', 'old'), later)
    expect(later.auth).toEqual(['Bearer new'])
    expect(credential.refreshes).toBe(1)
  })

  it('leaves other failures alone', async () => {
    const credential = tokenSequence(['new'])
    const policy = tokenRefreshPolicy({ credential, scopes: 's', log: recordingLogger() })
    const next = scriptedNext([
      { status: 403, body: { error: { code: 'AuthorizationFailed', message: 'no' } } }
    ])
    expect((await policy.sendRequest(request(), next)).status).toBe(403)
    expect(credential.calls).toBe(0)
  })

  it('shares one refresh between requests rejected at the same time', async () => {
    const credential = tokenSequence(['new'])
    const policy = tokenRefreshPolicy({ credential, scopes: 's', log: recordingLogger() })
    const a = scriptedNext([expired, { status: 200 }])
    const b = scriptedNext([expired, { status: 200 }])
    await Promise.all([policy.sendRequest(request(), a), policy.sendRequest(request(), b)])
    expect(credential.refreshes).toBe(1)
    expect(a.auth[1]).toBe('Bearer new')
    expect(b.auth[1]).toBe('Bearer new')
  })

  it('returns the 401 and warns when no new token can be had', async () => {
    const log = recordingLogger()
    const credential = {
      getToken: async () => {
        throw new Error('AADSTS700024: Client assertion is not within its valid time range.')
      }
    }
    const policy = tokenRefreshPolicy({ credential, scopes: 's', log })
    const response = await policy.sendRequest(request(), scriptedNext([expired]))
    expect(response.status).toBe(401)
    expect(log.lines.some(l => l.startsWith('warning') && l.includes('AADSTS700024'))).toBe(true)
  })
})

describe('refreshableCredential', () => {
  it('builds a new credential on refresh, so a cached token is not reused', async () => {
    let built = 0
    const credential = refreshableCredential(() => {
      const n = ++built
      return {
        getToken: async () => ({ token: `t${n}`, expiresOnTimestamp: Date.now() + 3600_000 })
      }
    })
    expect((await credential.getToken('s'))?.token).toBe('t1')
    expect((await credential.getToken('s'))?.token).toBe('t1')
    credential.refresh()
    expect((await credential.getToken('s'))?.token).toBe('t2')
    expect(built).toBe(2)
  })

  it('stops waiting for a token request that never answers once the run is aborted', async () => {
    // The identity library does not pass the signal to the token endpoint request.
    const credential = refreshableCredential(() => ({ getToken: () => new Promise(() => {}) }))
    const controller = new AbortController()
    const pending = credential.getToken('s', { abortSignal: controller.signal })
    controller.abort(new Error('the job was cancelled'))
    await expect(pending).rejects.toThrow('the job was cancelled')
    await expect(credential.getToken('s', { abortSignal: controller.signal })).rejects.toThrow(
      'the job was cancelled'
    )
  })
})

describe('requestLogPolicy', () => {
  it('logs method, path without query, status and request id at debug level', async () => {
    const log = recordingLogger()
    const sas = 'https://md-x.blob.storage.azure.net/abc/abcd?sv=1&sig=SECRET'
    await requestLogPolicy(log).sendRequest(
      request(sas, 'PUT'),
      scriptedNext([{ status: 201, headers: { 'x-ms-request-id': 'req-1' } }])
    )
    expect(log.lines).toEqual(['debug PUT /abc/abcd 201 (req-1)'])
  })

  it('logs a transport failure and rethrows it', async () => {
    const log = recordingLogger()
    const error = new RestError('read ECONNRESET', { code: 'ECONNRESET' })
    await expect(requestLogPolicy(log).sendRequest(request(), scriptedNext([error]))).rejects.toBe(
      error
    )
    expect(log.lines[0]).toMatch(
      /^debug GET \/subscriptions\/sub\/.*\/virtualMachines\/vm failed: ECONNRESET$/
    )
    expect(log.lines[0]).not.toContain('api-version')
  })

  it('never logs the Authorization header', async () => {
    const log = recordingLogger()
    await requestLogPolicy(log).sendRequest(
      request(VM_URL, 'GET', 'tok123'),
      scriptedNext([{ status: 200 }])
    )
    expect(log.lines.join()).not.toContain('tok123')
  })
})

describe('pathOf', () => {
  it('drops query and fragment', () => {
    expect(pathOf('https://h/a/b?sig=x#y')).toBe('/a/b')
    expect(pathOf('not a url?sig=x')).toBe('not a url')
  })
})

describe('transientRetryPolicy', () => {
  const fast = { retryDelayInMs: 0, maxRetryDelayInMs: 0 }

  it('retries a DNS EAI_AGAIN for any method, POST included', async () => {
    const next = scriptedNext([
      new RestError('getaddrinfo EAI_AGAIN', { code: 'EAI_AGAIN' }),
      { status: 202 }
    ])
    const response = await transientRetryPolicy(fast).sendRequest(request(VM_URL, 'POST'), next)
    expect(response.status).toBe(202)
    expect(next.auth).toHaveLength(2)
  })

  it('retries a connection dropped mid-body for GET but not for POST', async () => {
    const truncated = (): RestError =>
      new RestError('Error reading response as text: aborted', { code: RestError.PARSE_ERROR })
    const get = scriptedNext([truncated(), { status: 200 }])
    expect((await transientRetryPolicy(fast).sendRequest(request(), get)).status).toBe(200)
    const post = scriptedNext([truncated(), { status: 200 }])
    await expect(
      transientRetryPolicy(fast).sendRequest(request(VM_URL, 'POST'), post)
    ).rejects.toThrow('Error reading response as text')
    expect(post.auth).toHaveLength(1)
  })

  it('leaves what the SDK retries (ECONNRESET, 5xx, 429) to the SDK: one attempt here', async () => {
    const reset = scriptedNext([new RestError('read ECONNRESET', { code: 'ECONNRESET' })])
    await expect(transientRetryPolicy(fast).sendRequest(request(), reset)).rejects.toThrow(
      'ECONNRESET'
    )
    expect(reset.auth).toHaveLength(1)
    const busy = scriptedNext([{ status: 503 }])
    expect((await transientRetryPolicy(fast).sendRequest(request(), busy)).status).toBe(503)
    expect(busy.auth).toHaveLength(1)
  })

  it('gives up after maxRetries', async () => {
    const errors = [1, 2, 3].map(() => new RestError('EAI_AGAIN', { code: 'EAI_AGAIN' }))
    const next = scriptedNext(errors)
    await expect(
      transientRetryPolicy({ ...fast, maxRetries: 2 }).sendRequest(request(), next)
    ).rejects.toThrow('EAI_AGAIN')
    expect(next.auth).toHaveLength(3)
  })
})

describe('isExtraTransientError', () => {
  it('classifies by code and method', () => {
    const e = (code: string): RestError => new RestError(code, { code })
    expect(isExtraTransientError(e('ENETUNREACH'), 'POST')).toBe(true)
    expect(isExtraTransientError(e('EPIPE'), 'PUT')).toBe(true)
    expect(isExtraTransientError(e('EPIPE'), 'POST')).toBe(false)
    expect(isExtraTransientError(e('ECONNRESET'), 'GET')).toBe(false)
    expect(isExtraTransientError(new Error('EAI_AGAIN'), 'GET')).toBe(false)
  })
})

describe('requestTimeoutPolicy', () => {
  const abortError = (): Error =>
    Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' })

  it('sets a per-attempt timeout and reports its expiry as a retriable ETIMEDOUT RestError', async () => {
    let seenTimeout = 0
    const next: SendRequest = async r => {
      seenTimeout = r.timeout
      throw abortError()
    }
    const r = request()
    const error = await requestTimeoutPolicy(90_000)
      .sendRequest(r, next)
      .catch((e: unknown) => e)
    expect(seenTimeout).toBe(90_000)
    expect(error).toBeInstanceOf(RestError)
    expect((error as RestError).code).toBe('ETIMEDOUT')
    expect(r.timeout).toBe(0)
  })

  it("passes the caller's own abort through unchanged", async () => {
    const controller = new AbortController()
    controller.abort()
    const r = request()
    r.abortSignal = controller.signal
    const original = abortError()
    await expect(
      requestTimeoutPolicy(1000).sendRequest(r, async () => {
        throw original
      })
    ).rejects.toBe(original)
  })

  it('keeps a timeout the caller chose', async () => {
    const r = request()
    r.timeout = 5
    let seen = 0
    await requestTimeoutPolicy(1000).sendRequest(r, async x => {
      seen = x.timeout
      return reply(x, { status: 200 })
    })
    expect(seen).toBe(5)
  })
})

describe('in a real arm-compute 25 client pipeline', () => {
  function client(replies: Array<Reply | Error>, tokens: string[]) {
    const http = scriptedHttpClient(replies)
    const credential = tokenSequence(tokens)
    const log = recordingLogger()
    const compute = new ComputeManagementClient(credential, 'sub', {
      httpClient: http,
      retryOptions: { maxRetries: 2, retryDelayInMs: 0, maxRetryDelayInMs: 0 },
      additionalPolicies: azurePolicies({ credential, scopes: `${ARM}/.default`, log })
    })
    return { compute, http, credential, log }
  }

  it('recovers from an expired token: 401, new token, same request again', async () => {
    const { compute, http, credential, log } = client(
      [expired, { status: 200, body: { name: 'vm', location: 'westeurope', properties: {} } }],
      ['old', 'new']
    )
    const vm = await compute.virtualMachines.get('rg', 'vm')
    expect(vm.name).toBe('vm')
    expect(http.sent.map(s => s.authorization)).toEqual(['Bearer old', 'Bearer new'])
    expect(credential.refreshes).toBe(1)
    expect(log.lines.filter(l => l.startsWith('debug'))).toEqual([
      'debug GET /subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm 401',
      'debug GET /subscriptions/sub/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm 200'
    ])
  })

  it('the SDK retries 429 with Retry-After and ECONNRESET; every attempt is logged', async () => {
    const { compute, http, log } = client(
      [
        { status: 429, headers: { 'Retry-After': '0', 'x-ms-request-id': 'r1' } },
        new RestError('read ECONNRESET', { code: 'ECONNRESET' }),
        {
          status: 200,
          headers: { 'x-ms-request-id': 'r3' },
          body: { name: 'vm', location: 'x', properties: {} }
        }
      ],
      ['t']
    )
    await compute.virtualMachines.get('rg', 'vm')
    expect(http.sent).toHaveLength(3)
    expect(
      log.lines.filter(l => l.startsWith('debug')).map(l => l.replace(/^debug GET \S+ /, ''))
    ).toEqual(['429 (r1)', 'failed: ECONNRESET', '200 (r3)'])
  })
})
