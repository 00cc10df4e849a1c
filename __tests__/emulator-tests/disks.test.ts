import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { AnonymousCredential, PageBlobClient } from '@azure/storage-blob'
import type { ComputeManagementClient } from '@azure/arm-compute'
import { startArmEmulator, type ArmEmulator } from '../emulator/index.js'
import { arm, computeClient, poll, trustEmulator } from './helpers.js'
import { startAzurite, type AzuriteInstance } from '../support/azurite.js'

// Azurite's well-known development account.
const ACCOUNT = 'devstoreaccount1'
const KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
const MiB = 1024 * 1024

describe('ARM emulator managed-disk direct upload (with Azurite)', () => {
  let emu: ArmEmulator
  let client: ComputeManagementClient
  let azurite: AzuriteInstance
  const rg = 'rg-up'

  beforeAll(async () => {
    // The shared launcher: a free port, a temp folder, and a stop that waits for the exit.
    azurite = await startAzurite()
    const blobEndpoint = azurite.blobEndpoint
    emu = await startArmEmulator({
      storage: { blobEndpoint, accountName: ACCOUNT, accountKey: KEY }
    })
    trustEmulator(emu)
    client = computeClient(emu)
    emu.addResourceGroup(rg, 'westus')
  })
  afterAll(async () => {
    await emu?.close()
    await azurite?.stop()
  })

  it('validates uploadSizeBytes with Azure messages', async () => {
    const put = (size: number) =>
      client.disks.createOrUpdate(
        rg,
        'bad',
        { location: 'westus', creationData: { createOption: 'Upload', uploadSizeBytes: size } },
        poll
      )
    await expect(put(20 * MiB)).rejects.toMatchObject({
      code: 'BadRequest',
      message: expect.stringMatching(/must be between/)
    })
    await expect(put(32 * MiB + 1024)).rejects.toMatchObject({
      message: expect.stringMatching(/must be a multiple of MiB/)
    })
  })

  it('uploads through a real SAS, then revokes, images and deletes', async () => {
    const size = 20 * MiB + 512
    const disk = await client.disks.createOrUpdate(
      rg,
      'up1',
      {
        location: 'westus',
        osType: 'Linux',
        hyperVGeneration: 'V2',
        creationData: { createOption: 'Upload', uploadSizeBytes: size }
      },
      poll
    )
    expect(disk.diskState).toBe('ReadyToUpload')
    const access = await client.disks.grantAccess(
      rg,
      'up1',
      { access: 'Write', durationInSeconds: 600 },
      poll
    )
    expect(access.accessSAS).toMatch(/sig=/)
    const diskId = disk.id!
    expect(emu.resources.get(diskId)?.properties.diskState).toBe('ActiveUpload')

    const blob = new PageBlobClient(access.accessSAS!, new AnonymousCredential())
    expect((await blob.getProperties()).contentLength).toBe(size)
    const data = Buffer.alloc(4 * MiB, 7)
    await blob.uploadPages(data, 0, data.length)

    await expect(client.disks.delete(rg, 'up1', poll)).rejects.toMatchObject({
      code: 'OperationNotAllowed'
    })
    const img = await arm(
      emu,
      'PUT',
      `/subscriptions/${emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Compute/images/early?api-version=2026-04-01`,
      {
        location: 'westus',
        properties: {
          storageProfile: {
            osDisk: { osType: 'Linux', osState: 'Generalized', managedDisk: { id: diskId } }
          }
        }
      }
    )
    expect(img.body.error.code).toBe('OperationNotAllowed')

    // No VHD footer yet: Azure refuses to revoke and the disk stays ActiveUpload.
    await expect(client.disks.revokeAccess(rg, 'up1', poll)).rejects.toMatchObject({
      statusCode: 400,
      code: 'InvalidVhd',
      message: expect.stringMatching(
        /^The specified cookie value in VHD footer indicates that disk 'abcd' with blob \S+ is not a supported VHD\. Disk is expected to have cookie value 'conectix'\.$/
      )
    })
    expect(emu.resources.get(diskId)?.properties.diskState).toBe('ActiveUpload')
    // Only the cookie is checked (the one field the quoted reply names).
    const footer = Buffer.alloc(512)
    footer.write('conectix', 0, 'latin1')
    await blob.uploadPages(footer, size - 512, 512)
    await client.disks.revokeAccess(rg, 'up1', poll)
    expect(emu.resources.get(diskId)?.properties.diskState).toBe('Unattached')

    const down = await emu.diskBlobClient(diskId).downloadToBuffer(0, data.length)
    expect(createHash('sha256').update(down).digest('hex')).toBe(
      createHash('sha256').update(data).digest('hex')
    )

    const image = await client.images.createOrUpdate(
      rg,
      'from-disk',
      {
        location: 'westus',
        storageProfile: {
          osDisk: { osType: 'Linux', osState: 'Generalized', managedDisk: { id: diskId } }
        }
      },
      poll
    )
    expect(image.hyperVGeneration).toBe('V2')

    await client.disks.delete(rg, 'up1', poll)
    expect(emu.resources.get(diskId)).toBeUndefined()
    expect(await blob.exists().catch(() => false)).toBe(false)
  })

  it('refuses a managed image from an Arm64 disk (x64 only), at the PUT', async () => {
    const disk = await client.disks.createOrUpdate(
      rg,
      'arm',
      {
        location: 'westus',
        osType: 'Linux',
        supportedCapabilities: { architecture: 'Arm64' },
        creationData: { createOption: 'Empty' },
        diskSizeGB: 1
      },
      poll
    )
    expect(disk.supportedCapabilities?.architecture).toBe('Arm64')
    const img = await arm(
      emu,
      'PUT',
      `/subscriptions/${emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Compute/images/arm?api-version=2026-04-01`,
      {
        location: 'westus',
        properties: {
          storageProfile: {
            osDisk: { osType: 'Linux', osState: 'Generalized', managedDisk: { id: disk.id } }
          }
        }
      }
    )
    expect(img.status).toBe(409)
    expect(img.body.error).toEqual({
      code: 'OperationNotAllowed',
      message:
        "Creating an image with managedDisk source that has CPU Architecture 'Arm64' is not supported. Please select a source resource with a supported CPU Architecture: 'x64'."
    })
  })

  it('snapshots a VM disk and serves storage accounts and permissions', async () => {
    const vm = emu.addVm({
      resourceGroup: rg,
      name: 'vm',
      location: 'westus',
      osType: 'Windows',
      dataDisks: 1
    })
    const osDiskId = vm.properties.storageProfile.osDisk.managedDisk.id
    const snap = await client.snapshots.createOrUpdate(
      rg,
      'snap',
      {
        location: 'westus',
        incremental: true,
        creationData: { createOption: 'Copy', sourceResourceId: osDiskId }
      },
      poll
    )
    expect(snap.provisioningState).toBe('Succeeded')
    expect(snap.osType).toBe('Windows')

    emu.addStorageAccount(rg, 'acct')
    const sa = await arm(
      emu,
      'GET',
      `/subscriptions/${emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Storage/storageAccounts/acct?api-version=2025-01-01`
    )
    expect(sa.body.properties.primaryEndpoints.blob).toMatch(/devstoreaccount1\/$/)
    const keys = await arm(
      emu,
      'POST',
      `/subscriptions/${emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Storage/storageAccounts/acct/listKeys?api-version=2025-01-01`
    )
    expect(keys.body.keys[0].value).toBe(KEY)
    emu.setPermissions(rg, ['Microsoft.Compute/*/read'], [])
    const perms = await arm(
      emu,
      'GET',
      `/subscriptions/${emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Authorization/permissions?api-version=2022-04-01`
    )
    expect(perms.body.value[0].actions).toEqual(['Microsoft.Compute/*/read'])
  })
})
