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
import { roleForAction } from './permissions.js'

export { redactUrl }

export interface AzureErrorDescription {
  /** One line for `::error::`: "<operation> failed: <code>: <message> (request id <id>)". */
  summary: string
  /** Further log lines: status, target, inner errors, ids, hints. */
  details: string[]
  code?: string
  requestId?: string
  statusCode?: number
}

/** What the run knows that makes hints concrete (all optional). */
export interface ErrorContext {
  /** GITHUB_REPOSITORY, GITHUB_REF, the job's environment and GITHUB_EVENT_NAME, for OIDC hints. */
  github?: { repository: string; ref?: string; environment?: string; eventName?: string }
  /** The `environment` in use (AzureCloud, …), named in the wrong-cloud hint. */
  cloudName?: string
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

/** A response body as JSON, or undefined when it is empty or not JSON. */
export function parseJson(text: string | undefined): unknown {
  if (!text) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
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

  // A failed long-running operation: code and message live only in the text.
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

interface HintInput {
  code?: string
  message: string
  statusCode?: number
  operation: string
  context: ErrorContext
}

const FEDERATION_SUBJECTS = [
  'repo:<owner>/<repo>:ref:refs/heads/<branch>',
  'repo:<owner>/<repo>:ref:refs/tags/<tag>',
  'repo:<owner>/<repo>:environment:<environment>',
  'repo:<owner>/<repo>:pull_request'
]

/**
 * The subject GitHub puts in this job's OIDC token (default claims; an organisation or repository
 * may customise them), to compare with the federated credential in Entra ID.
 */
export function expectedOidcSubject(github: NonNullable<ErrorContext['github']>): string {
  const repo = `repo:${github.repository}`
  if (github.environment) return `${repo}:environment:${github.environment}`
  if (github.eventName === 'pull_request' || github.eventName === 'pull_request_target')
    return `${repo}:pull_request`
  return `${repo}:ref:${github.ref ?? 'refs/heads/<branch>'}`
}

function federationHints(context: ErrorContext): string[] {
  const lines = [
    "The federated credential on the app registration (Certificates & secrets → Federated credentials) must have issuer 'https://token.actions.githubusercontent.com', audience 'api://AzureADTokenExchange' (or the 'audience' input) and a subject that matches this job exactly."
  ]
  if (context.github)
    lines.push(`This job presents the subject '${expectedOidcSubject(context.github)}'.`)
  lines.push(`Subject formats: ${FEDERATION_SUBJECTS.join(' | ')}.`)
  return lines
}

function hintsFor({ code, message, statusCode, operation, context }: HintInput): string[] {
  const c = (code ?? '').toLowerCase()
  const m = message
  const has = (re: RegExp): boolean => re.test(m)

  switch (c) {
    case 'authorizationfailed': {
      const parsed = /perform action '([^']+)' over scope '([^']+)'/i.exec(m)
      if (parsed) {
        const [, action, scope] = parsed
        return [
          `The identity lacks '${action}' on '${scope}'. Assign '${roleForAction(action)}' (or Contributor) on that scope or its resource group, e.g.: az role assignment create --assignee <client-id> --role "${roleForAction(action)}" --scope ${scope}`,
          'New role assignments can take a few minutes to take effect; re-run the job afterwards.'
        ]
      }
      return [
        'The identity lacks a permission for this operation: assign Contributor on the resource group, or the custom role printed by the permissions preflight.'
      ]
    }
    case 'linkedauthorizationfailed': {
      const linked = /perform action '([^']+)' on the linked scope\(s\) '([^']+)'/i.exec(m)
      return [
        linked
          ? `Azure also checks the linked resource: grant '${linked[1]}' on '${linked[2]}' (e.g. '${roleForAction(linked[1])}' there).`
          : 'Azure also checks the resources this one refers to (source VM, disk, image, storage account or gallery in another resource group or subscription): grant the identity a role there too.'
      ]
    }
    case 'quotaexceeded':
    case 'resourcequotaexceeded':
      return [
        'A subscription or regional quota is exhausted (the message names it): request an increase under Subscriptions → Usage + quotas, free capacity, or use another region.'
      ]
    case 'skunotavailable':
      return [
        'The size or SKU is not offered in this region for this subscription (capacity restrictions). Choose another region or SKU; list them with: az vm list-skus --location <region> --output table'
      ]
    case 'locationnotavailableforresourcetype':
    case 'invalidlocation':
    case 'nolocationfound':
    case 'locationrequired':
      return [
        "Check 'location' and 'target-regions': Azure region names without spaces, e.g. eastus, westeurope (az account list-locations --output table). Gallery and image resources exist in most but not all regions."
      ]
    case 'resourcegroupnotfound':
      return [
        "Check 'resource-group' / 'gallery-resource-group' and 'subscription-id': the group must exist in that subscription."
      ]
    case 'resourcenotfound':
    case 'notfound':
    case 'parentresourcenotfound':
      return [
        'Check the name, resource group and subscription of the resource named in the message.'
      ]
    case 'expiredauthenticationtoken':
      return [
        'The access token expired. The action fetches new tokens by itself; if this persists, check the runner clock (tokens are validated against UTC).'
      ]
    case 'invalidauthenticationtokenaudience':
      return [
        `The token was issued for another cloud. Check 'environment' (AzureCloud, AzureUSGovernment, AzureChinaCloud, AzureStack)${
          context.cloudName ? ` (now ${context.cloudName})` : ''
        } against the cloud of the subscription.`
      ]
    case 'invalidauthenticationtokentenant':
      return [
        "The subscription belongs to a different tenant than 'tenant-id': use the tenant of the subscription."
      ]
    case 'requestdisallowedbypolicy':
      return [
        "An Azure Policy assignment denied the request (see the additional info for the policy). Comply with it, e.g. add required tags with the 'tags' input, or ask for an exemption."
      ]
    case 'authorizationpermissionmismatch':
      return [
        'The identity may use the storage account but not its blobs: assign "Storage Blob Data Contributor" on the storage account or container.'
      ]
    case 'keybasedauthenticationnotpermitted':
      return [
        'The storage account does not allow shared keys: assign "Storage Blob Data Contributor" on it so the upload uses Entra ID.'
      ]
    case 'authorizationfailure':
      return [
        "The storage account's firewall or network rules reject the runner: allow its address, or use 'upload-via: managed-disk'."
      ]
    case 'aadsts700024':
      return [
        'The GitHub OIDC token (the client assertion) was outside its validity window when Entra ID received it. The action asks GitHub for a new one for each Azure token; check the runner clock, and avoid handing it a pre-minted assertion.'
      ]
    case 'aadsts70021':
    case 'aadsts700213':
    case 'aadsts700212':
      return ['No federated credential matches the GitHub OIDC token.', ...federationHints(context)]
    case 'aadsts700016':
      return [
        "The application 'client-id' was not found in tenant 'tenant-id': check both values (the app registration's Application (client) ID and Directory (tenant) ID).",
        ...federationHints(context)
      ]
    case 'aadsts7000215':
      return [
        "Invalid client secret: check 'client-secret' (use the secret's value, not its ID) and whether it expired."
      ]
    case 'aadsts90002':
      return ["Tenant not found: check 'tenant-id' and 'environment'."]
    case 'canceled':
      return [
        'The run was cancelled or reached timeout-minutes; the post step removes what this run created.'
      ]
  }

  if (
    c.startsWith('e') &&
    /^(econnreset|etimedout|esockettimedout|econnrefused|enotfound|eai_again|epipe|enetunreach|ehostunreach)$/.test(
      c
    )
  ) {
    return [
      "A network error between the runner and Azure persisted through the retries. Check the runner's connectivity, proxy settings (HTTPS_PROXY) and Azure status."
    ]
  }

  if (
    c === 'operationnotallowed' ||
    c === 'conflict' ||
    c === 'badrequest' ||
    c === 'invalidparameter' ||
    statusCode === 409
  ) {
    // A '…Supported' gallery definition takes only VHD blob, managed image and gallery version
    // sources (hashicorp/packer-plugin-azure#304); from gallery API 2025-03-03 Azure gives every
    // definition created without a SecurityType feature TrustedLaunchSupported.
    if (has(/security type '[^']*supported' is not supported for the source/i)) {
      return [
        "The gallery image definition is TrustedLaunchSupported (Azure's default since gallery API 2025-03-03 for a definition created without a SecurityType feature); such a definition takes only VHD blob, managed image and gallery image version sources, not a VM or a managed disk. Publish into a definition created with the feature SecurityType=Standard (or TrustedLaunch for a Trusted Launch VM), or also set 'image-name' so the version is made from that managed image."
      ]
    }
    if (has(/trusted ?launch|securitytype|security type|confidential ?vm/i)) {
      return [
        "Managed images do not support Trusted Launch or Confidential VMs. Capture into an Azure Compute Gallery instead: set 'gallery' and 'gallery-image' and drop 'image-name'; the image definition's SecurityType feature must be TrustedLaunch (a TrustedLaunchSupported definition takes no VM as source)."
      ]
    }
    if (has(/quota|limit.*exceed|exceed.*limit/i)) {
      return [
        'A quota is exhausted (the message names it): request an increase under Subscriptions → Usage + quotas, or use another region.'
      ]
    }
    if (has(/run ?command/i) && has(/in progress|already|conflict/i)) {
      return [
        'Another Run Command is still running on the VM: wait for it to finish (or cancel it in the portal) and re-run.'
      ]
    }
    if (has(/not generalized|must be generalized|generalized vm|osstate/i)) {
      return [
        "An image of this kind needs a generalized VM: keep 'generalize: true' (and 'deprovision: true' unless the OS was generalized inside the VM), or capture a specialized image into a gallery with 'generalize: false'."
      ]
    }
    if (
      (/generaliz/i.test(operation) || has(/generaliz/i)) &&
      has(/running|deallocat|stopped|power ?state/i)
    ) {
      return [
        'The VM must be stopped (deallocated) before it is generalized. The action deallocates it first; if something started it again in between, re-run.'
      ]
    }
    if (has(/already exists/i)) {
      return [
        "The target already exists: choose another name or version, or set 'overwrite: true' to replace it."
      ]
    }
    if (c === 'propertychangenotallowed' || has(/property change not allowed|cannot be changed/i)) {
      return [
        "Azure cannot change this property of an existing resource: set 'overwrite: true' to delete and re-create it, or use a new name."
      ]
    }
  }
  if (c === 'propertychangenotallowed') {
    return [
      "Azure cannot change this property of an existing resource: set 'overwrite: true' to delete and re-create it, or use a new name."
    ]
  }
  return []
}
