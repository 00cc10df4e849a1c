/**
 * Pipeline policies added to every ARM client (ClientSettings.policies in clients.ts).
 *
 * Where they sit: both client generations (@azure/core-client for arm-authorization,
 * @azure-rest/core-client for arm-compute 25) add the bearer-token policy with no phase, i.e.
 * BEFORE the SDK's retry policy, and put `perRetry` additional policies after the Sign phase, i.e.
 * closest to the wire. So every policy here runs once per attempt on the wire and sees the request
 * already carrying its `Authorization` header; the order of the returned array is outer → inner.
 *
 * What the SDK's default retry policy (core-rest-pipeline → @typespec/ts-http-runtime
 * defaultRetryPolicy: throttlingRetryStrategy + exponentialRetryStrategy) already does, for every
 * method including POST, and for LRO polls (they are plain GETs through the same pipeline):
 *  - 429 and 503 with Retry-After / retry-after-ms / x-ms-retry-after-ms: waits as told;
 *  - 408 and 5xx except 501/505: exponential backoff (clients.ts: 6 tries, 1 s … 60 s);
 *  - transport errors ETIMEDOUT, ESOCKETTIMEDOUT, ECONNREFUSED, ECONNRESET, ENOENT, ENOTFOUND.
 * We do not duplicate that. What it leaves out, and transientRetryPolicy/requestTimeoutPolicy add:
 *  - EAI_AGAIN (a DNS hiccup, common on hosted runners), ENETUNREACH, EHOSTUNREACH, ENETDOWN,
 *    EHOSTDOWN: the request never left, so retrying is safe for every method;
 *  - EPIPE, ECONNABORTED, premature close, and a connection dropped while reading the body (the
 *    client reports PARSE_ERROR "Error reading response as text"): the server may have acted, so
 *    these are retried only for GET/HEAD/PUT/DELETE, which ARM defines as idempotent;
 *  - no timeout at all by default (request.timeout = 0): a half-open connection during an hour of
 *    polling would hang the run until the job timeout. We set one, and turn its AbortError (which
 *    the retry policy would rethrow at once) into an ETIMEDOUT RestError the SDK retries.
 * Non-idempotent retries: the SDK also retries POSTs on 5xx/ECONNRESET and offers no option to
 * exclude a method. The POSTs this action sends are idempotent in effect (deallocate, generalize,
 * beginGetAccess, endGetAccess, listKeys: repeating them leaves the same state), except Run
 * Command; a repeated Run Command while the first still runs is refused by Azure with a Conflict,
 * so a retry cannot run sysprep twice at once, and describeAzureError explains that Conflict.
 */
import {
  RestError,
  isRestError,
  retryPolicy,
  type PipelinePolicy,
  type PipelineRequest,
  type PipelineResponse,
  type RetryStrategy
} from '@azure/core-rest-pipeline'
import type { AccessToken, GetTokenOptions, TokenCredential } from '@azure/identity'
import type { Logger } from '../log.js'
import { parseJson } from './json.js'
import { oneLine } from '../untrusted.js'
import { errorMessage } from '../error-message.js'
import { untilAborted } from '../sleep.js'

export interface PolicyEntry {
  policy: PipelinePolicy
  position: 'perCall' | 'perRetry'
}

// ---------------------------------------------------------------------------------------------
// (a) A fresh token when Azure rejects ours

/** A credential whose caches can be dropped, so the next getToken asks the identity provider again. */
export interface RefreshableCredential extends TokenCredential {
  refresh(): void
}

/**
 * Wraps a credential factory. `refresh()` replaces the credential with a new instance: MSAL's
 * in-memory token cache lives in the instance, so the new one must go to Entra ID, and for OIDC
 * the ClientAssertionCredential calls its assertion callback again, which mints a new GitHub ID
 * token. (The alternative, passing `claims` in GetTokenOptions to skip MSAL's cache, would also
 * send those claims to Entra ID and change the token; a new instance changes nothing else.)
 */
