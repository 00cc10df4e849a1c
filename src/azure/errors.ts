/**
 * Turns whatever an Azure call threw into one `::error::` line with the essence and a few detail
 * lines with the rest, plus a hint for the failures users actually hit (wrong role, Trusted Launch
 * with a managed image, quota, region, OIDC setup). The shapes handled:
 *  - RestError from the modular SDK (arm-compute 25, @azure-rest/core-client createRestError):
 *    `code`/`message` from the body's `error`, `details` = the deserialized `{ error: {…} }`
 *    (target, details[], additionalInfo), `response.headers` with x-ms-request-id;
 *  - RestError from the classic SDK (core-client deserializationPolicy, arm-authorization): the
 *    same `code`/`message`, the body in `response.bodyAsText` / `response.parsedBody`;
 *  - RestError from @azure/storage-blob: `code` = the storage error code (also the
 *    `x-ms-error-code` header), a message followed by "\nRequestId:…\nTime:…";
 *  - transport errors: RestError whose `code` is ECONNRESET, ETIMEDOUT, … and no response;
 *  - @azure/core-lro 3 when an operation ends Failed: a plain Error whose message is
 *    "The long-running operation has failed. <code>. <message>" (poller/operation.js
 *    processOperationStatus; nested innererror messages appended, the innermost code kept), with
 *    no request id: the code and message are recovered from that text;
 *  - @azure/identity errors (AuthenticationError, CredentialUnavailableError, aggregate): the
 *    Entra ID error code `AADSTSnnnnn` is taken from the message;
 *  - anything else: its message.
 * Request headers and bodies are never printed; URLs lose their SAS signature (redactUrl).
 */
import { redactUrl } from '../secrets.js'
import { oneLine as untrustedLine } from '../untrusted.js'
import { expectedOidcSubject, hintsFor, type ErrorContext } from './error-hints.js'
import { parseJson } from './json.js'

export { expectedOidcSubject, redactUrl, type ErrorContext }

export interface AzureErrorDescription {
  /** One line for `::error::`: "<operation> failed: <code>: <message> (request id <id>)". */
  summary: string
  /** Further log lines: status, target, inner errors, ids, hints. */
  details: string[]
  code?: string
  requestId?: string
  statusCode?: number
}

interface ErrorBody {
  code?: string
  message?: string
  target?: string
  details?: ErrorBody[]
  additionalInfo?: Array<{ type?: string; info?: unknown }>
  innererror?: unknown
}

interface HeaderBag {
  get?(name: string): string | undefined
  [name: string]: unknown
}

interface ErrorLike {
  name?: string
  message?: string
  code?: unknown
  statusCode?: unknown
  details?: unknown
  errors?: unknown
  request?: { method?: string; url?: string }
  /** Set by waitFor on a failed long-running operation: the request id of its initial request. */
  requestId?: unknown
  cause?: unknown
  response?: {
    status?: number
    headers?: HeaderBag
    bodyAsText?: string
    parsedBody?: unknown
    parsedHeaders?: unknown
  }
  errorResponse?: {
    error?: string
    errorDescription?: string
    correlationId?: string
    traceId?: string
  }
}

const LRO_FAILED = /^The long-running operation has failed(?:\.\s+([^.\s]+)\.\s+([\s\S]*))?\.?\s*$/
const LRO_FAILED_QUOTED = /The long-running operation has failed\.\s+([^.\s]+)\.\s+/

function header(headers: HeaderBag | undefined, name: string): string | undefined {
  if (!headers) return undefined
  if (typeof headers.get === 'function') return headers.get(name) ?? undefined
  const key = Object.keys(headers).find(k => k.toLowerCase() === name.toLowerCase())
  const value = key === undefined ? undefined : headers[key]
  return typeof value === 'string' ? value : undefined
}

