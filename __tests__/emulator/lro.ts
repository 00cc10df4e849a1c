/**
 * Long-running operations as @azure/core-lro 3.x reads them (`inferLroMode`):
 *  - 'async':    201/202 + Azure-AsyncOperation + Location; status documents `{ status, error? }`
 *                at /subscriptions/{s}/providers/Microsoft.Compute/locations/{loc}/{kind}/{id};
 *                the Location URL answers 202 while running, then 200 with the final body.
 *  - 'location': 202 + Location only.
 *  - 'body':     PUT answers 200/201 with provisioningState Creating/Updating and the resource GET
 *                moves to Succeeded; POST/DELETE in this style complete synchronously.
 * Operations advance per poll so tests never wait for wall time; Retry-After is configurable (0 allowed).
 */
import { randomUUID } from 'node:crypto'
import type { Body, Ctx, LroStyle, Operation, Reply, State } from './types.js'
import { armError } from './errors.js'

export interface StartLro {
  /** key into config.lroStyles, e.g. 'virtualMachines/deallocate' */
  name: string
  kind: Operation['kind']
  region: string
  /** status code of the initial reply in async/body style for PUT: 201 create, 200 update */
  initialStatus?: number
  /** body of the initial reply (PUT echoes the resource) */
  initialBody?: () => Body | undefined
  complete: () => Body | undefined
  fail?: () => void
  onPoll?: (op: Operation) => void
  neverCompletes?: boolean
  resourceId?: string
}

export function styleFor(state: State, name: string): LroStyle {
  return state.config.lroStyles[name] ?? state.config.lroStyles['*'] ?? 'async'
}

function finish(op: Operation): void {
  if (op.status !== 'InProgress') return
  op.endTime = new Date().toISOString()
  if (op.error) {
    op.status = 'Failed'
    op.fail?.()
  } else {
    op.status = 'Succeeded'
    op.result = op.complete()
  }
}

/** One poll of an operation: counts down and finishes it when the count reaches zero. */
export function tick(op: Operation): void {
  if (op.status !== 'InProgress') return
  op.onPoll?.(op)
  if (op.neverCompletes) return
  op.pollsLeft--
  if (op.pollsLeft <= 0) finish(op)
}

export function startLro(ctx: Ctx, spec: StartLro): Reply {
  const { state } = ctx
  const style = styleFor(state, spec.name)
  const op: Operation = {
    id: randomUUID(),
    kind: spec.kind,
    region: spec.region.replace(/\s+/g, '').toLowerCase(),
    apiVersion: ctx.query['api-version'] ?? '',
    pollsLeft: Math.max(1, state.config.pollsBeforeDone),
    status: 'InProgress',
    error: ctx.failOperation,
    neverCompletes: spec.neverCompletes,
    startTime: new Date().toISOString(),
    complete: spec.complete,
    fail: spec.fail,
    onPoll: spec.onPoll,
    // Only body-mode operations are advanced by GETs of the resource itself.
    resourceId: style === 'body' ? spec.resourceId : undefined
  }
  state.operations.set(op.id, op)
  const retry = String(state.config.retryAfterSeconds)
  const isPut = ctx.method === 'PUT'

  if (style === 'body') {
    if (isPut) {
      // The resource GET drives the operation (see `tickResource`).
      return { status: spec.initialStatus ?? 201, body: spec.initialBody?.() }
    }
    if (op.neverCompletes) {
      // A POST that cannot finish synchronously still needs a monitor URL.
      return asyncReply(state, op, 'location', retry)
    }
    op.pollsLeft = 0
    finish(op)
    if (op.status === 'Failed')
      return armError(409, op.error!.code, op.error!.message, { details: op.error!.details })
    return op.result === undefined ? { status: 200 } : { status: 200, body: op.result }
  }
  const reply = asyncReply(state, op, style, retry)
  if (isPut) {
    reply.status = spec.initialStatus ?? 201
    reply.body = spec.initialBody?.()
  }
  return reply
}

function asyncReply(state: State, op: Operation, style: LroStyle, retry: string): Reply {
  const statusUrl = operationUrl(state, op)
  const headers: Record<string, string> = {
    'Retry-After': retry,
    Location: `${statusUrl}&monitor=true`
  }
  if (style === 'async') headers['Azure-AsyncOperation'] = statusUrl
  return { status: 202, headers }
}

export function operationUrl(state: State, op: Operation): string {
  return `${state.url}/subscriptions/${state.config.subscriptionId}/providers/Microsoft.Compute/locations/${op.region}/${op.kind}/${op.id}?p=${op.id.slice(0, 8)}&api-version=${op.apiVersion}`
}

/** GET of a status document or a Location monitor URL. */
export function pollOperation(ctx: Ctx, opId: string): Reply {
  const { state } = ctx
  const op = state.operations.get(opId)
  if (!op) return armError(404, 'NotFound', `The operation '${opId}' was not found.`)
  tick(op)
  const retry = { 'Retry-After': String(state.config.retryAfterSeconds) }
  if (ctx.query.monitor === 'true') {
    if (op.status === 'InProgress')
      return {
        status: 202,
        headers: { ...retry, Location: `${operationUrl(state, op)}&monitor=true` }
      }
    if (op.status === 'Failed')
      return armError(400, op.error!.code, op.error!.message, { details: op.error!.details })
    return op.result === undefined ? { status: 200 } : { status: 200, body: op.result }
  }
  const doc: Body = { name: op.id, status: op.status, startTime: op.startTime }
  if (op.endTime) doc.endTime = op.endTime
  if (op.status === 'Failed') doc.error = op.error
  // Packer reads properties.output.accessSAS from the status document; keep both shapes.
  if (op.status === 'Succeeded' && op.result) doc.properties = { output: op.result }
  return { status: 200, body: doc, headers: op.status === 'InProgress' ? retry : {} }
}

/** Body-mode polling: a GET of the resource counts as a poll of its pending operation. */
export function tickResource(state: State, resourceId: string): void {
  for (const op of state.operations.values()) {
    if (op.status === 'InProgress' && op.resourceId?.toLowerCase() === resourceId.toLowerCase())
      tick(op)
  }
}
