/** Backup snapshots of the VM's OS and data disks, taken in parallel before anything changes the VM. */
import { waitFor } from '../azure/operation.js'
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
 * Snapshots of Premium SSD v2 and Ultra disks "can't be used immediately": Azure copies them in the
 * background until `completionPercent` reaches 100 (disks-incremental-snapshots.md). Waiting could
 * take hours, so the run reports it instead. Undefined when the snapshot is ready.
 */
export function pendingCopy(
  disk: VmDisk,
  completionPercent: number | undefined
): string | undefined {
  const background = /^(PremiumV2_LRS|UltraSSD_LRS)$/i.test(disk.sku ?? '')
  if (!background && completionPercent === undefined) return undefined
  if (completionPercent !== undefined && completionPercent >= 100) return undefined
  return (
    `its background copy is ${completionPercent === undefined ? 'not reported yet' : `${completionPercent}% done`}` +
    ` (${disk.sku ?? 'this disk type'}): it cannot be used to restore a disk until completionPercent reaches 100.`
  )
}

export interface BackupOptions {
  vm: VmFacts
  /**
   * Told the IDs finished so far after each snapshot: execute.ts puts them in the
   * `backup-snapshot-ids` output at once, so a run that fails later (or on a sibling snapshot)
   * still reports the backups it made.
   */
  onTaken(ids: string[]): void
}

export async function takeBackupSnapshots(
  ctx: RunContext,
  options: BackupOptions
): Promise<string[]> {
  const { vm } = options
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
          // Incremental snapshots are billed for the used size only. No `sku`: Azure puts them on
          // ZRS where the region has it, else LRS, and advises against overriding that
          // (disks-incremental-snapshots.md).
          incremental: true,
          creationData: { createOption: 'Copy', sourceResourceId: disk.id }
        },
        { abortSignal: signal }
      ),
      { log, signal }
    )
    const id = snapshot.id ?? ''
    ctx.report.created.push({ kind: 'Backup snapshot', id, location: vm.location })
    const pending = pendingCopy(disk, snapshot.completionPercent)
    if (pending) {
      log.warning(oneLine(`Snapshot '${name}': ${pending}`))
      ctx.report.notes.push(`Backup snapshot '${name}': ${pending}`)
    }
    done.push(id)
    options.onTaken([...done])
    return id
  })
}
