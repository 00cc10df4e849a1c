/**
 * Build mode's customization: each script runs in the build VM as its own managed Run Command
 * (`PUT …/virtualMachines/{vm}/runCommands/{name}`), in order, in its own log group, with its output
 * in the log as Azure makes it available; a failing script stops the run with one error; a script
 * that asks for a restart gets one before anything else runs in the VM.
 *
 * - Sent with `asyncExecution: true` (provisioning completes once the script starts; "Execute a
 *   long running Run Command" in run-command-managed.md), `treatFailureAsDeploymentFailure: false`
 *   (the script's result is read from the instance view, not from a failed deployment) and
 *   `timeoutInSeconds` = the run's `timeout-minutes` (the default would stop it after 90 minutes).
 * - Followed through `GET …/runCommands/{name}?$expand=instanceView` (customize-output.ts says what
 *   that shows while it runs), every `pollMs`, until `executionState` is final, and never past the
 *   run's signal (timeout-minutes, cancellation): then the wait stops at once and the VM's deletion
 *   takes the command with it.
 * - Deleted once finished: a VM holds at most 25 managed Run Commands ("The maximum number of
 *   managed Run commands (max=25, current=25) has been exceeded", MicrosoftDocs/azure-docs#117976;
 *   run-command-overview.md), and a long `customize-scripts` list would otherwise reach it. A
 *   failed delete only warns: the commands are nested resources of the build VM
 *   (`virtualMachines/{vm}/runCommands`), which the run deletes; that a VM's deletion takes its
 *   run commands with it is ARM's rule for nested resources, not stated for run commands anywhere
 *   found, so the action does not rely on it.
 * - Restart: on Windows when the script exits 3010 (customize-outcome.ts). On Linux when the script
 *   leaves /var/run/reboot-required (what apt's update-notifier and unattended-upgrades write): the
 *   guest's file system is not visible from Azure, so a second, one-line Run Command
 *   (`test -f /var/run/reboot-required`: exit 0 or 1) looks for the file after each script that
 *   succeeded. A check appended to the user's script would miss it
 *   whenever the script ends with `exit`, replaces itself with `exec`, or is not a shell script
 *   (the handler runs the file by its shebang line: `/bin/sh -c script.sh`,
 *   Azure/run-command-handler-linux internal/exec/exec.go). The check costs one more command per
 *   script; a check that cannot be read only warns. A restart after the last script is still done:
 *   the deprovision (waagent or Sysprep) that follows must not run with a pending reboot.
 */
import type { VirtualMachineRunCommandInstanceView } from '@azure/arm-compute'
import { waitFor, waitUntil } from '../azure/operation.js'
import { formatDuration, type Logger } from '../log.js'
import type { OsType, ResourceRef } from '../plan.js'
import { StepFailure, type RunContext } from '../run-context.js'
import { oneLine, printUntrusted } from '../untrusted.js'
import { followStream, lastLines } from './customize-output.js'
import {
  FINAL_STATES,
  LAST_LINES,
  judgeScript,
  lastLinesHeader,
  type FinishedScript
} from './customize-outcome.js'
import { restartVm } from './customize-restart.js'
import type { CustomizeScript } from './customize-scripts.js'
import { errorMessage } from '../error-message.js'

export type { CustomizeScript } from './customize-scripts.js'

/** How often the instance view is read: the Linux handler refreshes it every 15 s. */
export const POLL_MS = 5000
/** The file Ubuntu/Debian packages leave when an update needs a reboot. */
export const REBOOT_REQUIRED_FILE = '/var/run/reboot-required'
/** `test -f`: exit 0 when the file is there, 1 when it is not, anything else when it could not run. */
export const LINUX_REBOOT_CHECK = `test -f ${REBOOT_REQUIRED_FILE}`

export interface CustomizationOptions {
  /** The build VM (running, its agent ready). */
  vm: ResourceRef
  osType: OsType
  /** From readCustomizeScripts, in the order to run. */
  scripts: CustomizeScript[]
  /** Poll interval for the instance views; tests shorten it. */
  pollMs?: number
}

