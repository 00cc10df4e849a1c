/**
 * The permissions preflight for a gallery target: roles on the gallery alone count, write on the
 * source VM is required, and a gallery that cannot be read leads to a warning, not a refusal.
 * The bundled action, run as the runner runs it, against the ARM emulator; evidence is what the
 * emulator received and what the action wrote.
 */
import { beforeAll, describe, expect, it } from '@jest/globals'
import { errorLines } from '../support/action-runner.js'
import {
  LOCATION,
  cloud,
  publish,
  expectSuccess,
  versionPuts,
  useGalleryCloud
} from '../support/gallery-run.js'

useGalleryCloud()

// shared-image-galleries.md "RBAC Permissions required to create an ACG Image": a version from a
// VM needs write on the VM; azure-compute-gallery.md recommends sharing at the gallery level, so
// roles assigned on the gallery alone must count. The emulator answers Permissions - List at each
// scope with the grants at and above it, as Azure's Microsoft.Authorization/permissions does.
describe('permissions preflight', () => {
  const PRG = 'perm-rg'
  const SCOPE = (type: string, name: string): string =>
    `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/${PRG}/providers/Microsoft.Compute/${type}/${name}`
  const VM_ROLE = [
    'Microsoft.Resources/subscriptions/resourceGroups/read',
    'Microsoft.Compute/virtualMachines/*',
    'Microsoft.Compute/disks/read',
    'Microsoft.Compute/locations/*/read'
  ]

  beforeAll(() => {
    cloud.emu.addResourceGroup(PRG, LOCATION)
  })

  function seedPermGallery(gallery: string, definition: string): void {
    cloud.emu.addGallery(PRG, gallery, LOCATION)
    cloud.emu.addGalleryImage({
      resourceGroup: PRG,
      gallery,
      name: definition,
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V2'
    })
    cloud.emu.addVm({
      resourceGroup: PRG,
      name: `${gallery}-vm`,
      location: LOCATION,
      osType: 'Linux',
      hyperVGeneration: 'V2'
    })
  }

  it('counts a role assigned only on the gallery, invisible at its resource group', async () => {
    seedPermGallery('role_on_gallery', 'def')
    cloud.emu.setPermissions(PRG, VM_ROLE)
    cloud.emu.setPermissions(SCOPE('galleries', 'role_on_gallery'), [
      'Microsoft.Compute/galleries/*',
      'Microsoft.Compute/locations/capsOperations/read'
    ])
    const before = cloud.emu.requests.length
    const run = await publish(
      'role_on_gallery-vm',
      'def',
      { 'resource-group': PRG, gallery: 'role_on_gallery', 'gallery-image-version': '1.0.0' },
      { runId: '7700001' }
    )
    expectSuccess(run)
    // Read where the role is: at the gallery itself.
    expect(
      cloud
        .requestsSince(before)
        .some(
          q =>
            q.path.replace(/\/+/g, '/').toLowerCase() ===
            `${SCOPE('galleries', 'role_on_gallery')}/providers/Microsoft.Authorization/permissions`.toLowerCase()
        )
    ).toBe(true)
    expect(versionPuts(cloud.writesSince(before))).toHaveLength(1)
  })

  it('refuses before any write when the identity may not write the VM a version is made from', async () => {
    seedPermGallery('no_vm_write', 'def')
    cloud.emu.setPermissions(PRG, ['*'], ['Microsoft.Compute/virtualMachines/write'])
    const before = cloud.emu.requests.length
    const run = await publish(
      'no_vm_write-vm',
      'def',
      { 'resource-group': PRG, gallery: 'no_vm_write', 'gallery-image-version': '1.0.0' },
      { runId: '7700002' }
    )
    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain('Microsoft.Compute/virtualMachines/write')
    expect(cloud.writesSince(before)).toEqual([])
  })

  it('warns, and goes on, when a permission seems missing only at the resource group because the gallery could not be read', async () => {
    cloud.emu.addVm({
      resourceGroup: PRG,
      name: 'new-gallery-vm',
      location: LOCATION,
      osType: 'Linux',
      hyperVGeneration: 'V2'
    })
    // Its permissions at the gallery cannot be read (injected 403), so the group's are read instead.
    cloud.emu.setPermissions(PRG, ['*'], ['Microsoft.Compute/galleries/write'])
    cloud.emu.faults.add({
      method: 'GET',
      path: /\/galleries\/created_here\/providers\/Microsoft\.Authorization\/permissions/i,
      status: 403,
      code: 'AuthorizationFailed',
      message: 'The client does not have authorization to perform action here.'
    })
    const run = await publish(
      'new-gallery-vm',
      'def',
      {
        'resource-group': PRG,
        gallery: 'created_here',
        'create-gallery-image': 'true',
        'gallery-image-version': '1.0.0'
      },
      { runId: '7700003' }
    )
    expect(run.main.stdout).toMatch(
      /::warning::.*Microsoft\.Compute\/galleries\/write.*as far as resource group 'perm-rg' shows/
    )
    // The emulator does not enforce roles, so the run then succeeds.
    expectSuccess(run)
  })
})
