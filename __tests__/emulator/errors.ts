/** ARM error replies: `{ error: { code, message, target?, details? } }` (ARM RPC "Error Response Content"). */
import type { Reply } from './types.js'

export function armError(
  status: number,
  code: string,
  message: string,
  extra: { target?: string; details?: unknown[]; headers?: Record<string, string> } = {}
): Reply {
  const error: Record<string, unknown> = { code, message }
  if (extra.target) error.target = extra.target
  if (extra.details) error.details = extra.details
  return { status, body: { error }, headers: extra.headers }
}

/** Thrown inside handlers to short-circuit with an ARM error reply. */
export class ArmFailure extends Error {
  constructor(public reply: Reply) {
    super(JSON.stringify(reply.body))
  }
}

export function fail(status: number, code: string, message: string, target?: string): never {
  throw new ArmFailure(armError(status, code, message, { target }))
}

/** ARM's message for a missing top-level or nested resource. */
export function resourceNotFound(type: string, name: string, rg: string): never {
  fail(
    404,
    'ResourceNotFound',
    `The Resource '${type}/${name}' under resource group '${rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`
  )
}

export function resourceGroupNotFound(rg: string): never {
  fail(404, 'ResourceGroupNotFound', `Resource group '${rg}' could not be found.`)
}