function asBody(value: unknown): ErrorBody | undefined {
  if (!value || typeof value !== 'object') return undefined
  const v = value as { error?: unknown; code?: unknown; message?: unknown }
  if (v.error && typeof v.error === 'object') return asBody(v.error)
  if (typeof v.code === 'string' || typeof v.message === 'string') return value as ErrorBody
  return undefined
}

/**
 * Azure's messages on one line, secrets out, storage's "RequestId:/Time:" trailer dropped, and
 * nothing in them a runner could read as a workflow command (src/untrusted.ts).
 */
function oneLine(text: string): string {
  return untrustedLine(
    redactUrl(text.replace(/\n\s*RequestId:[\s\S]*$/, ''))
      .replace(/\s+/g, ' ')
      .trim()
  )
}

function errorMessage(e: ErrorLike | undefined, fallback: unknown): string {
  if (e && typeof e.message === 'string' && e.message) return e.message
  if (typeof fallback === 'string') return fallback
  try {
    return JSON.stringify(fallback) ?? String(fallback)
  } catch {
    return String(fallback)
  }
}

/** A failed long-running operation: its code and message live only in the text; recover them. */
function recoverLroFailure(
  text: string,
  knownCode: string | undefined
): { message: string; code: string | undefined } {
  let message = text
  let code = knownCode
  const lro = LRO_FAILED.exec(message)
  if (lro && !code) {
    if (lro[1] && lro[1] !== 'undefined') code = lro[1]
    if (lro[2]) message = lro[2]
  } else if (!lro) {
    // The same text quoted inside a step's own message ("Creating … failed: The long-running …").
    const quoted = LRO_FAILED_QUOTED.exec(message)
    if (quoted) {
      if (!code && quoted[1] !== 'undefined') code = quoted[1]
      message = message.replace(LRO_FAILED_QUOTED, (_m, c: string) => `${c}: `)
    }
  }
  return { message, code }
}

/** The log lines under the summary, before the hints: status, request, body, credential, ids. */
function detailLines(
  e: ErrorLike | undefined,
  body: ErrorBody | undefined,
  ids: { statusCode?: number; requestId?: string; correlationId?: string }
): string[] {
  const { statusCode, requestId, correlationId } = ids
  const details: string[] = []
  if (statusCode !== undefined) details.push(`HTTP status: ${statusCode}`)
  if (e?.request?.method && e.request.url) {
    details.push(`Request: ${e.request.method} ${redactUrl(e.request.url.replace(/\?.*$/, ''))}`)
  }
  if (body?.target) details.push(`Target: ${oneLine(body.target)}`)
  for (const inner of body?.details ?? []) {
    details.push(
      `Detail: ${inner.code ?? '?'}: ${oneLine(inner.message ?? '')}${inner.target ? ` (target ${oneLine(inner.target)})` : ''}`
    )
  }
  for (const info of body?.additionalInfo ?? []) {
    details.push(
      `Additional info (${info.type ?? 'info'}): ${oneLine(JSON.stringify(info.info ?? {}))}`
    )
  }
  for (const inner of aggregateMessages(e)) details.push(`Credential: ${oneLine(inner)}`)
  if (requestId) details.push(`Request id: ${requestId}`)
  if (correlationId) details.push(`Correlation id: ${correlationId}`)
  if (e?.errorResponse?.correlationId)
    details.push(`Entra ID correlation id: ${e.errorResponse.correlationId}`)
  if (e?.errorResponse?.traceId) details.push(`Entra ID trace id: ${e.errorResponse.traceId}`)
  return details
}

/**
 * Codes with which Azure says the same request may succeed later ("An internal execution error
 * occurred. Please retry later.": virtual-machines/restore-point-troubleshooting.md lists
 * InternalError, InternalExecutionError, InternalOperationError). A long-running operation that
 * ends Failed with one is not retried by the SDK, which retries only the requests themselves.
 */
const RETRY_LATER_CODES = new Set([
  'InternalError',
  'InternalExecutionError',
  'InternalOperationError',
  'InternalServerError',
  'ServiceUnavailable',
  'TooManyRequests'
])

