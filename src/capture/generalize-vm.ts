/** Deallocate, mark generalized, and confirm Azure reports OSState/generalized. */
import { waitFor } from '../azure/operation.js'
import { parseResourceId } from '../azure/resource-id.js'
import type { RunContext } from '../run-context.js'
import { isGeneralized, type VmFacts } from './vm-facts.js'
import { oneLine } from '../untrusted.js'

export async function deallocateVm(ctx: RunContext, vm: VmFacts): Promise<void> {
  const { clients, log, signal } = ctx
  const rg = parseResourceId(vm.id).resourceGroup
  await waitFor(
    `Deallocate '${vm.name}'`,
    clients.compute.virtualMachines.deallocate(rg, vm.name, { abortSignal: signal }),
    { log, signal }
  )
}

export async function markGeneralized(ctx: RunContext, vm: VmFacts): Promise<void> {
  const { clients, log, signal } = ctx
  const rg = parseResourceId(vm.id).resourceGroup
  await clients.compute.virtualMachines.generalize(rg, vm.name, { abortSignal: signal })
  const view = await clients.compute.virtualMachines.instanceView(rg, vm.name, {
    abortSignal: signal
  })
  if (!isGeneralized(view.statuses)) {
    throw new Error(
      `VM '${vm.name}' was marked generalized but Azure does not report OSState/generalized: not creating an image from it.`
    )
  }
  log.info(oneLine(`VM '${vm.name}' is generalized (OSState/generalized)`))
  ctx.report.notes.push(`VM '${vm.name}' was generalized: it cannot be started again.`)
}

export async function deleteVm(ctx: RunContext, vm: VmFacts): Promise<void> {
  const { clients, log, signal } = ctx
  const rg = parseResourceId(vm.id).resourceGroup
  await waitFor(
    `Delete VM '${vm.name}'`,
    clients.compute.virtualMachines.delete(rg, vm.name, { abortSignal: signal }),
    {
      log,
      signal
    }
  )
  ctx.report.notes.push(
    `VM '${vm.name}' was deleted (its disks stay unless they were set to delete with it).`
  )
}
