/** Injected failures, applied in the order added and counted down (`times`, default 1). */
import type { Fault, Reply, State } from './types.js'
import { armError } from './errors.js'

const defaultCodes: Record<number, string> = {
  408: 'RequestTimeout',
  409: 'Conflict',
  429: 'TooManyRequests',
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout'
}

export function takeFault(state: State, method: string, pathAndQuery: string): Fault | undefined {
  const i = state.faults.findIndex(
    f => (!f.method || f.method.toUpperCase() === method) && (!f.path || f.path.test(pathAndQuery))
  )
  if (i < 0) return undefined
  const f = state.faults[i]
  const left = (f.times ?? 1) - 1
  if (left <= 0) state.faults.splice(i, 1)
  else f.times = left
  return f
}

/** The reply a status fault produces: ARM's error shape, plus Retry-After as ARM throttling sends it. */
export function faultReply(f: Fault): Reply | undefined {
  if (!f.status) return undefined
  const code = f.code ?? defaultCodes[f.status] ?? 'InjectedFault'
  const message =
    f.message ??
    (f.status === 429
      ? 'The request is being throttled as the limit has been reached for operation type - Read_30Min. For more information, see - https://aka.ms/throttling'
      : `Injected fault ${f.status}.`)
  const headers: Record<string, string> = {}
  if (f.retryAfter !== undefined) headers['Retry-After'] = String(f.retryAfter)
  return armError(f.status, code, message, { headers, target: f.target, details: f.details })
}
