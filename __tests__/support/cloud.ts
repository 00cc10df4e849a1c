/**
 * A local "cloud" for end-to-end runs: the ARM emulator (optionally with Azurite behind its disks
 * and storage accounts, reached through a fault-injecting proxy), plus the inputs and environment
 * that point the bundled action at it as an AzureStack cloud.
 */
import {
  startArmEmulator,
  startFaultProxy,
  type ArmEmulator,
  type ArmEmulatorOptions,
  type FaultProxy
} from '../emulator/index.js'
import { startAzurite, type AzuriteInstance } from './azurite.js'

export interface LocalCloud {
  emu: ArmEmulator
  azurite?: AzuriteInstance
  /** In front of Azurite: every SAS and blob endpoint the emulator hands out points here. */
  storageProxy?: FaultProxy
  /** Connection inputs: AzureStack at the emulator, client-secret sign-in. */
  inputs: Record<string, string>
  /** Environment for the action process: trust the emulator's certificate. */
  env: Record<string, string>
  close(): Promise<void>
}

/**
 * `withStorage`: a fresh Azurite behind a fault proxy. Without it, `storage` (if given) is passed to
 * the emulator as it is: a blob service the caller started and stops, reached directly.
 */
export async function startLocalCloud(
  options: ArmEmulatorOptions & { withStorage?: boolean } = {}
): Promise<LocalCloud> {
  const azurite = options.withStorage ? await startAzurite() : undefined
  const storageProxy = azurite ? await startFaultProxy(azurite.blobEndpoint) : undefined
  const emu = await startArmEmulator({
    ...options,
    storage:
      azurite && storageProxy
        ? {
            blobEndpoint: storageProxy.url,
            accountName: azurite.accountName,
            accountKey: azurite.accountKey
          }
        : options.storage
  })
  return {
    emu,
    azurite,
    storageProxy,
    inputs: {
      environment: 'AzureStack',
      'resource-manager-endpoint': emu.url,
      'auth-type': 'client-secret',
      'client-id': emu.clientId,
      'tenant-id': emu.tenantId,
      'client-secret': emu.clientSecret,
      'subscription-id': emu.subscriptionId
    },
    env: { NODE_EXTRA_CA_CERTS: emu.caCertPath },
    async close() {
      await emu.close()
      await storageProxy?.close()
      await azurite?.stop()
    }
  }
}
