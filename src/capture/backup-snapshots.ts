/** Backup snapshots of the VM's OS and data disks, taken in parallel before anything changes the VM. */
import { waitFor } from '../azure/operation.js'
import { Outputs } from '../constants.js'
import { allOrAbort } from '../parallel.js'
import type { RunContext } from '../run-context.js'
import type { VmDisk, VmFacts } from './vm-facts.js'
import { oneLine } from '../untrusted.js'

/** Snapshot names: up to 80 characters; the run id and attempt keep re-runs from colliding. */
export function snapshotName(vm: VmFacts, disk: VmDisk, runId: string, attempt: number): string {
  const suffix = `-${disk.lun === 'os' ? 'os' : `lun${disk.lun}`}-backup-${runId}-${attempt}`
  return `${vm.name.slice(0, 80 - suffix.length)}${suffix}`
}

/**
 * Every finished snapshot goes into the `backup-snapshot-ids` output at once, so a run that fails
 * later (or on a sibling snapshot) still reports the backups it made.
 */
export async function takeBackupSnapshots(ctx: RunContext, vm: VmFacts): Promise<string[]> {
  const { plan, clients, log } = ctx
  const done: string[] = []
  return allOrAbort(ctx.signal, vm.disks, async (disk, signal) => {
    const name = snapshotName(vm, disk, plan.run.runId, plan.run.runAttempt)
    log.info(
      oneLine(
        `Snapshot of ${disk.lun === 'os' ? 'the OS disk' : `data disk LUN ${disk.lun}`} '${disk.name}' → '${name}'`
      )
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
    done.push(id)
    ctx.report.outputs[Outputs.BackupSnapshotIds] = JSON.stringify(done)
    return id
  })
}
