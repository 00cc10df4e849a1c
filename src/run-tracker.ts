/**
 * The run's one AbortSignal (timeout-minutes, SIGINT/SIGTERM) and what a failure message needs to
 * say where the run was: the current step and the last progress line. Steps run through `step()`,
 * which logs them in a group and times them into the report.
 */
import type { Logger } from './log.js'
import type { Plan } from './plan.js'
import type { Report } from './report.js'
import type { RunContext } from './run-context.js'
import type { Runner } from './runner.js'
import { oneLine } from './untrusted.js'

export type StopReason = 'timeout' | 'cancelled'

export interface RunTracker {
  signal: AbortSignal
  /** Why the signal was aborted; undefined while it was not. */
  stopReason(): StopReason | undefined
  currentStep(): string
  /** The last info line of the current step (its progress), '' if none yet. */
  lastLine(): string
  /** Names a phase that is not a step of its own (for the messages above). */
  enter(name: string): void
  /** The runner's log, remembering each info line as the last progress. */
  log: Logger
  step: RunContext['step']
  /** Stops the timer and the cancel handler. */
  dispose(): void
}

export function trackRun(runner: Runner, plan: Plan, report: Report): RunTracker {
  const { log } = runner
  const controller = new AbortController()
  let currentStep = 'Connect to Azure'
  let lastLine = ''
  let why: StopReason | undefined
  const timer = setTimeout(() => {
    why = 'timeout'
    controller.abort(new Error(`timeout-minutes (${plan.timeoutMinutes}) reached`))
  }, plan.timeoutMinutes * 60_000)
  const removeCancel = runner.onCancel(() => {
    why = 'cancelled'
    log.warning(
      oneLine(
        `Cancelled during '${currentStep}': stopping what is in flight; the post step cleans up.`
      )
    )
    controller.abort(new Error('the job was cancelled'))
  })
  return {
    signal: controller.signal,
    stopReason: () => (controller.signal.aborted ? why : undefined),
    currentStep: () => currentStep,
    lastLine: () => lastLine,
    enter: name => {
      currentStep = name
    },
    log: {
      ...log,
      info: (m: string) => {
        // Lines from printUntrusted's stop-commands markers are not progress; the rest are one line.
        if (!m.startsWith('::')) lastLine = oneLine(m)
        // log-sink: callers pass lines made safe with oneLine, or printUntrusted's block.
        log.info(m)
      }
    },
    step: async (name, fn) => {
      currentStep = name
      lastLine = ''
      const t0 = Date.now()
      try {
        const result = await log.group(name, fn)
        report.steps.push({ name, ms: Date.now() - t0, outcome: 'ok' })
        return result
      } catch (e) {
        report.steps.push({ name, ms: Date.now() - t0, outcome: 'failed' })
        throw e
      }
    },
    dispose: () => {
      clearTimeout(timer)
      removeCancel()
    }
  }
}
