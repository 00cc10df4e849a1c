import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { generateKeyPairSync } from 'node:crypto'
import type { ComputeManagementClient, VirtualMachine } from '@azure/arm-compute'
import { startArmEmulator, type ArmEmulator, type MarketplaceImageSeed } from '../emulator/index.js'
import { arm, computeClient, poll, trustEmulator } from './helpers.js'

/** An OpenSSH public key line built from a generated key (RSA of `bits`, or Ed25519). */
function sshKey(kind: 'rsa' | 'ed25519', bits = 2048): string {
  const field = (b: Buffer): Buffer => {
    const len = Buffer.alloc(4)
    len.writeUInt32BE(b.length)
    return Buffer.concat([len, b])
  }
  if (kind === 'ed25519') {
    const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' })
    const blob = Buffer.concat([
      field(Buffer.from('ssh-ed25519')),
      field(Buffer.from(jwk.x!, 'base64url'))
    ])
    return `ssh-ed25519 ${blob.toString('base64')} test`
  }
  const jwk = generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({
    format: 'jwk'
  })
  const mpint = (v: string): Buffer => {
    const b = Buffer.from(v, 'base64url')
    return field(b[0] & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b)
  }
  const blob = Buffer.concat([field(Buffer.from('ssh-rsa')), mpint(jwk.e!), mpint(jwk.n!)])
  return `ssh-rsa ${blob.toString('base64')} test`
}

const planImage: MarketplaceImageSeed = {
  publisher: 'vendor',
  offer: 'appliance',
  sku: 'plan1',
  versions: ['1.0.0'],
  osType: 'Linux',
  plan: { name: 'plan1', product: 'appliance', publisher: 'vendor' }
}