/**
 * Runs every script in the VM, in order, each in its own log group (do not wrap this in a
 * `ctx.step`: groups do not nest). Throws a StepFailure naming the script, its exit code and where
 * its last lines are when one fails; nothing after it runs.
 */
export async function runCustomization(
  ctx: RunContext,
  options: CustomizationOptions
): Promise<void> {
  const { vm, osType, scripts } = options
  if (scripts.length === 0) return
  const pollMs = options.pollMs ?? POLL_MS
  const { location } = await ctx.clients.compute.virtualMachines.get(vm.resourceGroup, vm.name, {
    abortSignal: ctx.signal
  })
  const timeoutSeconds = ctx.plan.timeoutMinutes * 60
  for (const [index, script] of scripts.entries()) {
    const label = `Customize ${index + 1}/${scripts.length}: ${oneLine(script.name)}`
    await ctx.step(label, async () => {
      const command = { vm, location, pollMs, timeoutSeconds }
      const run = await runCommand(ctx, {
        ...command,
        name: `azure-vm-image-customize-${index + 1}`,
        label: `'${script.name}'`,
        script: script.content,
        follow: true
      })
      const outcome = judgeScript(osType, script.name, run)
      if (!outcome.ok) {
        printLastLines(ctx, script.name, run.view)
        throw new StepFailure(outcome.message)
      }
      const why =
        outcome.restart === 'exit-3010'
          ? `'${script.name}' exited 3010 (success, restart required)`
          : osType === 'Linux' && (await rebootRequired(ctx, { ...command, index }))
            ? `'${script.name}' left ${REBOOT_REQUIRED_FILE}`
            : undefined
      if (why) await restartVm(ctx, { vm, pollMs, why })
    })
  }
}

interface CommandRun extends FinishedScript {
  view: VirtualMachineRunCommandInstanceView
}

/** Where and how long a Run Command runs, and how often it is read. */
interface CommandTarget {
  vm: ResourceRef
  location: string
  pollMs: number
  timeoutSeconds: number
}

type PrintOutput = (view: VirtualMachineRunCommandInstanceView, end: boolean) => void

/** Prints a followed command's new output (stdout, then stderr) at each read, the rest at its end. */
function outputPrinter(log: Logger, command: { label: string; follow: boolean }): PrintOutput {
  const stdout = followStream()
  const stderr = followStream()
  return (view, end) => {
    if (!command.follow) return
    const out = stdout.update(view.output ?? '').lines + (end ? stdout.end() : '')
    const err = stderr.update(view.error ?? '').lines + (end ? stderr.end() : '')
    printUntrusted(log, out)
    if (err.trim() !== '') {
      log.info(oneLine(`stderr of ${command.label}:`))
      printUntrusted(log, err)
    }
  }
}

/** One read of the command's instance view: its final view once it ended (or cannot start). */
async function readRunCommand(
  ctx: RunContext,
  command: { vm: ResourceRef; name: string },
  print: PrintOutput
): Promise<{ done: VirtualMachineRunCommandInstanceView | undefined; state: string }> {
  const { clients, signal } = ctx
  const { vm, name } = command
  const current = await clients.compute.virtualMachineRunCommands.getByVirtualMachine(
    vm.resourceGroup,
    vm.name,
    name,
    { expand: 'instanceView', abortSignal: signal }
  )
  const view = current.instanceView ?? {}
  const state = view.executionState ?? 'Unknown'
  const final = (FINAL_STATES as readonly string[]).includes(state)
  // Provisioning failed: the platform could not start the script, and it never will.
  const unstartable = !final && current.provisioningState?.toLowerCase() === 'failed'
  print(view, final || unstartable)
  if (final) return { done: view, state }
  if (unstartable) return { done: { ...view, executionState: 'Failed' }, state: 'not started' }
  return { done: undefined, state: oneLine(state) }
}

