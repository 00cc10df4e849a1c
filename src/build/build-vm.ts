/**
 * The temporary build VM: made from the base image with a generated admin credential, no public
 * IP (its only NIC has none), its OS disk and NIC set to go with it (`deleteOption: Delete`,
 * Compute API ≥ 2021-03-01), the image's purchase plan when it has one, and Trusted Launch (Secure
 * Boot and vTPM on, as `az vm create` sets them) when the preflight decided so. The VM and its OS
 * disk are in the ledger before the PUT is sent; the OS disk, which Azure names from
 * `osDisk.name` but does not tag, is tagged once the VM exists.
 */
import type { VirtualMachine } from '@azure/arm-compute'
import { waitFor } from '../azure/operation.js'
import { buildResourceIds } from '../ledger.js'
import type { BuildSource } from '../plan.js'
import type { RunContext } from '../run-context.js'
import type { AdminCredential } from './admin-credential.js'
import type { BaseImageFacts } from './base-image.js'

export interface BuildVmOptions {
  settings: BuildSource
  location: string
  image: BaseImageFacts
  credential: AdminCredential
  nicId: string
  securityType: 'Standard' | 'TrustedLaunch'
}

/** The VM's body: pure, so a unit test can read what is asked of Azure. */
export function buildVmBody(
  options: BuildVmOptions,
  tags: Record<string, string>
): VirtualMachine {
  const { settings, location, image, credential, nicId, securityType } = options
  const { names } = settings
  return {
    location,
    tags,
    ...(image.plan ? { plan: { ...image.plan } } : {}),
    hardwareProfile: { vmSize: settings.vmSize },
    storageProfile: {
      imageReference: image.reference,
      osDisk: {
        name: names.osDisk,
        createOption: 'FromImage',
        deleteOption: 'Delete',
        ...(settings.osDiskSizeGb !== undefined ? { diskSizeGB: settings.osDiskSizeGb } : {})
      }
    },
    osProfile:
      credential.osType === 'Linux'
        ? {
            computerName: names.computerName,
            adminUsername: credential.username,
            linuxConfiguration: {
              disablePasswordAuthentication: true,
              provisionVMAgent: true,
              ssh: {
                publicKeys: [
                  {
                    path: `/home/${credential.username}/.ssh/authorized_keys`,
                    keyData: credential.sshPublicKey
                  }
                ]
              }
            }
          }
        : {
            computerName: names.computerName,
            adminUsername: credential.username,
            adminPassword: credential.password,
            windowsConfiguration: { provisionVMAgent: true }
          },
    networkProfile: {
      networkInterfaces: [{ id: nicId, primary: true, deleteOption: 'Delete' }]
    },
    ...(securityType === 'TrustedLaunch'
      ? {
          securityProfile: {
            securityType: 'TrustedLaunch',
            uefiSettings: { secureBootEnabled: true, vTpmEnabled: true }
          }
        }
      : {})
  }
}

/** Creates the VM and waits until it is provisioned; returns its ID. */
export async function createBuildVm(ctx: RunContext, options: BuildVmOptions): Promise<string> {
  const { plan, clients, ledger, log, signal } = ctx
  const rg = plan.resourceGroup
  const { names } = options.settings
  const ids = buildResourceIds(
    { subscriptionId: plan.subscriptionId, resourceGroup: rg },
    names
  )
  ledger.add({ kind: 'build-resource', id: ids.vm })
  ledger.add({ kind: 'build-resource', id: ids.osDisk })
  const vm = await waitFor(
    `Create build VM '${names.vm}' (${options.settings.vmSize}, no public IP)`,
    clients.compute.virtualMachines.createOrUpdate(
      rg,
      names.vm,
      buildVmBody(options, plan.tags),
      { abortSignal: signal }
    ),
    { log, signal }
  )
  // Azure does not pass the VM's tags on to the OS disk it makes: tag it, so cleanup knows it.
  await waitFor(
    `Tag OS disk '${names.osDisk}'`,
    clients.compute.disks.update(rg, names.osDisk, { tags: plan.tags }, { abortSignal: signal }),
    { log, signal }
  )
  return vm.id ?? ids.vm
}
