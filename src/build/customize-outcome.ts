/**
 * What a finished managed Run Command means for the build, from its instance view. Pure.
 *
 * - `executionState` is the script's own state; `provisioningState` only says whether the
 *   extension platform could start it (windows/ and linux/run-command-managed.md; the action sends
 *   `treatFailureAsDeploymentFailure: false`, so a failing script still provisions). States:
 *   Unknown, Pending, Running, Failed, Succeeded, TimedOut, Canceled (REST `ExecutionState`;
 *   Azure/run-command-handler-linux internal/types/instanceview.go).
 * - "A nonzero ExitCode indicates an unsuccessful execution" (run-command-managed.md), except on
 *   Windows 3010, ERROR_SUCCESS_REBOOT_REQUIRED: "The requested operation is successful. Changes
 *   will not be effective until the system is rebooted." (Microsoft Learn, System Error Codes
 *   1700-3999). Windows Update and installers end that way; the build restarts the VM and goes on.
 */
import type { OsType } from '../plan.js'
import { oneLine } from '../untrusted.js'

export const REBOOT_REQUIRED_EXIT_CODE = 3010
/** How many of the last lines of each stream a failure repeats under its header. */
export const LAST_LINES = 15

/** States after which the script will not change any more. */
export const FINAL_STATES = ['Succeeded', 'Failed', 'TimedOut', 'Canceled'] as const

export interface FinishedScript {
  executionState: string
  exitCode?: number
  executionMessage?: string
  /** The run command's `timeoutInSeconds` (for the TimedOut message). */
  timeoutSeconds: number
}

export type ScriptOutcome =
  | { ok: true; restart: 'exit-3010' | undefined }
  | { ok: false; exitCode: number | undefined; message: string }

/** Whether the script succeeded, and whether its exit code asks for a restart. */
export function judgeScript(osType: OsType, name: string, run: FinishedScript): ScriptOutcome {
  const quoted = `'${oneLine(name)}'`
  const azureSays = run.executionMessage?.trim()
    ? ` Azure says: ${oneLine(run.executionMessage.trim()).slice(0, 500)}`
    : ''
  if (run.executionState === 'TimedOut') {
    return {
      ok: false,
      exitCode: run.exitCode,
      message: `Customization script ${quoted} was stopped in the VM after ${run.timeoutSeconds} s (the run's 'timeout-minutes').${azureSays}`
    }
  }
  if (run.executionState === 'Canceled') {
    return {
      ok: false,
      exitCode: run.exitCode,
      message: `Customization script ${quoted} was canceled in the VM before it finished.${azureSays}`
    }
  }
  const code = run.exitCode ?? (run.executionState === 'Succeeded' ? 0 : undefined)
  if (osType === 'Windows' && code === REBOOT_REQUIRED_EXIT_CODE) {
    return { ok: true, restart: 'exit-3010' }
  }
  if (code === 0 && run.executionState === 'Succeeded') return { ok: true, restart: undefined }
  // A script's own exit code says it all ("Execution failed: … exit status=N" repeats it); Azure's
  // message matters when there is no such code (the handler could not run the script, or killed it).
  const plainExit = code !== undefined && code !== 0 && code !== -1
  return {
    ok: false,
    exitCode: code,
    message:
      failureMessage(name, code, run.executionState, run.timeoutSeconds) +
      (plainExit ? '' : azureSays)
  }
}

/**
 * The one line of the `::error::`: the script, its exit code, and where its last lines are. The
 * lines themselves are the guest's words, so they are printed in the log inside a stop-commands
 * block under `lastLinesHeader(name)`; the annotation refers to them.
 */
export function failureMessage(
  name: string,
  exitCode: number | undefined,
  state: string,
  timeoutSeconds?: number
): string {
  // The Linux handler kills a script at `timeoutInSeconds` and reports Failed with exit code -1 (it
  // never reports TimedOut: Azure/run-command-handler-linux internal/exec/exec.go).
  const killed =
    exitCode === -1
      ? ` (the process was killed${timeoutSeconds ? `, as happens at its time limit of ${timeoutSeconds} s` : ''})`
      : ''
  const how =
    exitCode === undefined
      ? `ended '${oneLine(state)}' without an exit code`
      : exitCode === 0
        ? `ended '${oneLine(state)}' (exit code 0)`
        : `failed with exit code ${exitCode}${killed}`
  return `Customization script '${oneLine(name)}' ${how}; its last lines of output are in the log under "${lastLinesHeader(name)}".`
}

export function lastLinesHeader(name: string): string {
  return `Last output of '${oneLine(name)}'`
}