export function refreshableCredential(create: () => TokenCredential): RefreshableCredential {
  let current = create()
  return {
    // The credentials ignore `abortSignal` on the request to the identity provider (@azure/identity
    // 4.14 msalClient: only the device-code flow reads it), so a token request that hangs would
    // outlast timeout-minutes and cancellation: the run stops waiting for it instead.
    getToken: (scopes: string | string[], options?: GetTokenOptions) =>
      untilAborted(current.getToken(scopes, options), options?.abortSignal),
    refresh: () => {
      current = create()
    }
  }
}

const REFRESHABLE_CODES = new Set(['expiredauthenticationtoken', 'invalidauthenticationtoken'])

/** The ARM error code of a response body (`{error:{code}}` or `{code}`), if any. */
export function responseErrorCode(response: PipelineResponse): string | undefined {
  const body = parseJson(response.bodyAsText ?? undefined) as
    { error?: { code?: unknown }; code?: unknown } | undefined
  const code = body?.error?.code ?? body?.code
  return typeof code === 'string' ? code : (response.headers.get('x-ms-error-code') ?? undefined)
}

/**
 * Whether a response says our access token expired or was revoked, as opposed to "not allowed"
 * (403) or the wrong audience/tenant (a new token of the same kind would fail the same way).
 * A Continuous Access Evaluation challenge (error="insufficient_claims") is left to the SDK's
 * bearer-token policy, which answers it with the claims it asks for.
 */
