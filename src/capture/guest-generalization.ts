/**
 * The OS's own generalization, run inside the VM through Run Command, and checked before anything
 * irreversible happens: a run that cannot show the generalization happened fails here, before
 * `generalize`, so it never produces an image of a VM that was not generalized inside.
 *
 * Linux. `waagent -deprovision+user` first stops the agent service (WALinuxAgent
 * azurelinuxagent/pa/deprovision/default.py, setup()), and the agent's units set no KillMode
 * (init/ubuntu/walinuxagent.service, init/redhat/waagent.service, init/waagent.service), so systemd
 * kills every process in the agent's cgroup, including a job the run command left in the
 * background, unless the agent gives extensions their own cgroup (only some distributions:
 * azurelinuxagent/ga/cgroupapi.py distro_supported()). Maintainers call deprovisioning through the
 * agent "not a supported scenario" (WALinuxAgent#3547). So the work runs in a transient systemd unit
 * (`systemd-run --unit=… --collect`), which has its own cgroup. Where systemd-run is missing (or
 * systemd is not running) nothing is started and the run fails at once: a background job there
 * could die half-way, with the agent stopped, and nothing would tell.
 *
 * After the deprovision nothing inside the VM can report any more (the agent is stopped, its state
 * under /var/lib/waagent deleted), so the proof is assembled from what can be seen:
 *  1. the run command's own result carries systemd's "Running as unit: <unit>" for this run's unique
 *     unit (systemd src/run/run.c prints it on stderr once the transient unit is started);
 *  2. in that unit the shutdown is chained after the deprovision (`waagent … && sync && shutdown`),
 *     so the guest only shuts down when waagent reported success;
 *  3. the VM then reaches PowerState/stopped, after (1) was reported.
 * The VM stopping without (1) (a run command that never reports, e.g. no outbound HTTPS:
 * linux/run-command.md) or not stopping within the limit fails the run before `generalize`.
 *
 * Windows, as Packer's azure-arm builder documents it (hashicorp/packer-plugin-azure
 * docs/builders/arm.mdx): Sysprep `/generalize /oobe /mode:vm /quiet /quit` (not /shutdown, after
 * which nothing reports: "VM got shutdown, but generalization did not take place",
 * MicrosoftDocs/azure-docs#104932), then poll ImageState under
 * HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Setup\State until
 * IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE; a second run command reads the state again, and only that
 * state lets the run go on to deallocate (the shutdown). The Panther folder cleared first is
 * C:\Windows\Panther (generalize.md).
 *
 * Every wait is bounded by the VM's power state as well as by the command's result: a command may
 * never report back, and one left in progress makes later ones fail with 409 "Run command extension
 * execution is in progress" (MicrosoftDocs/azure-docs#10409, #43356; Azure/azure-cli#32305).
 */
import type { RunCommandResult } from '@azure/arm-compute'
import type { OperationState, PollerLike } from '@azure/core-lro'
import { sleep } from '../sleep.js'
import { isRunCommandInProgress } from '../azure/errors.js'
import { parseResourceId } from '../azure/resource-id.js'
import { formatDuration, type Logger } from '../log.js'
import type { RunContext } from '../run-context.js'
import { oneLine, printUntrusted } from '../untrusted.js'
import { parseRunCommandOutput, type GuestOutput } from './run-command-output.js'
import { powerStateOf, type PowerState, type VmFacts } from './vm-facts.js'

export const DEPROVISION_LOG = '/var/log/azure-vm-image-deprovision.log'
export const RESEAL = 'IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE'
const IMAGE_STATE_KEY = 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Setup\\State'

/** How long generalization may take; Sysprep can loop, so this is bounded. */
export const SYSPREP_LIMIT_MS = 30 * 60_000
/** The script's own poll of ImageState gives up earlier, so the command reports (no 409 later). */
export const SYSPREP_SCRIPT_LIMIT_MINUTES = 25
export const DEPROVISION_LIMIT_MS = 15 * 60_000

/** A systemd unit name unique to this run and attempt (systemd.unit: [A-Za-z0-9:_.\\-]). */
export function deprovisionUnit(runId: string, attempt: number): string {
  return `azure-vm-image-deprovision-${runId.replace(/[^A-Za-z0-9_.-]/g, '_')}-${attempt}`
}

/**
 * The job in the transient unit. The pause lets the agent send this run command's result before
 * the deprovision stops it; the shutdown only follows a successful deprovision.
 */
