/**
 * `deprovision` left unset (action.yml's default `auto`), on the bundled action: a running VM is
 * deprovisioned through Run Command before it is generalized; a VM that is already stopped cannot
 * run a command, so the run goes on with a warning that the guest must have been generalized.
 * Evidence is the emulator's request log and the warnings the action printed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { actionDefaults, errorLines, runAction } from '../support/action-runner.js'
import { startLocalCloud, type LocalCloud } from '../support/cloud.js'
import type { RecordedRequest } from '../emulator/index.js'

const RG = 'auto-rg'
let cloud: LocalCloud

beforeAll(async () => {
  cloud = await startLocalCloud({ lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 } })
  cloud.emu.addResourceGroup(RG, 'westeurope')
})
afterAll(async () => cloud.close())

const isRunCommand = (r: RecordedRequest): boolean =>
  r.method === 'POST' && /\/virtualMachines\/[^/]+\/runCommand$/i.test(r.path)

function warnings(stdout: string): string[] {
  return stdout.split('\n').filter(l => l.startsWith('::warning'))
}

async function captureWithDefaults(vm: string, image: string) {
  const before = cloud.emu.requests.length
  const run = await runAction({
    // No `deprovision` input: the runner passes action.yml's default.
    inputs: { ...cloud.inputs, 'resource-group': RG, 'source-vm': vm, 'image-name': image },
    env: cloud.env
  })
  return { run, requests: cloud.requestsSince(before) }
}

describe("deprovision: auto (action.yml's default)", () => {
  it('is the default in action.yml', () => {
    expect(actionDefaults().deprovision).toBe('auto')
  })

  it('deprovisions a running VM before deallocating and generalizing it', async () => {
    cloud.emu.addVm({
      resourceGroup: RG,
      name: 'running-vm',
      location: 'westeurope',
      osType: 'Linux'
    })
    const { run, requests } = await captureWithDefaults('running-vm', 'from-running')
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.code).toBe(0)
    const writes = requests.filter(r => r.method !== 'GET')
    const runCommand = writes.findIndex(isRunCommand)
    const deallocate = writes.findIndex(r => /\/deallocate$/.test(r.path))
    expect(runCommand).toBeGreaterThanOrEqual(0)
    expect(JSON.stringify(writes[runCommand].body)).toContain('waagent -force -deprovision+user')
    expect(deallocate).toBeGreaterThan(runCommand)
    expect(warnings(run.main.stdout)).toEqual([])
    expect(run.outputs['image-id']).toMatch(/\/images\/from-running$/)
  })

  it.each(['stopped', 'deallocated'] as const)(
    'goes on without Run Command for a %s VM, warning that the guest must be generalized already',
    async powerState => {
      const name = `${powerState}-vm`
      cloud.emu.addVm({
        resourceGroup: RG,
        name,
        location: 'westeurope',
        osType: 'Windows',
        powerState
      })
      const { run, requests } = await captureWithDefaults(name, `from-${powerState}`)
      expect(errorLines(run.main)).toEqual([])
      expect(run.main.code).toBe(0)
      expect(requests.filter(isRunCommand)).toEqual([])
      expect(requests.some(r => r.method === 'POST' && /\/generalize$/.test(r.path))).toBe(true)
      const warned = warnings(run.main.stdout)
      expect(warned).toHaveLength(1)
      expect(warned[0]).toContain(`VM '${name}' is ${powerState}`)
      expect(warned[0]).toContain('Sysprep')
      expect(warned[0]).toContain('must have been generalized already')
      expect(run.outputs['image-id']).toMatch(new RegExp(`/images/from-${powerState}$`))
    }
  )

  it("'false' never runs the OS's generalization, even on a running VM", async () => {
    cloud.emu.addVm({
      resourceGroup: RG,
      name: 'trusted-vm',
      location: 'westeurope',
      osType: 'Linux'
    })
    const before = cloud.emu.requests.length
    const run = await runAction({
      inputs: {
        ...cloud.inputs,
        'resource-group': RG,
        'source-vm': 'trusted-vm',
        'image-name': 'from-trusted',
        deprovision: 'false'
      },
      env: cloud.env
    })
    expect(run.main.code).toBe(0)
    expect(cloud.requestsSince(before).filter(isRunCommand)).toEqual([])
  })
})
