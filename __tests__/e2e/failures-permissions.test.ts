/**
 * Missing permissions refused before any write, naming the actions; unreadable permissions only warned about.
 * The bundled action on its failure paths against the ARM emulator; evidence is the emulator's
 * request log and what the action wrote.
 */
import { describe, expect, it } from '@jest/globals'
import { errorLines } from '../support/action-runner.js'
import { LOCATION, cloud, imageId, run, useFailureCloud } from '../support/failure-run.js'

useFailureCloud()

describe('permissions', () => {
  it('reports missing permissions before any write, naming the missing actions', async () => {
    cloud.emu.addResourceGroup('readonly-rg', LOCATION)
    cloud.seedVm('ro-vm', { resourceGroup: 'readonly-rg' })
    cloud.emu.setPermissions('readonly-rg', ['Microsoft.Compute/*/read'])
    const before = cloud.emu.requests.length
    const r = await run({
      'resource-group': 'readonly-rg',
      'source-vm': 'ro-vm',
      'image-name': 'ro-img'
    })

    expect(r.main.code).toBe(1)
    expect(cloud.writesSince(before)).toEqual([])
    expect(
      cloud
        .requestsSince(before)
        .filter(q => q.method !== 'GET' && q.path.startsWith('/subscriptions/'))
    ).toEqual([])
    // The permissions were read from Azure.
    expect(
      cloud
        .requestsSince(before)
        .some(q => /\/providers\/Microsoft\.Authorization\/permissions$/.test(q.path))
    ).toBe(true)
    const errors = errorLines(r.main)
    expect(errors).toHaveLength(1)
    // The one error line names what is missing; the log lists each action with the role that grants it.
    for (const action of [
      'Microsoft.Compute/virtualMachines/deallocate/action',
      'Microsoft.Compute/virtualMachines/generalize/action',
      'Microsoft.Compute/images/write'
    ]) {
      expect(errors[0]).toContain(action)
      expect(r.main.stdout).toMatch(new RegExp(`- ${action.replace(/\//g, '\\/')} \\(granted by `))
    }
    expect(errors[0]).not.toContain('Microsoft.Compute/images/read')
    expect(r.main.stdout).toContain('az role assignment create --assignee')
    expect(r.post?.code).toBe(0)
  })

  it('warns and goes on when the permissions cannot be read', async () => {
    cloud.seedVm('perm-vm')
    cloud.emu.faults.add({
      method: 'GET',
      path: /\/providers\/Microsoft\.Authorization\/permissions\?/,
      status: 403,
      code: 'AuthorizationFailed',
      message:
        "The client does not have authorization to perform action 'Microsoft.Authorization/permissions/read' over scope '/subscriptions/x/resourceGroups/build-rg'."
    })
    const before = cloud.emu.requests.length
    const r = await run({ 'source-vm': 'perm-vm', 'image-name': 'perm-img' })

    expect(cloud.emu.faults.pending).toEqual([])
    const permissionReads = cloud
      .requestsSince(before)
      .filter(q => /\/Microsoft\.Authorization\/permissions$/.test(q.path))
    expect(permissionReads.map(q => q.status)).toEqual([403])
    expect(r.main.stdout).toMatch(
      /::warning::Could not read this identity's permissions on .*AuthorizationFailed.*continuing without the permissions preflight/
    )
    expect(errorLines(r.main)).toEqual([])
    expect(r.main.code).toBe(0)
    expect(r.outputs['image-id']).toBe(imageId('perm-img'))
  })
})
