/**
 * The OS's own generalization, run inside the VM through Run Command. Linux: the Azure Linux Agent
 * deprovisions and the command reports back. Windows: Sysprep shuts the VM down, after which the guest
 * agent can never report, so we wait (bounded) for the VM to stop instead of for the command.
 */
import { waitFor, waitUntil } from '../azure/operation.js'
import type { RunContext } from '../run-context.js'
import { powerStateOf, type VmFacts } from './vm-facts.js'

export const LINUX_DEPROVISION = [
  'set -e',
  '/usr/sbin/waagent -force -deprovision+user',
  'export HISTSIZE=0',
  'sync'
]

export const WINDOWS_SYSPREP = [
  "$ErrorActionPreference = 'Stop'",
  // Sysprep refuses to run while a previous run's panther state is around; clear it first.
  'Remove-Item -Recurse -Force "$env:SystemRoot\\System32\\Sysprep\\Panther" -ErrorAction SilentlyContinue',
  '& "$env:SystemRoot\\System32\\Sysprep\\Sysprep.exe" /generalize /oobe /mode:vm /quiet /shutdown'
]

/** How long Sysprep may take before the VM stops; it can hang in a loop, so this is bounded. */
export const SYSPREP_LIMIT_MS = 30 * 60_000

export async function generalizeGuest(ctx: RunContext, vm: VmFacts, pollMs = 5000): Promise<void> {
  const { plan, clients, log, signal } = ctx
  const rg = vm.id.split('/')[4]
  if (vm.osType === 'Linux') {
    log.info(`Running 'waagent -deprovision+user -force' in VM '${vm.name}' through Run Command`)
    const result = await waitFor(
      `Run Command on '${vm.name}'`,
      clients.compute.virtualMachines.runCommand(
        rg,
        vm.name,
        { commandId: 'RunShellScript', script: LINUX_DEPROVISION },
        { abortSignal: signal }
      ),
      { log, signal }
    )
    for (const status of result.value ?? []) {
      if (status.message) log.info(`${status.code}: ${status.message.trim()}`)
    }
    const failed = (result.value ?? []).find(s => /failed|error/i.test(s.code ?? ''))
    if (failed) {
      throw new Error(
        `Deprovisioning VM '${vm.name}' failed (${failed.code}): ${failed.message ?? ''}`
      )
    }
    return
  }
  log.info(
    `Running Sysprep /generalize /oobe /mode:vm /shutdown in VM '${vm.name}' through Run Command`
  )
  const poller = clients.compute.virtualMachines.runCommand(
    rg,
    vm.name,
    { commandId: 'RunPowerShellScript', script: WINDOWS_SYSPREP },
    { abortSignal: signal }
  )
  // Only the submission matters: after Sysprep's shutdown the command never reports completion.
  await poller.submitted()
  const limit = Math.min(SYSPREP_LIMIT_MS, plan.timeoutMinutes * 60_000)
  await waitUntil(
    `Sysprep in '${vm.name}'`,
    async () => {
      const view = await clients.compute.virtualMachines.instanceView(rg, vm.name, {
        abortSignal: signal
      })
      const power = powerStateOf(view.statuses)
      return {
        done: power === 'stopped' || power === 'deallocated' ? power : undefined,
        state: `VM ${power}`
      }
    },
    {
      log,
      signal,
      intervalMs: pollMs,
      limitMs: limit,
      onLimit: () =>
        new Error(
          `Sysprep in VM '${vm.name}' did not shut the VM down within ${Math.round(limit / 60_000)} minutes. ` +
            `Sysprep can loop (IMAGE_STATE_UNDEPLOYABLE): check C:\\Windows\\System32\\Sysprep\\Panther\\setupact.log in the VM.`
        )
    }
  )
}
