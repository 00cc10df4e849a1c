/**
 * The OS's own generalization, run inside the VM through Run Command. Neither OS can report the
 * end of it: `waagent -deprovision+user` stops the very agent that runs the command and sends its
 * result (WALinuxAgent#3547: such a run command never yields), and Sysprep shuts Windows down.
 * So the command only starts the work, which ends by shutting the VM down, and we wait (bounded)
 * for the VM to stop.
 */
import { waitFor, waitUntil } from '../azure/operation.js'
import { parseResourceId } from '../azure/resource-id.js'
import type { RunContext } from '../run-context.js'
import { oneLine, printUntrusted } from '../untrusted.js'
import { powerStateOf, type VmFacts } from './vm-facts.js'

const DEPROVISION_LOG = '/var/log/azure-vm-image-deprovision.log'

export const LINUX_DEPROVISION = [
  "if [ ! -x /usr/sbin/waagent ]; then echo 'deprovision: /usr/sbin/waagent not found' >&2; exit 1; fi",
  // In the background, after a pause that lets the agent report this command's result.
  `nohup sh -c 'sleep 10; /usr/sbin/waagent -force -deprovision+user && export HISTSIZE=0 && sync && shutdown -h now' > ${DEPROVISION_LOG} 2>&1 &`,
  "echo 'deprovision started: the VM shuts down when it is done'"
]

export const WINDOWS_SYSPREP = [
  "$ErrorActionPreference = 'Stop'",
  // Sysprep refuses to run while a previous run's panther state is around; clear it first.
  'Remove-Item -Recurse -Force "$env:SystemRoot\\System32\\Sysprep\\Panther" -ErrorAction SilentlyContinue',
  '& "$env:SystemRoot\\System32\\Sysprep\\Sysprep.exe" /generalize /oobe /mode:vm /quiet /shutdown'
]

/** How long generalization may take before the VM stops; Sysprep can loop, so this is bounded. */
export const SYSPREP_LIMIT_MS = 30 * 60_000
export const DEPROVISION_LIMIT_MS = 15 * 60_000

async function startLinuxDeprovision(ctx: RunContext, vm: VmFacts, rg: string): Promise<void> {
  const { clients, log, signal } = ctx
  log.info(
    oneLine(`Starting 'waagent -deprovision+user -force' in VM '${vm.name}' through Run Command`)
  )
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
    // The guest's own words: verbatim, but inside a stop-commands block (src/untrusted.ts).
    if (status.message?.trim()) {
      log.info(oneLine(`Run Command ${status.code ?? 'status'}:`))
      printUntrusted(log, status.message)
    }
  }
  const failed = (result.value ?? []).find(
    s => /failed|error/i.test(s.code ?? '') || /deprovision: .* not found/.test(s.message ?? '')
  )
  if (failed) {
    throw new Error(
      `Deprovisioning VM '${vm.name}' could not start (${failed.code}): ${failed.message?.trim() ?? ''}. ` +
        `Install the Azure Linux Agent, or generalize the VM yourself and set 'deprovision: false'.`
    )
  }
}

export async function generalizeGuest(ctx: RunContext, vm: VmFacts, pollMs = 5000): Promise<void> {
  const { plan, clients, log, signal } = ctx
  const rg = parseResourceId(vm.id).resourceGroup
  const linux = vm.osType === 'Linux'
  if (linux) {
    await startLinuxDeprovision(ctx, vm, rg)
  } else {
    log.info(
      oneLine(
        `Running Sysprep /generalize /oobe /mode:vm /shutdown in VM '${vm.name}' through Run Command`
      )
    )
    const poller = clients.compute.virtualMachines.runCommand(
      rg,
      vm.name,
      { commandId: 'RunPowerShellScript', script: WINDOWS_SYSPREP },
      { abortSignal: signal }
    )
    // Only the submission matters: after Sysprep's shutdown the command never reports completion.
    await poller.submitted()
  }
  const what = linux ? 'Deprovision' : 'Sysprep'
  const limit = Math.min(
    linux ? DEPROVISION_LIMIT_MS : SYSPREP_LIMIT_MS,
    plan.timeoutMinutes * 60_000
  )
  await waitUntil(
    `${what} in '${vm.name}'`,
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
          `${what} in VM '${vm.name}' did not shut the VM down within ${Math.round(limit / 60_000)} minutes. ` +
            (linux
              ? `See ${DEPROVISION_LOG} and /var/log/waagent.log in the VM.`
              : `Sysprep can loop (IMAGE_STATE_UNDEPLOYABLE): check C:\\Windows\\System32\\Sysprep\\Panther\\setupact.log in the VM.`)
        )
    }
  )
}
