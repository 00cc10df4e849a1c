/**
 * What the user reads when a run fails: one `::error::` line (the first of `message`) and detail
 * lines. Pure, so each kind of failure can be unit-tested: a timeout or cancellation names the step,
 * a StepFailure is already worded for the user, anything else is an Azure error to describe.
 */
import { describeAzureError } from './azure/errors.js'
import type { Plan } from './plan.js'
import { StepFailure } from './run-context.js'
import type { StopReason } from './run-tracker.js'

export interface FailureFacts {
  stopReason: StopReason | undefined
  step: string
  lastLine: string
  plan: Plan
  env: NodeJS.ProcessEnv
}

export function describeFailure(
  error: unknown,
  facts: FailureFacts
): { message: string; details: string[] } {
  const { plan, step, lastLine } = facts
  if (facts.stopReason === 'timeout') {
    return {
      message: `Timed out after ${plan.timeoutMinutes} minute(s) during '${step}'${lastLine ? ` (last progress: ${lastLine})` : ''}. Raise 'timeout-minutes' if Azure needs longer.`,
      details: []
    }
  }
  if (facts.stopReason === 'cancelled')
    return { message: `Cancelled during '${step}'.`, details: [] }
  if (error instanceof StepFailure) return { message: error.message, details: [] }
  const described = describeAzureError(error, step, {
    github: {
      repository: plan.run.repository,
      ref: plan.run.ref,
      eventName: facts.env.GITHUB_EVENT_NAME
    },
    cloudName: plan.connection.environment
  })
  return { message: described.summary, details: described.details }
}
