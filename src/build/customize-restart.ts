/**
 * Restarting the build VM between customization scripts, and waiting until the next script can
 * run: `POST …/virtualMachines/{vm}/restart` (a long-running operation), then the VM's instance
 * view until it is `PowerState/running` and its agent reports `Ready` again, the state in which it
 * takes new Run Commands ("The Run Command feature doesn't work if the VM agent status is NOT
 * READY", windows/run-command.md). The agent's status is `{code: "ProvisioningState/succeeded",
 * displayStatus: "Ready", message: "GuestAgent is running and accepting new configurations.",
 * time}` (VirtualMachine_Get_InstanceView in the REST specification's examples). A `Ready` reported
 * before the restart is not the agent after it, so when the status carries a time it must be later
 * than the restart request.
 */
import { powerStateOf } from '../azure/power-state.js'
import { waitFor, waitUntil } from '../azure/operation.js'
import type { RunContext } from '../run-context.js'
import { StepFailure } from '../run-context.js'
import { oneLine } from '../untrusted.js'
import type { ResourceRef } from '../plan.js'

/** How long a restarted VM may take to run with a ready agent again. */
export const AGENT_READY_LIMIT_MS = 15 * 60_000

interface Status {
  code?: string
  displayStatus?: string
  time?: Date | string
}

/** Is the VM running, with an agent that reported `Ready` after `since`? Pure. */
export function runningWithReadyAgent(
  view: { statuses?: Status[]; vmAgent?: { statuses?: Status[] } },
  since: Date
): { ready: boolean; state: string } {
  const power = powerStateOf(view.statuses)
  const agent = view.vmAgent?.statuses?.find(s => s.displayStatus !== undefined)
  const agentState = agent?.displayStatus ?? 'not reported'
  const fresh = agent?.time === undefined || new Date(agent.time).getTime() >= since.getTime()
  const ready = power === 'running' && agentState.toLowerCase() === 'ready' && fresh
  return {
    ready,
    state: `VM ${power}, agent ${oneLine(agentState)}${agent && !fresh ? ' (from before the restart)' : ''}`
  }
}

export interface RestartVmOptions {
  vm: ResourceRef
  /** Interval of the instance view reads after the restart. */
  pollMs: number
  /** Why, for the log: which script asked for it. */
  why: string
}

/** Restarts the VM and waits until it runs with a ready agent (bounded, and by the run's signal). */
export async function restartVm(ctx: RunContext, options: RestartVmOptions): Promise<void> {
  const { clients, log, signal } = ctx
  const { vm } = options
  log.info(oneLine(`Restarting VM '${vm.name}': ${options.why}`))
  const since = new Date()
  await waitFor(
    `Restart of '${vm.name}'`,
    clients.compute.virtualMachines.restart(vm.resourceGroup, vm.name, { abortSignal: signal }),
    { log, signal }
  )
  await waitUntil(
    `VM '${vm.name}' after the restart`,
    async () => {
      const view = await clients.compute.virtualMachines.instanceView(vm.resourceGroup, vm.name, {
        abortSignal: signal
      })
      const { ready, state } = runningWithReadyAgent(view, since)
      return { done: ready ? true : undefined, state }
    },
    {
      log,
      signal,
      intervalMs: options.pollMs,
      limitMs: AGENT_READY_LIMIT_MS,
      onLimit: () =>
        new StepFailure(
          `VM '${vm.name}' did not run with a ready VM agent within ${AGENT_READY_LIMIT_MS / 60_000} minutes of its restart, so no further script can be sent. ` +
            `Check its boot diagnostics (serial log) in the portal.`
        )
    }
  )
}