export function deprovisionJob(): string {
  return `exec >>${DEPROVISION_LOG} 2>&1; sleep 30; waagent -force -deprovision+user && export HISTSIZE=0 && sync && shutdown -h now`
}

export function linuxDeprovisionScript(unit: string): string[] {
  return [
    "if ! command -v waagent >/dev/null 2>&1; then echo 'deprovision: waagent (the Azure Linux Agent) not found' >&2; exit 1; fi",
    "if ! command -v systemd-run >/dev/null 2>&1 || [ ! -d /run/systemd/system ]; then echo 'deprovision: systemd-run is not available, so the deprovision cannot run outside the agent service (it would die with it): nothing was started' >&2; exit 1; fi",
    `systemd-run --unit=${unit} --collect --description='azure-vm-image deprovision' /bin/sh -c '${deprovisionJob()}'`
  ]
}

export function windowsSysprepScript(): string[] {
  return [
    "$ErrorActionPreference = 'Stop'",
    // The Windows guest agent takes part in Sysprep: its services must be running first (Packer docs).
    "foreach ($s in Get-Service -Name RdAgent, WindowsAzureTelemetryService, WindowsAzureGuestAgent -ErrorAction SilentlyContinue) { while ((Get-Service $s.Name).Status -ne 'Running') { Start-Sleep -Seconds 5 } }",
    'Remove-Item -Recurse -Force "$env:SystemRoot\\Panther" -ErrorAction SilentlyContinue',
    '& "$env:SystemRoot\\System32\\Sysprep\\Sysprep.exe" /generalize /oobe /mode:vm /quiet /quit',
    `$deadline = (Get-Date).AddMinutes(${SYSPREP_SCRIPT_LIMIT_MINUTES})`,
    `while ($true) { $state = (Get-ItemProperty '${IMAGE_STATE_KEY}').ImageState; if ($state -eq '${RESEAL}' -or (Get-Date) -gt $deadline) { break }; Start-Sleep -Seconds 10 }`,
    'Write-Output "ImageState: $state"'
  ]
}

/** Reads the image state alone: its output is the value. */
export const WINDOWS_IMAGE_STATE = [`(Get-ItemProperty '${IMAGE_STATE_KEY}').ImageState`]

/** Guest output is text the action did not write: verbatim, inside a stop-commands block. */
export function printGuestOutput(log: Logger, what: string, output: GuestOutput): void {
  for (const [name, text] of [
    ['stdout', output.stdout],
    ['stderr', output.stderr]
  ] as const) {
    if (!text.trim()) continue
    log.info(oneLine(`${what} ${name}:`))
    printUntrusted(log, text)
  }
}

type Poller = PollerLike<OperationState<RunCommandResult>, RunCommandResult>

interface Watched {
  /** the command's output, if it reported */
  output?: GuestOutput
  power: PowerState
  /** true when the wait ended at the limit */
  timedOut: boolean
}

/**
 * Watches a run command and the VM's power state together until `until` holds, the command
 * reports something `onReport` rejects (it throws), or `limitMs` passes. Never awaits the whole
 * operation: the poller is advanced one poll at a time between power-state reads.
 */
async function watch(
  ctx: RunContext,
  vm: VmFacts,
  poller: Poller,
  options: {
    what: string
    /** What the run command's output proves, for the refusal below: 'the deprovision', 'Sysprep'. */
    proves: string
    limitMs: number
    pollMs: number
    until: (w: { output?: GuestOutput; power: PowerState }) => boolean
    onReport?: (output: GuestOutput) => void
  }
): Promise<Watched> {
  const { clients, log, signal } = ctx
  const rg = parseResourceId(vm.id).resourceGroup
  const started = Date.now()
  let lastLog = started
  let output: GuestOutput | undefined
  try {
    await poller.submitted()
  } catch (e) {
    throw isRunCommandInProgress(e) ? inProgressRefusal(vm, options.proves) : e
  }
  for (;;) {
    if (output === undefined) {
      // One poll; a failed operation throws here with Azure's error.
      await poller.poll({ abortSignal: signal })
      if (poller.isDone && poller.result) {
        output = parseRunCommandOutput(poller.result.value)
        printGuestOutput(log, options.what, output)
        options.onReport?.(output)
      }
    }
    const view = await clients.compute.virtualMachines.instanceView(rg, vm.name, {
      abortSignal: signal
    })
    const power = powerStateOf(view.statuses)
    const state = `VM ${power}, run command ${output ? 'reported' : 'not reported yet'}`
    if (options.until({ output, power })) {
      log.info(oneLine(`${options.what}: ${state} after ${formatDuration(Date.now() - started)}`))
      return { output, power, timedOut: false }
    }
    if (Date.now() - started > options.limitMs) return { output, power, timedOut: true }
    if (Date.now() - lastLog >= 20_000) {
      log.info(oneLine(`${options.what}: ${state} after ${formatDuration(Date.now() - started)}`))
      lastLog = Date.now()
    }
    await sleep(options.pollMs, signal)
  }
}

