/** Backup snapshots of the VM's OS and data disks, taken in parallel before anything changes the VM. */
import { waitFor } from '../azure/operation.js'
import type { RunContext } from '../run-context.js'
import type { VmDisk, VmFacts } from './vm-facts.js'

/** Snapshot names: up to 80 characters; the run id and attempt keep re-runs from colliding. */
export function snapshotName(vm: VmFacts, disk: VmDisk, runId: string, attempt: number): string {
  const suffix = `-${disk.lun === 'os' ? 'os' : `lun${disk.lun}`}-backup-${runId}-${attempt}`
  return `${vm.name.slice(0, 80 - suffix.length)}${suffix}`
}

export async function takeBackupSnapshots(ctx: RunContext, vm: VmFacts): Promise<string[]> {
  const { plan, clients, log, signal } = ctx
  const ids = await Promise.all(
    vm.disks.map(async disk => {
      const name = snapshotName(vm, disk, plan.run.runId, plan.run.runAttempt)
      log.info(
        `Snapshot of ${disk.lun === 'os' ? 'the OS disk' : `data disk LUN ${disk.lun}`} '${disk.name}' → '${name}'`
      )
      const snapshot = await waitFor(
        `Snapshot '${name}'`,
        clients.compute.snapshots.createOrUpdate(
          plan.resourceGroup,
          name,
          {
            location: vm.location,
            tags: plan.tags,
            // Incremental snapshots are billed for the used size only, on Standard HDD.
            incremental: true,
            sku: { name: 'Standard_LRS' },
            creationData: { createOption: 'Copy', sourceResourceId: disk.id }
          },
          { abortSignal: signal }
        ),
        { log, signal }
      )
      const id = snapshot.id ?? ''
      ctx.report.created.push({ kind: 'Backup snapshot', id, location: vm.location })
      return id
    })
  )
  return ids
}
