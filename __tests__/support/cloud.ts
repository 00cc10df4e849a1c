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
  type FaultProxy,
  type RecordedRequest,
  type Body,
  type VmSeed
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
  /** What the emulator received since `before` (a length of `emu.requests` read earlier). */
  requestsSince(before: number): RecordedRequest[]
  /** The writes (PUT, PATCH, POST, DELETE) among those. */
  writesSince(before: number): RecordedRequest[]
  /** A Linux Gen 2 VM in the home resource group and region unless `seed` says otherwise. */
  seedVm(name: string, seed?: Partial<VmSeed>): Body
  close(): Promise<void>
}

/** 'PUT images/x', 'POST virtualMachines/vm/deallocate', 'GET locations/westeurope/operations/…' */
export function short(r: RecordedRequest): string {
  return `${r.method} ${r.path.replace(/^.*\/providers\/Microsoft\.Compute\//i, '')}`
}

/**
 * `withStorage`: a fresh Azurite behind a fault proxy. Without it, `storage` (if given) is passed to
 * the emulator as it is: a blob service the caller started and stops, reached directly.
 */
export async function startLocalCloud(
  options: ArmEmulatorOptions & {
    withStorage?: boolean
    /** Where `seedVm` puts VMs by default (the test file's resource group and region). */
    home?: { resourceGroup: string; location: string }
  } = {}
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
    requestsSince: before => emu.requests.slice(before),
    writesSince: before => emu.writes().filter(w => emu.requests.indexOf(w) >= before),
    seedVm: (name, seed = {}) =>
      emu.addVm({
        resourceGroup: options.home?.resourceGroup ?? '',
        location: options.home?.location ?? '',
        name,
        osType: 'Linux',
        hyperVGeneration: 'V2',
        ...seed
      }),
    async close() {
      await emu.close()
      await storageProxy?.close()
      await azurite?.stop()
    }
  }
}