/**
 * Azure's refusal of a run command while another runs in the VM: 409 Conflict "Run command
 * extension execution is in progress. Please wait for completion before invoking a run command."
 * (MicrosoftDocs/azure-docs#10409, #43356; Azure/azure-cli#32305).
 */
export function isRunCommandInProgress(error: unknown): boolean {
  const { statusCode, summary } = describeAzureError(error, '')
  return statusCode === 409 && /run command extension execution is in progress/i.test(summary)
}

/** Whether sending the same request again later may succeed (throttling, 5xx, retry-later codes). */
export function isRetryLater(error: unknown): boolean {
  const { statusCode, code } = describeAzureError(error, '')
  if (statusCode !== undefined && (statusCode >= 500 || statusCode === 429 || statusCode === 408))
    return true
  return code !== undefined && RETRY_LATER_CODES.has(code)
}

export function describeAzureError(
  error: unknown,
  operation: string,
  context: ErrorContext = {}
): AzureErrorDescription {
  const e = error && typeof error === 'object' ? (error as ErrorLike) : undefined
  let message = errorMessage(e, error)
  let code = typeof e?.code === 'string' ? e.code : undefined
  const statusCode =
    typeof e?.statusCode === 'number'
      ? e.statusCode
      : typeof e?.response?.status === 'number'
        ? e.response.status
        : undefined
  const headers = e?.response?.headers

  // The ARM error body, wherever this SDK generation put it.
  const body =
    asBody(e?.details) ??
    asBody(parseJson(e?.response?.bodyAsText)) ??
    asBody(e?.response?.parsedBody)
  if (body?.code && !code) code = body.code
  if (body?.message && (message === '' || /^Unexpected status code/.test(message)))
    message = body.message

  const recovered = recoverLroFailure(message, code)
  message = recovered.message
  code = recovered.code

  // A step's wrapper error keeps Azure's facts (code, request id) in its cause.
  const inner =
    e?.cause !== undefined && e.cause !== error ? describeAzureError(e.cause, operation) : undefined
  if (!code && inner?.code) code = inner.code

  // Storage puts its code in a header as well (HEAD requests have no body).
  if (!code) code = header(headers, 'x-ms-error-code')

  // Entra ID sign-in errors: the AADSTS code is the one that explains.
  const aadsts = /AADSTS(\d+)/.exec(
    `${message} ${e?.errorResponse?.errorDescription ?? ''} ${aggregateMessages(e).join(' ')}`
  )
  if (aadsts && (!code || !/^AADSTS/.test(code))) code = `AADSTS${aadsts[1]}`
  if (!code && e?.name === 'AbortError') code = 'Canceled'

  const requestId =
    header(headers, 'x-ms-request-id') ??
    (typeof e?.requestId === 'string' ? e.requestId : undefined) ??
    inner?.requestId
  const correlationId = header(headers, 'x-ms-correlation-request-id')

  const text = oneLine(message)
  const summary = `${operation} failed: ${code && !text.startsWith(code) && !text.includes(`${code}:`) ? `${code}: ` : ''}${text}${
    requestId ? ` (request id ${requestId})` : ''
  }`

  const details = detailLines(e, body, { statusCode, requestId, correlationId })
  for (const line of hintsFor({
    code,
    message: `${message} ${(body?.details ?? []).map(d => d.message).join(' ')}`,
    statusCode,
    operation,
    context
  })) {
    details.push(`Hint: ${line}`)
  }

  return { summary, details, code, requestId, statusCode }
}

/** AggregateAuthenticationError (a chained credential) lists every credential's failure. */
function aggregateMessages(e: ErrorLike | undefined): string[] {
  if (!e || !Array.isArray(e.errors)) return []
  return e.errors.map((inner: unknown) =>
    inner && typeof inner === 'object' && 'message' in inner
      ? String((inner as { message: unknown }).message)
      : String(inner)
  )
}