describe('ARM emulator VM creation from an image', () => {
  let emu: ArmEmulator
  let client: ComputeManagementClient
  const rg = 'rg-build'
  const key = sshKey('rsa')
  let subnetId: string
  let nicN = 0

  beforeAll(async () => {
    emu = await startArmEmulator({ lro: { networkRetryAfterSeconds: 0 } })
    trustEmulator(emu)
    client = computeClient(emu)
    emu.addResourceGroup(rg, 'westus')
    const vnet = emu.addVirtualNetwork({ resourceGroup: rg, name: 'vnet', location: 'westus' })
    subnetId = `${vnet.id}/subnets/default`
    emu.addMarketplaceImage({
      publisher: 'Canonical',
      offer: 'ubuntu-24_04-lts',
      sku: 'server',
      versions: ['24.04.202609100', '24.04.202611250', '24.04.20261020'],
      osType: 'Linux',
      hyperVGeneration: 'V2',
      securityType: 'TrustedLaunchSupported'
    })
    emu.addMarketplaceImage({
      publisher: 'Canonical',
      offer: 'ubuntu-24_04-lts',
      sku: 'server-gen1',
      versions: ['24.04.202611250'],
      osType: 'Linux'
    })
    emu.addMarketplaceImage({
      publisher: 'Canonical',
      offer: 'ubuntu-24_04-lts',
      sku: 'server-arm64',
      versions: ['24.04.202611250'],
      osType: 'Linux',
      hyperVGeneration: 'V2',
      architecture: 'Arm64'
    })
    emu.addMarketplaceImage({
      publisher: 'MicrosoftWindowsServer',
      offer: 'WindowsServer',
      sku: '2022-datacenter-azure-edition',
      versions: ['20348.2700.240905'],
      osType: 'Windows',
      hyperVGeneration: 'V2',
      securityType: 'TrustedLaunchSupported'
    })
    emu.addMarketplaceImage(planImage)
  })
  afterAll(async () => emu.close())

  /** A fresh NIC in the seeded subnet (the NIC PUT goes through the emulator like the action's). */
  async function nic(): Promise<string> {
    const path = `/subscriptions/${emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Network/networkInterfaces/nic${++nicN}?api-version=2026-01-01`
    const r = await arm(emu, 'PUT', path, {
      location: 'westus',
      properties: {
        ipConfigurations: [{ name: 'ipconfig1', properties: { subnet: { id: subnetId } } }]
      }
    })
    expect(r.status).toBe(201)
    return r.body.id
  }

  async function linuxVm(
    name: string,
    over: {
      sku?: string
      version?: string
      size?: string
      trusted?: boolean
      nicId?: string
      keyData?: string
      user?: string
    } = {}
  ): Promise<VirtualMachine> {
    return {
      location: 'westus',
      hardwareProfile: { vmSize: over.size ?? 'Standard_D2s_v5' },
      storageProfile: {
        imageReference: {
          publisher: 'Canonical',
          offer: 'ubuntu-24_04-lts',
          sku: over.sku ?? 'server',
          version: over.version ?? 'latest'
        },
        osDisk: {
          createOption: 'FromImage',
          deleteOption: 'Delete',
          managedDisk: { storageAccountType: 'Premium_LRS' }
        }
      },
      osProfile: {
        computerName: name,
        adminUsername: over.user ?? 'builder',
        linuxConfiguration: {
          disablePasswordAuthentication: true,
          ssh: {
            publicKeys: [
              {
                path: `/home/${over.user ?? 'builder'}/.ssh/authorized_keys`,
                keyData: over.keyData ?? key
              }
            ]
          }
        }
      },
      networkProfile: {
        networkInterfaces: [
          { id: over.nicId ?? (await nic()), primary: true, deleteOption: 'Delete' }
        ]
      },
      ...(over.trusted === false
        ? {}
        : {
            securityProfile: {
              securityType: 'TrustedLaunch',
              uefiSettings: { secureBootEnabled: true, vTpmEnabled: true }
            }
          })
    }
  }

  it('creates a Trusted Launch VM from the numerically newest Marketplace version, then deletes its disk and NIC with it', async () => {
    const params = await linuxVm('vm1')
    const nicId = params.networkProfile!.networkInterfaces![0].id!
    const vm = await client.virtualMachines.createOrUpdate(rg, 'vm1', params, poll)
    expect(vm.provisioningState).toBe('Succeeded')
    // 24.04.202611250 > 24.04.202609100 > 24.04.20261020 as version numbers.
    expect(vm.storageProfile?.imageReference?.exactVersion).toBe('24.04.202611250')
    expect(vm.osProfile?.adminPassword).toBeUndefined()
    const put = emu.writes().find(w => w.method === 'PUT' && /virtualMachines\/vm1$/.test(w.path))!
    expect(put.status).toBe(201)
    const disk = emu.resources.get(vm.storageProfile!.osDisk!.managedDisk!.id!)!
    expect(disk.properties).toMatchObject({
      osType: 'Linux',
      hyperVGeneration: 'V2',
      supportedCapabilities: { architecture: 'x64' },
      securityProfile: { securityType: 'TrustedLaunch' },
      diskState: 'Attached',
      diskSizeGB: 30
    })
    expect(emu.resources.get(nicId)!.properties.virtualMachine).toEqual({ id: vm.id })
    const view = await client.virtualMachines.instanceView(rg, 'vm1')
    expect(view.statuses?.map(s => s.code)).toContain('PowerState/running')
    expect(view.vmAgent?.vmAgentVersion).not.toBe('Unknown')

    // The NIC cannot go while the VM has it.
    const nicDel = await arm(emu, 'DELETE', `${nicId}?api-version=2026-01-01`)
    expect(nicDel.status).toBe(400)
    expect(nicDel.body.error.code).toBe('NicInUse')

    await client.virtualMachines.delete(rg, 'vm1', poll)
    expect(emu.resources.get(disk.id)).toBeUndefined()
    expect(emu.resources.get(nicId)).toBeUndefined()
  })

  it('leaves the disk and NIC, unattached, when deleteOption is the default Detach', async () => {
    const params = await linuxVm('vm2')
    delete params.storageProfile!.osDisk!.deleteOption
    delete params.networkProfile!.networkInterfaces![0].deleteOption
    const vm = await client.virtualMachines.createOrUpdate(rg, 'vm2', params, poll)
    expect(vm.storageProfile?.osDisk?.deleteOption).toBe('Detach')
    await client.virtualMachines.delete(rg, 'vm2', poll)
    const disk = emu.resources.get(vm.storageProfile!.osDisk!.managedDisk!.id!)!
    expect(disk.properties.diskState).toBe('Unattached')
    const nicBody = emu.resources.get(vm.networkProfile!.networkInterfaces![0].id!)!
    expect(nicBody.properties.virtualMachine).toBeUndefined()
  })

  it('refuses bad admin names, SSH keys and passwords at the request with InvalidParameter', async () => {
    const cases: [string, Promise<VirtualMachine>, string, string][] = [
      [
        'u1',
        linuxVm('u1', { user: 'admin' }),
        'adminUsername',
        'The Admin Username specified is not allowed.'
      ],
      [
        'u2',
        linuxVm('u2', { user: 'x'.repeat(65) }),
        'adminUsername',
        'The Admin Username specified is not allowed.'
      ],
      [
        'k1',
        linuxVm('k1', { keyData: sshKey('rsa', 1024) }),
        'linuxConfiguration.ssh.publicKeys.keyData',
        'The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid.'
      ],
      [
        'k2',
        linuxVm('k2', { keyData: 'not a key' }),
        'linuxConfiguration.ssh.publicKeys.keyData',
        'The value of parameter linuxConfiguration.ssh.publicKeys.keyData is invalid.'
      ]
    ]
    for (const [name, params, target, message] of cases) {
      await expect(
        client.virtualMachines.createOrUpdate(rg, name, await params, poll)
      ).rejects.toMatchObject({
        statusCode: 400,
        code: 'InvalidParameter',
        message
      })
      // Refused at the request: 400 on the PUT itself, nothing stored.
      const put = emu.writes().filter(w => w.path.endsWith(`/virtualMachines/${name}`))
      expect(put.map(w => w.status)).toEqual([400])
      expect(emu.resources.get(put[0].path)).toBeUndefined()
      expect(put[0].body).toMatchObject({ properties: { osProfile: expect.anything() } })
      void target
    }
    // Ed25519 keys are taken.
    const ed = await client.virtualMachines.createOrUpdate(
      rg,
      'ked',
      await linuxVm('ked', { keyData: sshKey('ed25519') }),
      poll
    )
    expect(ed.provisioningState).toBe('Succeeded')

    const windows = async (password: string, user = 'builder'): Promise<VirtualMachine> => ({
      location: 'westus',
      hardwareProfile: { vmSize: 'Standard_D2s_v5' },
      storageProfile: {
        imageReference: {
          publisher: 'MicrosoftWindowsServer',
          offer: 'WindowsServer',
          sku: '2022-datacenter-azure-edition',
          version: 'latest'
        }
      },
      osProfile: { computerName: 'win', adminUsername: user, adminPassword: password },
      networkProfile: { networkInterfaces: [{ id: await nic() }] }
    })
    for (const weak of ['short1A', 'alllowercaseletters', 'P@ssw0rd']) {
      const r = await arm(
        emu,
        'PUT',
        `/subscriptions/${emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Compute/virtualMachines/win?api-version=2025-04-01`,
        {
          location: 'westus',
          properties: await windows(weak)
        }
      )
      expect(r.status).toBe(400)
      expect(r.body.error).toEqual({
        code: 'InvalidParameter',
        target: 'adminPassword',
        message:
          'The supplied password must be between 8-123 characters long and must satisfy at least 3 of password complexity requirements from the following: \r\n1) Contains an uppercase character\r\n2) Contains a lowercase character\r\n3) Contains a numeric digit\r\n4) Contains a special character.'
      })
    }
    await expect(
      client.virtualMachines.createOrUpdate(
        rg,
        'win',
        await windows('Str0ng-and-long!', 'a'.repeat(21)),
        poll
      )
    ).rejects.toMatchObject({
      code: 'InvalidParameter',
      message: 'The Admin Username specified is not allowed.'
    })
    const win = await client.virtualMachines.createOrUpdate(
      rg,
      'win',
      await windows('Str0ng-and-long!'),
      poll
    )
    expect(win.storageProfile?.osDisk?.osType).toBe('Windows')
    expect(
      emu.resources.get(win.storageProfile!.osDisk!.managedDisk!.id!)!.properties.diskSizeGB
    ).toBe(127)
  })

  it('refuses sizes, generations, architectures and Trusted Launch the way Azure does', async () => {
    emu.addVmSize({
      name: 'Standard_NoTL_v2',
      family: 'standardNoTLFamily',
      vCPUs: 2,
      memoryGB: 8,
      architecture: 'x64',
      hyperVGenerations: ['V1', 'V2'],
      trustedLaunchDisabled: true
    })
    emu.addVmSize({
      name: 'Standard_Busy_v5',
      family: 'standardDSv5Family',
      vCPUs: 2,
      memoryGB: 8,
      architecture: 'x64',
      hyperVGenerations: ['V1', 'V2'],
      notAvailableIn: ['westus']
    })
    const cases: [string, Promise<VirtualMachine>, number, string, RegExp][] = [
      [
        's1',
        linuxVm('s1', { size: 'Standard_Nope' }),
        400,
        'InvalidParameter',
        /^The value Standard_Nope provided for the VM size is not valid\. The valid sizes in the current region are: .*Standard_D2s_v5/
      ],
      [
        's2',
        linuxVm('s2', { size: 'Standard_Busy_v5' }),
        409,
        'SkuNotAvailable',
        /Following SKUs have failed for Capacity Restrictions: Standard_Busy_v5' is currently not available in location 'westus'/
      ],
      [
        'g1',
        linuxVm('g1', { size: 'Standard_A2_v2' }),
        400,
        'BadRequest',
        /^The selected VM size 'Standard_A2_v2' cannot boot Hypervisor Generation '2'\. /
      ],
      [
        'a1',
        linuxVm('a1', { sku: 'server-arm64', trusted: false }),
        400,
        'BadRequest',
        /CPU Architecture 'Arm64'/
      ],
      [
        't1',
        linuxVm('t1', { sku: 'server-gen1' }),
        400,
        'BadRequest',
        /^Use of TrustedLaunch setting is not supported for the provided image\./
      ],
      [
        't2',
        linuxVm('t2', { size: 'Standard_NoTL_v2' }),
        400,
        'BadRequest',
        /^The VM size 'Standard_NoTL_v2' is not supported for creation of VMs and Virtual Machine Scale Set with 'TrustedLaunch' security type\./
      ],
      [
        'i1',
        linuxVm('i1', { version: '24.04.1' }),
        404,
        'ImageNotFound',
        /^The platform image 'Canonical:ubuntu-24_04-lts:server:24\.04\.1' is not available\./
      ]
    ]
    for (const [name, params, statusCode, code, message] of cases)
      await expect(
        client.virtualMachines.createOrUpdate(rg, name, await params, poll)
      ).rejects.toMatchObject({
        statusCode,
        code,
        message: expect.stringMatching(message)
      })
    // Arm64 works on an Arm64 size.
    const arm64 = await client.virtualMachines.createOrUpdate(
      rg,
      'a2',
      await linuxVm('a2', { sku: 'server-arm64', trusted: false, size: 'Standard_D2ps_v5' }),
      poll
    )
    expect(
      emu.resources.get(arm64.storageProfile!.osDisk!.managedDisk!.id!)!.properties
        .supportedCapabilities
    ).toEqual({ architecture: 'Arm64' })
    // A disk smaller than the image's.
    const small = await linuxVm('d1')
    small.storageProfile!.osDisk!.diskSizeGB = 16
    await expect(
      client.virtualMachines.createOrUpdate(rg, 'd1', small, poll)
    ).rejects.toMatchObject({
      statusCode: 409,
      code: 'OperationNotAllowed',
      message:
        'The specified disk size 16 GB is smaller than the size of the corresponding disk in the VM image: 30 GB. This is not allowed. Please choose equal or greater size or do not specify an explicit size.'
    })
  })

  it('needs an existing, free NIC in the region', async () => {
    const missing = `/subscriptions/${emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Network/networkInterfaces/nope`
    await expect(
      client.virtualMachines.createOrUpdate(rg, 'n1', await linuxVm('n1', { nicId: missing }), poll)
    ).rejects.toMatchObject({
      statusCode: 404,
      code: 'ResourceNotFound'
    })
    const shared = await nic()
    await client.virtualMachines.createOrUpdate(
      rg,
      'n2',
      await linuxVm('n2', { nicId: shared }),
      poll
    )
    await expect(
      client.virtualMachines.createOrUpdate(rg, 'n3', await linuxVm('n3', { nicId: shared }), poll)
    ).rejects.toMatchObject({
      statusCode: 400,
      code: 'NicInUse'
    })
  })

  it('checks a purchase plan: terms at the request, a missing plan in the operation', async () => {
    const planVm = async (
      name: string,
      plan?: VirtualMachine['plan']
    ): Promise<VirtualMachine> => ({
      ...(await linuxVm(name, { trusted: false })),
      storageProfile: {
        imageReference: { publisher: 'vendor', offer: 'appliance', sku: 'plan1', version: '1.0.0' }
      },
      ...(plan ? { plan } : {})
    })
    const plan = { name: 'plan1', product: 'appliance', publisher: 'vendor' }
    await expect(
      client.virtualMachines.createOrUpdate(rg, 'p1', await planVm('p1', plan), poll)
    ).rejects.toMatchObject({
      statusCode: 400,
      code: 'ResourcePurchaseValidationFailed',
      message: expect.stringContaining('You have not accepted the legal terms on this subscription')
    })
    // Without the plan Azure accepts the PUT and the operation fails.
    // @azure/core-lro reports a failed operation as "The long-running operation has failed. CODE. message".
    await expect(
      client.virtualMachines.createOrUpdate(rg, 'p2', await planVm('p2'), poll)
    ).rejects.toMatchObject({
      message: expect.stringMatching(
        /VMMarketplaceInvalidInput\. Creating a virtual machine from Marketplace image or a custom image sourced from a Marketplace image requires Plan information in the request\. VM: '.*\/virtualMachines\/p2'\.$/
      )
    })
    const put = emu.writes().find(w => w.method === 'PUT' && /virtualMachines\/p2$/.test(w.path))!
    expect(put.status).toBe(201)
    expect(emu.resources.get(put.path)!.properties.provisioningState).toBe('Failed')
    // Terms accepted: the VM is made and carries the plan.
    emu.addMarketplaceImage({ ...planImage, termsAccepted: true })
    const ok = await client.virtualMachines.createOrUpdate(rg, 'p3', await planVm('p3', plan), poll)
    expect(ok.plan).toEqual(plan)
  })

  it('creates from a gallery image and refuses a Trusted-Launch-only definition without Trusted Launch', async () => {
    emu.addGallery(rg, 'gal', 'westus')
    emu.addGalleryImage({
      resourceGroup: rg,
      gallery: 'gal',
      name: 'tl-only',
      osType: 'Linux',
      hyperVGeneration: 'V2',
      securityType: 'TrustedLaunch'
    })
    emu.addGalleryImageVersion({
      resourceGroup: rg,
      gallery: 'gal',
      image: 'tl-only',
      name: '1.0.0'
    })
    const defId = `/subscriptions/${emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Compute/galleries/gal/images/tl-only`
    const fromGallery = async (name: string, trusted: boolean): Promise<VirtualMachine> => ({
      ...(await linuxVm(name, { trusted })),
      storageProfile: { imageReference: { id: defId }, osDisk: { createOption: 'FromImage' } }
    })
    await expect(
      client.virtualMachines.createOrUpdate(rg, 'gx', await fromGallery('gx', false), poll)
    ).rejects.toMatchObject({
      statusCode: 400,
      code: 'BadRequest',
      message:
        "The provided gallery image only supports creation of VMs and VM Scale Sets with 'TrustedLaunch' security type."
    })
    const vm = await client.virtualMachines.createOrUpdate(
      rg,
      'gok',
      await fromGallery('gok', true),
      poll
    )
    const disk = emu.resources.get(vm.storageProfile!.osDisk!.managedDisk!.id!)!
    expect(disk.properties.creationData.galleryImageReference.id).toBe(`${defId}/versions/1.0.0`)
  })

  it('makes a VM the capture path can deprovision, generalize and image', async () => {
    const vm = await client.virtualMachines.createOrUpdate(
      rg,
      'cap',
      await linuxVm('cap', { trusted: false }),
      poll
    )
    const run = await client.virtualMachines.runCommand(
      rg,
      'cap',
      {
        commandId: 'RunShellScript',
        script: [
          'systemd-run --unit=deprovision sh -c "waagent -deprovision+user -force && shutdown -h now"'
        ]
      },
      poll
    )
    expect(run.value?.[0].message).toMatch(/Running as unit: deprovision\.service/)
    expect(emu.resources.state(vm.id!)).toMatchObject({ guestDeprovisioned: true })
    await client.virtualMachines.deallocate(rg, 'cap', poll)
    await client.virtualMachines.generalize(rg, 'cap')
    const image = await client.images.createOrUpdate(
      rg,
      'cap-image',
      { location: 'westus', sourceVirtualMachine: { id: vm.id } },
      poll
    )
    expect(image.storageProfile?.osDisk?.osType).toBe('Linux')
    expect(image.hyperVGeneration).toBe('V2')
  })
})
