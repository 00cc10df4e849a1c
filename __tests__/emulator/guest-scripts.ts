/**
 * What a guest does with a user's customization script. The scripts are the user's own, so the
 * emulator cannot run them: a test registers behaviours matched by a marker substring of the script
 * text (README "Guest script behaviours"). The action's own scripts (deprovision, Sysprep, the
 * reboot-required check) are read from their text in `vms.ts` / here, as documented there.
 */
import type { State } from './types.js'

export interface ScriptBehaviour {
  /** substring of the script text (`source.script`) that selects this behaviour */
  marker: string
  /** exit code of the script (default 0). Windows 3010 = "restart required" is just an exit code. */
  exitCode?: number
  /** what the script prints on stdout / stderr over its whole run (default empty) */
  stdout?: string
  stderr?: string
  /**
   * how long the script runs, counted in reads of the run command or of the VM's instance view
   * (the emulator's clock, as for every other operation); default `pollsBeforeDone`.
   * `Infinity`: the script never ends by itself (only its `timeoutInSeconds` ends it).
   */
  polls?: number
  /**
   * true: the script prints its output a share per poll while it runs (a long `apt-get upgrade`);
   * false (default): everything at the end. What a caller can SEE while it runs is Azure's rule,
   * not the test's (README "Managed run commands").
   */
  progressive?: boolean
  /** Linux: the script leaves /var/run/reboot-required behind (a package wants a restart). */
  leavesRebootRequired?: boolean
}

/** The behaviour of a script with no registered marker: exit 0, no output. */
export const DEFAULT_BEHAVIOUR: Required<Omit<ScriptBehaviour, 'marker' | 'polls'>> = {
  exitCode: 0,
  stdout: '',
  stderr: '',
  progressive: false,
  leavesRebootRequired: false
}

export function addScriptBehaviour(state: State, b: ScriptBehaviour): void {
  if (!b.marker) throw new Error('addScriptBehaviour: a marker is required')
  state.scriptBehaviours.push({ ...b })
}

/**
 * The behaviour for a script: the LAST registered behaviour whose marker occurs in the text (a test
 * can override an earlier registration), else undefined (the caller then applies the default or
 * its own reading of the action's scripts).
 */
export function behaviourFor(state: State, script: string): ScriptBehaviour | undefined {
  for (let i = state.scriptBehaviours.length - 1; i >= 0; i--)
    if (script.includes(state.scriptBehaviours[i].marker)) return state.scriptBehaviours[i]
  return undefined
}
