import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import type { ComputeManagementClient } from '@azure/arm-compute'
import { startArmEmulator, type ArmEmulator } from '../emulator/index.js'
import { arm, computeClient, poll, trustEmulator } from './helpers.js'

describe('ARM emulator managed run commands', () => {
  let emu: ArmEmulator
  let client: ComputeManagementClient
  const rg = 'rg-rc'
  let vmPath: string
  beforeAll(async () => {
    emu = await startArmEmulator({ lro: { pollsBeforeDone: 2 } })
    trustEmulator(emu)
    client = computeClient(emu)
    emu.addResourceGroup(rg, 'westus')
    emu.addVm({ resourceGroup: rg, name: 'lin', location: 'westus', osType: 'Linux' })
    emu.addVm({ resourceGroup: rg, name: 'win', location: 'westus', osType: 'Windows' })
    vmPath = `/subscriptions/${emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachines`
  })
  afterAll(async () => emu.close())

  const API = 'api-version=2025-04-01'
  const put = (vm: string, name: string, properties: object) =>
    arm(emu, 'PUT', `${vmPath}/${vm}/runCommands/${name}?${API}`, {
      location: 'westus',
      properties
    })
  const view = async (vm: string, name: string) =>
    (await arm(emu, 'GET', `${vmPath}/${vm}/runCommands/${name}?$expand=instanceView&${API}`)).body

  it('follows a running script: Running with the output so far, then Succeeded', async () => {
    const lines = Array.from({ length: 10 }, (_, i) => `step ${i}\n`).join('')
    emu.addScriptBehaviour({
      marker: '# install-packages',
      stdout: lines,
      polls: 5,
      progressive: true
    })
    const r = await put('lin', 'install', {
      source: { script: '#!/bin/bash\n# install-packages\napt-get -y upgrade' }
    })
    expect(r.status).toBe(201)
    expect(r.body.properties.provisioningState).toBe('Creating')
    expect(r.headers.get('azure-asyncoperation')).toMatch(/\/operations\//)
    const seen: { state: string; output: string }[] = []
    for (;;) {
      const v = (await view('lin', 'install')).properties.instanceView
      seen.push({ state: v.executionState, output: v.output })
      if (v.executionState !== 'Running' && v.executionState !== 'Pending') break
    }
    expect(seen[0].state).toBe('Running')
    expect(seen.at(-1)).toEqual({ state: 'Succeeded', output: lines })
    const running = seen.filter(s => s.state === 'Running').map(s => s.output)
    expect(running.length).toBeGreaterThan(2)
    // Output grows while it runs, each a prefix of the final text.
    for (const o of running) expect(lines.startsWith(o)).toBe(true)
    expect(new Set(running).size).toBeGreaterThan(1)
    const done = (await view('lin', 'install')).properties.instanceView
    expect(done).toMatchObject({
      executionState: 'Succeeded',
      executionMessage: 'Execution completed',
      exitCode: 0,
      error: '',
      startTime: expect.any(String),
      endTime: expect.any(String)
    })
  })

  it('shows no output before the end for a script that prints at the end, and keeps only the last 4 KiB', async () => {
    const big = 'x'.repeat(6000) + 'END\n'
    emu.addScriptBehaviour({ marker: '# big-output', stdout: big, stderr: 'warn\n', polls: 3 })
    expect((await put('lin', 'quiet', { source: { script: '# big-output' } })).status).toBe(201)
    const whileRunning = (await view('lin', 'quiet')).properties.instanceView
    expect(whileRunning).toMatchObject({ executionState: 'Running', output: '', error: '' })
    const created = await client.virtualMachineRunCommands.createOrUpdate(
      rg,
      'lin',
      'big',
      { location: 'westus', source: { script: '# big-output' } },
      poll
    )
    expect(created.provisioningState).toBe('Succeeded')
    const v = (
      await client.virtualMachineRunCommands.getByVirtualMachine(rg, 'lin', 'big', {
        expand: 'instanceView'
      })
    ).instanceView!
    expect(v.output).toBe(big.slice(-4096))
    expect(v.error).toBe('warn\n')
  })

  it('reports a non-zero exit as Failed; the deployment fails only with treatFailureAsDeploymentFailure', async () => {
    emu.addScriptBehaviour({
      marker: '# broken',
      exitCode: 2,
      stderr: 'E: Unable to locate package nope\n'
    })
    const ok = await client.virtualMachineRunCommands.createOrUpdate(
      rg,
      'lin',
      'broken',
      { location: 'westus', source: { script: 'apt-get install nope # broken' } },
      poll
    )
    expect(ok.provisioningState).toBe('Succeeded')
    const v = (await view('lin', 'broken')).properties.instanceView
    expect(v).toMatchObject({
      executionState: 'Failed',
      exitCode: 2,
      executionMessage:
        'Execution failed: failed to execute command: command terminated with exit status=2',
      error: 'E: Unable to locate package nope\n'
    })
    await expect(
      client.virtualMachineRunCommands.createOrUpdate(
        rg,
        'lin',
        'broken-strict',
        {
          location: 'westus',
          source: { script: '# broken' },
          treatFailureAsDeploymentFailure: true
        },
        poll
      )
    ).rejects.toThrow(/VMExtensionProvisioningError/)
    expect((await view('lin', 'broken-strict')).properties.provisioningState).toBe('Failed')
  })

  it('completes the deployment at once with asyncExecution while the script runs on', async () => {
    emu.addScriptBehaviour({ marker: '# long-job', polls: 20 })
    const rc = await client.virtualMachineRunCommands.createOrUpdate(
      rg,
      'lin',
      'long',
      { location: 'westus', source: { script: '# long-job' }, asyncExecution: true },
      poll
    )
    expect(rc.provisioningState).toBe('Succeeded')
    expect((await view('lin', 'long')).properties.instanceView.executionState).toBe('Running')
  })

  it('kills a script at timeoutInSeconds: Failed with exit status -1, as the Linux handler reports it', async () => {
    emu.addScriptBehaviour({
      marker: '# hangs',
      polls: Infinity,
      stdout: 'waiting\n',
      progressive: true
    })
    // 30 s = two status reports of 15 s.
    const r = await put('lin', 'hang', { source: { script: '# hangs' }, timeoutInSeconds: 30 })
    expect(r.status).toBe(201)
    let v
    for (let i = 0; i < 10; i++) {
      v = (await view('lin', 'hang')).properties.instanceView
      if (v.executionState !== 'Running' && v.executionState !== 'Pending') break
    }
    expect(v).toMatchObject({
      executionState: 'Failed',
      exitCode: -1,
      executionMessage:
        'Execution failed: failed to execute command: command terminated with exit status=-1'
    })
  })

  it('leaves /var/run/reboot-required until a restart; the check reads it; Windows 3010 is an exit code', async () => {
    emu.addScriptBehaviour({ marker: '# kernel-update', leavesRebootRequired: true })
    const check = async (name: string) => {
      await client.virtualMachineRunCommands.createOrUpdate(
        rg,
        'lin',
        name,
        { location: 'westus', source: { script: 'test -f /var/run/reboot-required' } },
        poll
      )
      return (await view('lin', name)).properties.instanceView.exitCode
    }
    expect(await check('check0')).toBe(1)
    await client.virtualMachineRunCommands.createOrUpdate(
      rg,
      'lin',
      'kernel',
      { location: 'westus', source: { script: '# kernel-update' } },
      poll
    )
    expect(await check('check1')).toBe(0)
    const vmId = `${vmPath}/lin`
    expect(emu.resources.state(vmId)).toMatchObject({ rebootRequired: true })
    const before = new Date()
    await client.virtualMachines.restart(rg, 'lin', poll)
    const agent = (await client.virtualMachines.instanceView(rg, 'lin')).vmAgent?.statuses?.[0]
    expect(agent).toMatchObject({ code: 'ProvisioningState/succeeded', displayStatus: 'Ready' })
    expect(new Date(agent!.time!).getTime()).toBeGreaterThanOrEqual(before.getTime() - 1000)
    expect(emu.resources.state(vmId)).toMatchObject({
      rebootRequired: false,
      restarts: 1,
      powerState: 'running'
    })
    expect(await check('check2')).toBe(1)

    emu.addScriptBehaviour({
      marker: '# windows-update',
      exitCode: 3010,
      stdout: 'Restart required\r\n'
    })
    await client.virtualMachineRunCommands.createOrUpdate(
      rg,
      'win',
      'wu',
      { location: 'westus', source: { script: '# windows-update' } },
      poll
    )
    expect((await view('win', 'wu')).properties.instanceView).toMatchObject({
      executionState: 'Failed',
      exitCode: 3010
    })
  })

  it('lists and deletes run commands, keeps secrets out of the body, and allows 25 per VM', async () => {
    const r = await put('win', 'secret', {
      source: { script: 'Write-Host hi' },
      protectedParameters: [{ name: 'token', value: 'hunter2' }],
      runAsPassword: 'P@ss-word-1'
    })
    expect(JSON.stringify(r.body)).not.toMatch(/hunter2|P@ss-word-1/)
    const all = []
    for await (const rc of client.virtualMachineRunCommands.listByVirtualMachine(rg, 'win'))
      all.push(rc.name)
    expect(all).toEqual(expect.arrayContaining(['wu', 'secret']))
    await client.virtualMachineRunCommands.delete(rg, 'win', 'secret', poll)
    await expect(
      client.virtualMachineRunCommands.getByVirtualMachine(rg, 'win', 'secret')
    ).rejects.toMatchObject({ statusCode: 404 })

    emu.addVm({ resourceGroup: rg, name: 'full', location: 'westus', osType: 'Linux' })
    for (let i = 0; i < 25; i++)
      expect((await put('full', `rc${i}`, { source: { script: 'true' } })).status).toBe(201)
    const refused = await put('full', 'rc25', { source: { script: 'true' } })
    expect(refused.status).toBe(409)
    expect(refused.body.error.message).toMatch(
      /^The maximum number of managed Run commands \(max=25, current=25\) has been exceeded\./
    )
  })

  it('deletes a VM with a script still running and leaves none of its run commands behind', async () => {
    emu.addVm({ resourceGroup: rg, name: 'gone', location: 'westus', osType: 'Linux' })
    emu.addScriptBehaviour({ marker: '# forever', polls: Infinity })
    expect((await put('gone', 'busy', { source: { script: '# forever' } })).status).toBe(201)
    expect((await view('gone', 'busy')).properties.instanceView.executionState).toBe('Running')
    await client.virtualMachines.delete(rg, 'gone', poll)
    expect(
      emu.resources
        .list('Microsoft.Compute/virtualMachines/runCommands')
        .filter(rc => String(rc.id).includes('/virtualMachines/gone/'))
    ).toEqual([])
  })

  it('refuses a run command on a stopped VM', async () => {
    emu.addVm({
      resourceGroup: rg,
      name: 'off',
      location: 'westus',
      osType: 'Linux',
      powerState: 'deallocated'
    })
    const r = await put('off', 'x', { source: { script: 'true' } })
    expect(r.status).toBe(409)
    expect(r.body.error.message).toBe(
      'The operation requires the VM to be running (or set to run).'
    )
    const restart = await arm(emu, 'POST', `${vmPath}/off/restart?${API}`)
    expect(restart.status).toBe(409)
  })
})