export function isRejectedTokenResponse(response: PipelineResponse): boolean {
  if (response.status !== 401) return false
  const challenge = response.headers.get('WWW-Authenticate') ?? ''
  if (/error="?insufficient_claims/i.test(challenge)) return false
  const code = responseErrorCode(response)
  if (code !== undefined) return REFRESHABLE_CODES.has(code.toLowerCase())
  return /error="?invalid_token/i.test(challenge)
}

function bearerOf(request: PipelineRequest): string | undefined {
  const header = request.headers.get('Authorization')
  const match = header ? /^Bearer\s+(.+)$/i.exec(header) : null
  return match?.[1]
}

/** Bodies we can send twice: none, text, bytes. A stream or a body factory may be spent. */
function isReplayable(request: PipelineRequest): boolean {
  const body = request.body
  return (
    body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array
  )
}

export interface TokenRefreshOptions {
  credential: TokenCredential & { refresh?(): void }
  /** The token scope of the clients it is added to (cloud.armScope). */
  scopes: string | string[]
  log: Logger
  /** Clock, for tests. */
  now?: () => number
}

export const tokenRefreshPolicyName = 'azureVmImageTokenRefresh'

/**
 * On a 401 that says the token expired or is invalid: drop the credential's caches, get a new
 * token, put it on the request and send it once more. The SDK's bearer-token policy keeps its own
 * cached token until its refresh window, so the rejected token would come back on the next request:
 * the policy remembers which tokens Azure rejected and swaps in the fresh one while it is valid.
 * One refresh at a time is shared by all requests that hit the 401 together.
 */
export function tokenRefreshPolicy(options: TokenRefreshOptions): PipelinePolicy {
  const { credential, log } = options
  const scopes = Array.isArray(options.scopes) ? options.scopes : [options.scopes]
  const now = options.now ?? Date.now
  const rejected = new Set<string>()
  let fresh: AccessToken | undefined
  let refreshing: Promise<AccessToken> | undefined

  const usable = (token: AccessToken | undefined): token is AccessToken =>
    token !== undefined && token.expiresOnTimestamp > now() + 30_000

  async function newToken(abortSignal: PipelineRequest['abortSignal']): Promise<AccessToken> {
    if (!refreshing) {
      refreshing = (async () => {
        credential.refresh?.()
        // CAE as the SDK's own bearer policy asks for ARM, so the refreshed token is of the same kind.
        const token = await credential.getToken(scopes, { abortSignal, enableCae: true })
        if (!token) throw new Error('The credential returned no access token.')
        return token
      })().finally(() => {
        refreshing = undefined
      })
    }
    return refreshing
  }

  return {
    name: tokenRefreshPolicyName,
    async sendRequest(request, next) {
      const sent = bearerOf(request)
      if (sent !== undefined && rejected.has(sent) && usable(fresh) && fresh.token !== sent) {
        request.headers.set('Authorization', `Bearer ${fresh.token}`)
      }
      const response = await next(request)
      if (!isRejectedTokenResponse(response) || !isReplayable(request)) return response
      const used = bearerOf(request)
      if (used === undefined) return response
      const code = responseErrorCode(response) ?? 'invalid_token'
      rejected.add(used)
      let token: AccessToken
      try {
        token =
          usable(fresh) && !rejected.has(fresh.token) ? fresh : await newToken(request.abortSignal)
      } catch (error) {
        log.warning(
          oneLine(
            `Azure rejected the access token (${code}) and a new one could not be obtained: ${errorMessage(
              error
            )}`
          )
        )
        return response
      }
      if (rejected.has(token.token)) return response
      fresh = token
      log.info(
        oneLine(
          `Azure rejected the access token (${code}); sending the request again with a new token.`
        )
      )
      request.headers.set('Authorization', `Bearer ${token.token}`)
      return next(request)
    }
  }
}

// ---------------------------------------------------------------------------------------------
// (b) One debug line per request on the wire

export const requestLogPolicyName = 'azureVmImageRequestLog'

/**
 * The x-ms-request-id of the latest response per `METHOD path`, so an error raised without a
 * response (a long-running operation that ends Failed: core-lro throws a plain Error) can still
 * quote the request id of the request that started the operation. Bounded; oldest entries go first.
 */
const recentRequestIds = new Map<string, string>()
const RECENT_REQUEST_IDS = 500

const requestKey = (method: string, url: string): string =>
  `${method.toUpperCase()} ${pathOf(url).toLowerCase()}`

function rememberRequestId(method: string, url: string, id: string): void {
  const key = requestKey(method, url)
  recentRequestIds.delete(key)
  recentRequestIds.set(key, id)
  if (recentRequestIds.size > RECENT_REQUEST_IDS) {
    recentRequestIds.delete(recentRequestIds.keys().next().value as string)
  }
}

/** The request id of the latest response to `method url` seen by requestLogPolicy, if any. */
export function recentRequestId(method: string, url: string): string | undefined {
  return recentRequestIds.get(requestKey(method, url))
}

/** The path of a URL without its query (which may hold a SAS signature) or fragment. */
export function pathOf(url: string): string {
  try {
    return new URL(url).pathname
  } catch {
    return url.replace(/[?#].*$/, '')
  }
}

/**
 * Logs `METHOD path status (x-ms-request-id)` at debug level for every attempt, failed or not, so a
 * support case can quote the request id. Never the query string, headers or bodies.
 */
export function requestLogPolicy(log: Logger): PipelinePolicy {
  return {
    name: requestLogPolicyName,
    async sendRequest(request, next) {
      const what = `${request.method} ${pathOf(request.url)}`
      try {
        const response = await next(request)
        const id = response.headers.get('x-ms-request-id')
        if (id) rememberRequestId(request.method, request.url, id)
        log.debug(oneLine(`${what} ${response.status}${id ? ` (${id})` : ''}`))
        return response
      } catch (error) {
        const e = error as { code?: string; name?: string; message?: string }
        log.debug(oneLine(`${what} failed: ${e.code ?? e.name ?? 'error'}`))
        throw error
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// (c) The transient faults the SDK's retry leaves out, and a per-attempt timeout

/** Transport errors raised before the request reached the server: safe to retry for any method. */
export const NOT_SENT_CODES = new Set([
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'EHOSTDOWN'
])
/** Transport errors after which the server may have acted: retried for idempotent methods only. */
export const MAYBE_SENT_CODES = new Set([
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'ERR_STREAM_PREMATURE_CLOSE',
  RestError.REQUEST_SEND_ERROR
])
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'])

export interface TransientRetryOptions {
  maxRetries?: number
  retryDelayInMs?: number
  maxRetryDelayInMs?: number
}

function isTruncatedBody(error: RestError): boolean {
  return (
    error.code === RestError.PARSE_ERROR && /Error reading response as text/i.test(error.message)
  )
}

/** Whether the extra strategy retries this error (exported for tests and for documentation). */
export function isExtraTransientError(error: unknown, method: string): boolean {
  if (!isRestError(error) || error.response) return false
  const code = error.code ?? ''
  if (NOT_SENT_CODES.has(code)) return true
  if (!IDEMPOTENT_METHODS.has(method.toUpperCase())) return false
  return MAYBE_SENT_CODES.has(code) || isTruncatedBody(error)
}

export const transientRetryPolicyName = 'azureVmImageTransientRetry'

/**
 * Retries only what isExtraTransientError names, with exponential backoff and jitter, using the
 * SDK's own retry loop (core-rest-pipeline retryPolicy) so aborts and logging behave the same.
 * Every other outcome passes through untouched to the SDK's default retry policy outside.
 */
export function transientRetryPolicy(options: TransientRetryOptions = {}): PipelinePolicy {
  const base = options.retryDelayInMs ?? 1000
  const cap = options.maxRetryDelayInMs ?? 30_000
  const maxRetries = options.maxRetries ?? 4
  return {
    name: transientRetryPolicyName,
    sendRequest(request, next) {
      // Strategies are not shown the request, so each call gets its own, knowing the method.
      const strategy: RetryStrategy = {
        name: 'extraTransientErrors',
        retry({ retryCount, responseError }) {
          if (!isExtraTransientError(responseError, request.method)) return { skipStrategy: true }
          const exponential = Math.min(cap, base * 2 ** retryCount)
          return { retryAfterInMs: Math.round(exponential * (0.5 + Math.random() / 2)) }
        }
      }
      return retryPolicy([strategy], { maxRetries }).sendRequest(request, next)
    }
  }
}

export const requestTimeoutPolicyName = 'azureVmImageRequestTimeout'

/**
 * Gives each attempt a deadline (unless the caller set one) and reports its expiry as a RestError
 * with code ETIMEDOUT, which the SDK's default retry policy retries. An abort from the caller's own
 * signal (cancellation, timeout-minutes) is passed through unchanged.
 */
export function requestTimeoutPolicy(timeoutMs: number): PipelinePolicy {
  return {
    name: requestTimeoutPolicyName,
    async sendRequest(request, next) {
      const ours = !(request.timeout > 0)
      if (ours) request.timeout = timeoutMs
      try {
        return await next(request)
      } catch (error) {
        const e = error as { name?: string }
        if (ours && e?.name === 'AbortError' && !request.abortSignal?.aborted) {
          throw new RestError(
            `No response from ${pathOf(request.url)} within ${Math.round(timeoutMs / 1000)}s`,
            {
              code: 'ETIMEDOUT',
              request
            }
          )
        }
        throw error
      } finally {
        if (ours) request.timeout = 0
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------

export interface AzurePoliciesOptions {
  credential: TokenCredential & { refresh?(): void }
  scopes: string | string[]
  log: Logger
  /** Per-attempt deadline; ARM answers in seconds, even for operations that run for hours. */
  requestTimeoutMs?: number
  transientRetry?: TransientRetryOptions
}

/** Every policy above, in the order they must run, for ClientSettings.policies. */
export function azurePolicies(options: AzurePoliciesOptions): PolicyEntry[] {
  return [
    { policy: tokenRefreshPolicy(options), position: 'perRetry' },
    { policy: transientRetryPolicy(options.transientRetry), position: 'perRetry' },
    { policy: requestTimeoutPolicy(options.requestTimeoutMs ?? 5 * 60_000), position: 'perRetry' },
    { policy: requestLogPolicy(options.log), position: 'perRetry' }
  ]
}
