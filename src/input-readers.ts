/**
 * Typed readers over the raw inputs (as bicep-deploy's input.ts): each reads one input as the runner
 * gives it and either returns a typed value or throws an InputError that names the input and says
 * what is expected. No Azure and no cross-input rules here.
 */
import { Inputs } from './constants.js'
import { InputError } from './input-error.js'
import { isGuid, RESOURCE_GROUP_NAME, type NameRule } from './azure/names.js'
import { tryParseResourceId, type ResourceRef } from './azure/resource-id.js'
import { errorMessage } from './error-message.js'

export { InputError }

/** Reads one input as the runner gives it (trimmed, '' when unset). */
export type InputReader = (name: string) => string

/** The input's value, or undefined when it is unset or blank. */
export function text(read: InputReader, name: string): string | undefined {
  const value = read(name).trim()
  return value === '' ? undefined : value
}

export function bool(read: InputReader, name: string, fallback: boolean): boolean {
  const value = text(read, name)
  if (value === undefined) return fallback
  const lower = value.toLowerCase()
  if (lower === 'true') return true
  if (lower === 'false') return false
  throw new InputError(name, `expected 'true' or 'false', got '${value}'.`)
}

/** One of `allowed` (declared `as const` in plan.ts), matched ignoring case, spelled as declared. */
export function oneOf<T extends string>(
  read: InputReader,
  name: string,
  allowed: readonly T[],
  fallback: T
): T {
  const value = text(read, name)
  if (value === undefined) return fallback
  const match = allowed.find(a => a.toLowerCase() === value.toLowerCase())
  if (match === undefined) {
    throw new InputError(name, `expected one of ${allowed.join(' | ')}, got '${value}'.`)
  }
  return match
}

export function integer(
  read: InputReader,
  name: string,
  fallback: number,
  min: number,
  max: number
): number {
  const value = text(read, name)
  if (value === undefined) return fallback
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new InputError(name, `expected a whole number from ${min} to ${max}, got '${value}'.`)
  }
  return Number(value)
}

/** `value` (of input `name`) when it follows Azure's naming `rule`. */
export function named(name: string, value: string, rule: NameRule): string {
  if (!rule.test(value)) {
    throw new InputError(name, `'${value}' is not ${rule.kind} (${rule.rule}).`)
  }
  return value
}

/** A GUID-valued input (subscription, client), or undefined when unset. */
export function guid(read: InputReader, name: string): string | undefined {
  const value = text(read, name)
  if (value !== undefined && !isGuid(value)) {
    throw new InputError(name, `expected a GUID, got '${value}'.`)
  }
  return value
}

/** The subscription of a full resource ID of one level (`/subscriptions/<guid>/…/<type>/<name>`). */
export function subscriptionOf(value: string | undefined): string | undefined {
  const id = tryParseResourceId(value ?? '')
  return id !== undefined && id.names.length === 1 && isGuid(id.subscriptionId)
    ? id.subscriptionId
    : undefined
}

/**
 * A resource named in an input: either a full resource ID of the expected type, or a name in the
 * default resource group.
 */
export function resourceRef(
  name: string,
  value: string,
  expectedType: string,
  subscriptionId: string | undefined,
  resourceGroup: string | undefined
): ResourceRef {
  if (value.startsWith('/')) {
    const id = tryParseResourceId(value)
    if (
      id === undefined ||
      id.names.length !== 1 ||
      `${id.provider}/${id.types[0]}`.toLowerCase() !== expectedType.toLowerCase()
    ) {
      throw new InputError(
        name,
        `'${value}' is not a ${expectedType} resource ID (/subscriptions/<id>/resourceGroups/<group>/providers/${expectedType}/<name>).`
      )
    }
    if (!isGuid(id.subscriptionId)) {
      throw new InputError(name, `the subscription in '${value}' is not a GUID.`)
    }
    return {
      subscriptionId: id.subscriptionId,
      resourceGroup: named(name, id.resourceGroup, RESOURCE_GROUP_NAME),
      name: id.name
    }
  }
  if (value.includes('/')) {
    throw new InputError(name, `expected a name or a full resource ID, got '${value}'.`)
  }
  if (resourceGroup === undefined) {
    throw new InputError(
      Inputs.ResourceGroup,
      `is required when '${name}' is a name rather than a full resource ID.`
    )
  }
  if (subscriptionId === undefined) {
    throw new InputError(
      Inputs.SubscriptionId,
      `is required when '${name}' is a name rather than a full resource ID.`
    )
  }
  return { subscriptionId, resourceGroup, name: value }
}

/** Runs a parser of one input's text, turning its error into an InputError naming the input. */
export function parsed<T>(name: string, parse: () => T): T {
  try {
    return parse()
  } catch (e) {
    throw new InputError(name, errorMessage(e))
  }
}
