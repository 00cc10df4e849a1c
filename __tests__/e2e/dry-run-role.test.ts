/**
 * `dry-run: true` prints the least-privilege custom role for exactly the run's inputs (and the VM's
 * state, for `deprovision: auto`), in the log and the job summary, so a platform team can create
 * the role before the first real run. Evidence is what the bundled action printed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { errorLines, runAction, type ActionRun } from '../support/action-runner.js'
import { startLocalCloud, type LocalCloud } from '../support/cloud.js'

const RG = 'role-rg'
let cloud: LocalCloud

beforeAll(async () => {
  cloud = await startLocalCloud({ lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 } })
  cloud.emu.addResourceGroup(RG, 'westeurope')
})
afterAll(async () => cloud.close())

interface Role {
  Name: string
  Actions: string[]
  DataActions: string[]
  AssignableScopes: string[]
}

/** The JSON role the summary shows under its heading. */
function summaryRole(run: ActionRun): Role {
  const m = /### Least-privilege role for this run[\s\S]*?```json\n([\s\S]*?)\n```/.exec(
    run.summary
  )
  expect(m).not.toBeNull()
  return JSON.parse((m as RegExpExecArray)[1]) as Role
}

async function dryRun(vm: string, inputs: Record<string, string>): Promise<ActionRun> {
  const run = await runAction({
    inputs: {
      ...cloud.inputs,
      'resource-group': RG,
      'source-vm': vm,
      'image-name': `${vm}-img`,
      'dry-run': 'true',
      ...inputs
    },
    env: cloud.env
  })
  expect(errorLines(run.main)).toEqual([])
  expect(run.main.code).toBe(0)
  return run
}

const scope = (): string => `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/${RG}`

describe('dry run prints the least-privilege role for its inputs', () => {
  it('a running VM with defaults: Run Command (deprovision: auto) and the managed image, nothing more', async () => {
    cloud.emu.addVm({ resourceGroup: RG, name: 'run-vm', location: 'westeurope', osType: 'Linux' })
    const run = await dryRun('run-vm', {})
    const role = summaryRole(run)
    expect(role.Actions).toEqual([
      'Microsoft.Authorization/permissions/read',
      'Microsoft.Compute/disks/read',
      'Microsoft.Compute/images/read',
      'Microsoft.Compute/images/write',
      'Microsoft.Compute/locations/operations/read',
      'Microsoft.Compute/virtualMachines/deallocate/action',
      'Microsoft.Compute/virtualMachines/generalize/action',
      'Microsoft.Compute/virtualMachines/instanceView/read',
      'Microsoft.Compute/virtualMachines/read',
      'Microsoft.Compute/virtualMachines/runCommand/action',
      'Microsoft.Resources/subscriptions/resourceGroups/read'
    ])
    expect(role.DataActions).toEqual([])
    expect(role.AssignableScopes).toEqual([scope()])
    // The same role in the log, as one JSON document after its heading.
    const log = run.main.stdout
    const start = log.indexOf('Least-privilege custom role for this run')
    expect(start).toBeGreaterThanOrEqual(0)
    const json = log.slice(log.indexOf('{', start), log.indexOf('\n}', start) + 2)
    expect(JSON.parse(json)).toEqual(role)
  })

  it('a stopped VM under deprovision: auto needs no Run Command; the options add exactly their actions', async () => {
    cloud.emu.addVm({
      resourceGroup: RG,
      name: 'stopped-vm',
      location: 'westeurope',
      osType: 'Linux',
      powerState: 'deallocated'
    })
    const run = await dryRun('stopped-vm', {
      'backup-snapshot': 'true',
      'delete-source-vm': 'true',
      overwrite: 'true'
    })
    const role = summaryRole(run)
    expect(role.Actions).not.toContain('Microsoft.Compute/virtualMachines/runCommand/action')
    for (const added of [
      'Microsoft.Compute/snapshots/write',
      'Microsoft.Compute/disks/beginGetAccess/action',
      'Microsoft.Compute/virtualMachines/delete',
      'Microsoft.Compute/images/delete'
    ]) {
      expect(role.Actions).toContain(added)
    }
    expect(role.Actions.some(a => a.includes('/galleries/'))).toBe(false)
  })
})
