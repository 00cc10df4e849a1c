/**
 * Injected failures, applied in the order added and counted down (`times`, default 1); a fault with
 * `after: n` lets the first n matching requests through (placement by request count). The default
 * bodies are Azure's own (sources below and in README "Test faults").
 */
import type { Fault, Reply, State } from './types.js'
import { armError } from './errors.js'
import { newGuid } from './ids.js'
import { expiredTokenReply } from './identity.js'

const defaultCodes: Record<number, string> = {
  408: 'RequestTimeout',
  409: 'Conflict',
  429: 'TooManyRequests',
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServerTimeout',
  504: 'GatewayTimeout'
}

/** ARM's "Diagnostic information" tail, as in its 500 and 503 bodies. */
function diagnostics(state: State): string {
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')
  return `Diagnostic information: timestamp '${stamp}', subscription id '${state.config.subscriptionId}', tracking id '${newGuid()}', request correlation id '${newGuid()}'.`
}

/**
 * ARM's default messages: 429 throttling (the text ARM sends with `Retry-After`); 500
 * `InternalServerError` "Encountered internal server error. …" (openshift/openshift-azure#1506);
 * 503 `ServerTimeout` "The request timed out. …" (microsoft/MLOS#950).
 */
function defaultMessage(state: State, status: number): string {
  if (status === 429)
    return 'The request is being throttled as the limit has been reached for operation type - Read_30Min. For more information, see - https://aka.ms/throttling'
  if (status === 500) return `Encountered internal server error. ${diagnostics(state)}`
  if (status === 503) return `The request timed out. ${diagnostics(state)}`
  return `Injected fault ${status}.`
}

/**
 * A Compute long-running operation that ends Failed, as Microsoft Learn lists it
 * (virtual-machines/restore-point-troubleshooting.md: "InternalError / InternalExecutionError /
 * InternalOperationError - An internal execution error occurred. Please retry later.").
 */
export const INTERNAL_EXECUTION_ERROR = {
  code: 'InternalExecutionError',
  message: 'An internal execution error occurred. Please retry later.'
}

const matches = (f: Fault, method: string, pathAndQuery: string): boolean =>
  (!f.method || f.method.toUpperCase() === method) && (!f.path || f.path.test(pathAndQuery))

/** The observers (`observe: true`) that match a request: each sees it, none is a fault. */
export function observersOf(state: State, method: string, pathAndQuery: string): Fault[] {
  return state.faults.filter(f => f.observe && matches(f, method, pathAndQuery))
}

export function takeFault(state: State, method: string, pathAndQuery: string): Fault | undefined {
  const i = state.faults.findIndex(f => !f.observe && matches(f, method, pathAndQuery))
  if (i < 0) return undefined
  const f = state.faults[i]
  if (f.after && f.after > 0) {
    f.after--
    // Not yet this one; a later fault in the list may still match it.
    const rest = state.faults.splice(i, 1)
    try {
      return takeFault(state, method, pathAndQuery)
    } finally {
      state.faults.splice(i, 0, ...rest)
    }
  }
  const left = (f.times ?? 1) - 1
  if (left <= 0) state.faults.splice(i, 1)
  else f.times = left
  return f
}

/** The reply a status fault produces: ARM's error shape, plus Retry-After as ARM throttling sends it. */
export function faultReply(state: State, f: Fault): Reply | undefined {
  if (f.reply) return f.reply
  if (!f.status) return undefined
  // ARM's own 401 for a token it judges expired (as if the clocks disagreed by a minute).
  if (f.status === 401 && f.code === 'ExpiredAuthenticationToken' && !f.message)
    return expiredTokenReply(state, Date.now() - 60_000)
  const code = f.code ?? defaultCodes[f.status] ?? 'InjectedFault'
  const message = f.message ?? defaultMessage(state, f.status)
  const headers: Record<string, string> = {}
  if (f.retryAfter !== undefined) headers['Retry-After'] = String(f.retryAfter)
  return armError(f.status, code, message, { headers, target: f.target, details: f.details })
}