/**
 * Azure refuses a run command while another is in progress in the VM (409 Conflict). Right after
 * this run sent its own, that other one may be this run's: the answer to the first request was lost
 * and the request sent again (chaos seed 1380754976). Its output, the only proof of what it
 * started, is then lost with it: nothing can be verified, so nothing irreversible follows.
 */
function inProgressRefusal(vm: VmFacts, proves: string): Error {
  return new Error(
    `Azure answered 409 Conflict "Run command extension execution is in progress" in VM '${vm.name}': another run command is running there, or this run's own, whose answer was lost and whose request was sent again, so ${proves} cannot be verified. ` +
      `The VM was not generalized, but ${proves} may have started in it: wait for the run command to end (the VM's Run Command blade or its instance view), check the VM, then re-run.`
  )
}

const stoppedStates: PowerState[] = ['stopped', 'deallocated']

async function deprovisionLinux(ctx: RunContext, vm: VmFacts, pollMs: number): Promise<void> {
  const { plan, clients, log, signal } = ctx
  const rg = parseResourceId(vm.id).resourceGroup
  const unit = deprovisionUnit(plan.run.runId, plan.run.runAttempt)
  const limit = Math.min(DEPROVISION_LIMIT_MS, plan.timeoutMinutes * 60_000)
  log.info(
    oneLine(
      `Starting 'waagent -force -deprovision+user' in VM '${vm.name}' through Run Command, in the transient systemd unit '${unit}'`
    )
  )
  const poller = clients.compute.virtualMachines.runCommand(
    rg,
    vm.name,
    { commandId: 'RunShellScript', script: linuxDeprovisionScript(unit) },
    { abortSignal: signal }
  )
  const unitStarted = (o: GuestOutput): boolean =>
    o.stderr.includes(`Running as unit: ${unit}.service`)
  const w = await watch(ctx, vm, poller, {
    what: `Deprovision in '${vm.name}'`,
    proves: 'the deprovision',
    limitMs: limit,
    pollMs,
    until: ({ output, power }) =>
      stoppedStates.includes(power) || (output !== undefined && !unitStarted(output)),
    onReport: o => {
      if (!unitStarted(o)) {
        throw new Error(
          `Deprovisioning VM '${vm.name}' did not start: the run command's output has no "Running as unit: ${unit}.service" from systemd-run (output above). ` +
            `The VM was not changed. Install the Azure Linux Agent (waagent) and use a distribution with systemd, or generalize the VM yourself and set 'deprovision: false'.`
        )
      }
    }
  })
  if (w.timedOut) {
    throw new Error(
      `VM '${vm.name}' did not shut down within ${Math.round(limit / 60_000)} minutes of starting the deprovision` +
        (w.output
          ? ` (unit '${unit}' was started): the deprovision failed or hangs, and the VM shuts down only after it succeeds. See ${DEPROVISION_LOG} and /var/log/waagent.log in the VM; its agent may be stopped (restart the VM).`
          : `, and the run command never reported. See ${DEPROVISION_LOG} in the VM.`) +
        ` The VM was not generalized.`
    )
  }
  if (w.output === undefined) {
    throw new Error(
      `VM '${vm.name}' is ${w.power}, but the run command never reported that the deprovision started in unit '${unit}' ` +
        `(a VM without outbound HTTPS runs commands but cannot return their results: linux/run-command.md), so the deprovision cannot be verified. ` +
        `The VM was not generalized. If you checked ${DEPROVISION_LOG} yourself, re-run with 'deprovision: false'.`
    )
  }
  log.info(
    oneLine(
      `VM '${vm.name}' shut down after the deprovision in unit '${unit}' (the shutdown only follows a successful 'waagent -deprovision+user')`
    )
  )
}

