/**
 * A local "cloud" for end-to-end runs: the ARM emulator (optionally with Azurite behind its disks
 * and storage accounts, reached through a fault-injecting proxy), plus the inputs and environment
 * that point the bundled action at it as an AzureStack cloud.
 */
import { resolve } from 'node:path'
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
  /**
   * Calls `action` once the emulator receives, from now on, a request matching `match` (checked
   * every 10 ms, so the action lands while a delayed request waits). Returns what stops watching.
   */
  whenRequest(match: (r: RecordedRequest) => boolean, action: () => void): () => void
  close(): Promise<void>
}

/** The certificate `npm test` makes for every local https endpoint (trusted via NODE_EXTRA_CA_CERTS). */
function testCertificate(): { cert: string; key: string } {
  const dir = process.env.ARM_EMULATOR_TLS_DIR
  if (!dir)
    throw new Error('Run with ARM_EMULATOR_TLS_DIR and NODE_EXTRA_CA_CERTS set, as `npm test` does')
  return { cert: resolve(dir, 'cert.pem'), key: resolve(dir, 'key.pem') }
}

/** 'PUT images/x', 'POST virtualMachines/vm/deallocate', 'GET locations/westeurope/operations/…' */
export function short(r: RecordedRequest): string {
  return `${r.method} ${r.path.replace(/^.*\/providers\/Microsoft\.Compute\//i, '')}`
}

/**
 * `withStorage`: a fresh Azurite behind a fault proxy, over plain http (`true`) or, with `'entra'`,
 * over https with the certificate of `npm test` (ARM_EMULATOR_TLS_DIR, which the test process and
 * the action trust) and `--oauth basic`, so the blob service takes Microsoft Entra ID tokens.
 * Without it, `storage` (if given) is passed to the emulator as it is: a blob service the caller
 * started and stops, reached directly.
 */
/** The action's inputs that sign in to the emulator (a custom cloud) with a client secret. */
export function emulatorInputs(emu: ArmEmulator): Record<string, string> {
  return {
    environment: 'AzureStack',
    'resource-manager-endpoint': emu.url,
    'auth-type': 'client-secret',
    'client-id': emu.clientId,
    'tenant-id': emu.tenantId,
    'client-secret': emu.clientSecret,
    'subscription-id': emu.subscriptionId
  }
}

export async function startLocalCloud(
  options: ArmEmulatorOptions & {
    withStorage?: boolean | 'entra'
    /** Where `seedVm` puts VMs by default (the test file's resource group and region). */
    home?: { resourceGroup: string; location: string }
  } = {}
): Promise<LocalCloud> {
  const tls = options.withStorage === 'entra' ? testCertificate() : undefined
  const azurite = options.withStorage
    ? await startAzurite(tls ? { https: tls, oauth: true } : {})
    : undefined
  const storageProxy = azurite
    ? await startFaultProxy(azurite.blobEndpoint, tls ? { tls } : {})
    : undefined
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
    inputs: emulatorInputs(emu),
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
    whenRequest(match, action) {
      let seen = emu.requests.length
      const timer = setInterval(() => {
        for (; seen < emu.requests.length; seen++) {
          if (match(emu.requests[seen])) {
            clearInterval(timer)
            action()
            return
          }
        }
      }, 10)
      return () => clearInterval(timer)
    },
    async close() {
      await emu.close()
      await storageProxy?.close()
      await azurite?.stop()
    }
  }
}