/** Sends one script as a managed Run Command, follows it to its end, deletes it. */
async function runCommand(
  ctx: RunContext,
  command: CommandTarget & {
    /** The run command resource's name. */
    name: string
    /** How the log names it. */
    label: string
    script: string
    /** Print its output as it comes (else only the caller reads it). */
    follow: boolean
  }
): Promise<CommandRun> {
  const { clients, log, signal } = ctx
  const { vm, name } = command
  const started = Date.now()
  const poller = clients.compute.virtualMachineRunCommands.createOrUpdate(
    vm.resourceGroup,
    vm.name,
    name,
    {
      location: command.location,
      source: { script: command.script },
      asyncExecution: true,
      treatFailureAsDeploymentFailure: false,
      timeoutInSeconds: command.timeoutSeconds
    },
    { abortSignal: signal }
  )
  // The PUT itself (a refusal throws here); its operation is not awaited: the instance view says more.
  await poller.submitted()
  try {
    const print = outputPrinter(log, command)
    const view = await waitUntil(
      `Script ${command.label}`,
      () => readRunCommand(ctx, command, print),
      {
        log,
        signal,
        intervalMs: command.pollMs,
        // The run's signal ends the wait first; this only bounds a run without one.
        limitMs: command.timeoutSeconds * 1000,
        onLimit: () =>
          new StepFailure(
            `Script ${command.label} did not finish within ${formatDuration(Date.now() - started)}.`
          )
      }
    )
    return {
      view,
      executionState: view.executionState ?? 'Unknown',
      exitCode: view.exitCode,
      executionMessage: view.executionMessage,
      timeoutSeconds: command.timeoutSeconds
    }
  } finally {
    // Cancelled or timed out: stop at once; the VM's deletion removes the command.
    if (!signal.aborted) await deleteRunCommand(ctx, { vm, name })
  }
}

async function deleteRunCommand(
  ctx: RunContext,
  { vm, name }: { vm: ResourceRef; name: string }
): Promise<void> {
  const { clients, log, signal } = ctx
  try {
    await waitFor(
      `Deleting run command '${name}'`,
      clients.compute.virtualMachineRunCommands.delete(vm.resourceGroup, vm.name, name, {
        abortSignal: signal
      }),
      { log, signal }
    )
  } catch (error) {
    if (signal.aborted) return
    log.warning(
      oneLine(
        `Could not delete run command '${name}' of VM '${vm.name}' (it goes with the VM): ${errorMessage(error)}`
      )
    )
  }
}

/** Asks the Linux guest whether REBOOT_REQUIRED_FILE exists; a check that fails only warns. */
async function rebootRequired(
  ctx: RunContext,
  command: CommandTarget & { index: number }
): Promise<boolean> {
  const run = await runCommand(ctx, {
    ...command,
    name: `azure-vm-image-customize-${command.index + 1}-reboot-check`,
    label: `reboot check after script ${command.index + 1}`,
    script: LINUX_REBOOT_CHECK,
    follow: false
  })
  // `test` exits 0 or 1; anything else (a handler error, a killed process) says nothing about the file.
  const code = run.exitCode
  if (code === 0 || code === 1) {
    ctx.log.info(
      code === 0
        ? '/var/run/reboot-required is present: the VM restarts'
        : '/var/run/reboot-required is absent: no restart needed'
    )
    return code === 0
  }
  ctx.log.warning(
    oneLine(
      `Could not check ${REBOOT_REQUIRED_FILE} in VM '${command.vm.name}' (the check ended ${run.executionState}, exit code ${code ?? 'none'}); going on without a restart.`
    )
  )
  return false
}

/** The failed script's last lines, each stream under our own header, inside stop-commands blocks. */
function printLastLines(
  ctx: RunContext,
  name: string,
  view: VirtualMachineRunCommandInstanceView
): void {
  const { log } = ctx
  const header = lastLinesHeader(name)
  const out = lastLines(view.output ?? '', LAST_LINES)
  const err = lastLines(view.error ?? '', LAST_LINES)
  if (out === '' && err === '') {
    log.info(oneLine(`${header}: (none)`))
    return
  }
  if (out !== '') {
    log.info(oneLine(`${header} (stdout, last ${LAST_LINES} lines at most):`))
    printUntrusted(log, out)
  }
  if (err !== '') {
    log.info(oneLine(`${header} (stderr, last ${LAST_LINES} lines at most):`))
    printUntrusted(log, err)
  }
}