/** Sysprep's run command or the state check ended with the VM stopped: nothing is verified. */
function stoppedBeforeReseal(vm: VmFacts, power: PowerState): Error {
  return new Error(
    `VM '${vm.name}' is ${power} before Sysprep reported ${RESEAL}: the generalization cannot be verified, and the VM was not generalized by Azure. ` +
      `Check C:\\Windows\\System32\\Sysprep\\Panther\\setupact.log in the VM.`
  )
}

/** The ImageState Windows records after Sysprep, read by a second, read-only Run Command. */
async function readImageState(
  ctx: RunContext,
  vm: VmFacts,
  timing: { limit: number; pollMs: number }
): Promise<string> {
  const { clients, signal } = ctx
  const { limit, pollMs } = timing
  const rg = parseResourceId(vm.id).resourceGroup
  // A second, read-only command: the state as Windows records it now, not as the first script said.
  const check = await watch(
    ctx,
    vm,
    clients.compute.virtualMachines.runCommand(
      rg,
      vm.name,
      { commandId: 'RunPowerShellScript', script: WINDOWS_IMAGE_STATE },
      { abortSignal: signal }
    ),
    {
      what: `ImageState of '${vm.name}'`,
      proves: 'the ImageState check',
      limitMs: Math.min(5 * 60_000, limit),
      pollMs,
      until: ({ output, power }) => output !== undefined || stoppedStates.includes(power)
    }
  )
  if (check.output === undefined) {
    if (!check.timedOut) throw stoppedBeforeReseal(vm, check.power)
    throw new Error(
      `Reading the ImageState of VM '${vm.name}' did not report within 5 minutes: Sysprep cannot be verified, and the VM was not generalized.`
    )
  }
  // The state is the line that is an ImageState value (IMAGE_STATE_*): whatever else the guest
  // prints around it (profile scripts, a noisy agent) is not the state.
  return (
    check.output.stdout
      .split(/\r?\n/)
      .map(l => l.trim())
      .filter(l => /^IMAGE_STATE_[A-Z_]+$/.test(l))
      .at(-1) ?? ''
  )
}

async function sysprepWindows(ctx: RunContext, vm: VmFacts, pollMs: number): Promise<void> {
  const { plan, clients, log, signal } = ctx
  const rg = parseResourceId(vm.id).resourceGroup
  const limit = Math.min(SYSPREP_LIMIT_MS, plan.timeoutMinutes * 60_000)
  log.info(
    oneLine(
      `Running Sysprep /generalize /oobe /mode:vm /quit in VM '${vm.name}' through Run Command, then waiting for ImageState ${RESEAL}`
    )
  )
  const sysprep = await watch(
    ctx,
    vm,
    clients.compute.virtualMachines.runCommand(
      rg,
      vm.name,
      { commandId: 'RunPowerShellScript', script: windowsSysprepScript() },
      { abortSignal: signal }
    ),
    {
      what: `Sysprep in '${vm.name}'`,
      proves: 'Sysprep',
      limitMs: limit,
      pollMs,
      until: ({ output, power }) => output !== undefined || stoppedStates.includes(power)
    }
  )
  if (sysprep.timedOut) {
    throw new Error(
      `Sysprep in VM '${vm.name}' did not report within ${Math.round(limit / 60_000)} minutes; the VM was not generalized. ` +
        `Sysprep can loop (IMAGE_STATE_UNDEPLOYABLE): check C:\\Windows\\System32\\Sysprep\\Panther\\setupact.log in the VM. ` +
        `While that run command is in progress Azure refuses new ones with 409 "Run command extension execution is in progress" (for up to 90 minutes).`
    )
  }
  if (sysprep.output === undefined) throw stoppedBeforeReseal(vm, sysprep.power)
  const state = await readImageState(ctx, vm, { limit, pollMs })
  if (state !== RESEAL) {
    throw new Error(
      `Sysprep in VM '${vm.name}' did not finish: ImageState is '${state.slice(0, 80)}', not ${RESEAL}. The VM was not generalized by Azure; ` +
        `check C:\\Windows\\System32\\Sysprep\\Panther\\setupact.log in the VM.`
    )
  }
  log.info(
    oneLine(
      `VM '${vm.name}': ImageState ${RESEAL}; Windows is generalized and left running for the shutdown`
    )
  )
}

/** How often a Run Command's instance view is read while it runs. */
const GUEST_POLL_MS = 5000

export async function generalizeGuest(ctx: RunContext, vm: VmFacts): Promise<void> {
  if (vm.osType === 'Linux') await deprovisionLinux(ctx, vm, GUEST_POLL_MS)
  else await sysprepWindows(ctx, vm, GUEST_POLL_MS)
}
