/**
 * The upload fixture of the upload-mode e2e files: a local cloud with Azurite behind its fault
 * proxy (one resource group, operations that finish on their first poll), a fresh folder for the
 * disk image files a test writes, and the inputs and run of an upload into that resource group.
 * `useUploadCloud()` registers the hooks in the block it is called in (a file or a `describe`) and
 * returns live accessors. The disk image writers themselves are `upload-it/fixtures.ts` (they build
 * VHD footers with the product's own footer code, which test support never imports).
 */
import { afterAll, afterEach, beforeAll } from '@jest/globals'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { BlobServiceClient, StorageSharedKeyCredential, type BlobClient } from '@azure/storage-blob'
import { runAction, type ActionRun, type RunOptions } from './action-runner.js'
import { AZURITE_ACCOUNT_NAME } from './azurite.js'
import { startLocalCloud, type LocalCloud } from './cloud.js'
import type { ArmEmulatorOptions } from '../emulator/index.js'

export const UPLOAD_RG = 'build-rg'
export const UPLOAD_LOCATION = 'westeurope'
/** Azurite serves one account: the ARM storage account has its name, as in Azure. */
export const STORAGE_ACCOUNT = AZURITE_ACCOUNT_NAME
/** The container the action writes page blobs to (`upload-via: storage-account`). */
const VHDS = 'vhds'

export interface UploadFixture {
  readonly cloud: LocalCloud
  /** `file` in this fixture's temporary folder (removed after its tests). */
  path(file: string): string
  /** Connection inputs, the resource group and `os-type: Linux`, then `extra` (vhd, image-name, …). */
  inputs(extra: Record<string, string>): Record<string, string>
  /** The bundled action on `inputs(extra)` with the cloud's environment. */
  run(extra: Record<string, string>, options?: Omit<RunOptions, 'inputs'>): Promise<ActionRun>
  /** The ID of a managed disk in the resource group. */
  diskId(name: string): string
  /** The storage account Azurite stands for, in the resource group (Azurite's region unless given). */
  addStorageAccount(location?: string): string
  /** A page blob the action wrote to the storage account, read with the account key. */
  blob(name: string): BlobClient
}

/**
 * Options are the emulator's (faster operations are the default) and `withStorage` (startLocalCloud:
 * `'entra'` for a blob service that takes Entra ID tokens; `false` starts no Azurite, for runs that
 * never reach the blob service). Faults on the emulator and the storage proxy
 * are cleared after each test.
 */
export function useUploadCloud(
  prefix: string,
  options: ArmEmulatorOptions & { withStorage?: boolean | 'entra' } = {}
): UploadFixture {
  let cloud: LocalCloud | undefined
  let dir: string | undefined
  beforeAll(async () => {
    cloud = await startLocalCloud({
      withStorage: true,
      lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 },
      ...options
    })
    cloud.emu.addResourceGroup(UPLOAD_RG, UPLOAD_LOCATION)
    dir = mkdtempSync(join(tmpdir(), `${prefix}-`))
  })
  afterEach(() => {
    cloud?.storageProxy?.faults.clear()
    cloud?.emu.faults.clear()
  })
  afterAll(async () => {
    await cloud?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })
  const live = (): LocalCloud => {
    if (!cloud) throw new Error('useUploadCloud: the cloud starts in beforeAll')
    return cloud
  }
  const inputs = (extra: Record<string, string>): Record<string, string> => ({
    ...live().inputs,
    'resource-group': UPLOAD_RG,
    'os-type': 'Linux',
    ...extra
  })
  return {
    get cloud() {
      return live()
    },
    path: file => join(dir!, file),
    inputs,
    run: (extra, options = {}) =>
      runAction({
        ...options,
        inputs: inputs(extra),
        env: { ...live().env, ...(options.env ?? {}) }
      }),
    diskId: name =>
      `/subscriptions/${live().emu.subscriptionId}/resourceGroups/${UPLOAD_RG}/providers/Microsoft.Compute/disks/${name}`,
    addStorageAccount: location =>
      live().emu.addStorageAccount(UPLOAD_RG, STORAGE_ACCOUNT, location).id,
    blob(name) {
      const azurite = live().azurite
      if (!azurite) throw new Error('useUploadCloud: started without storage')
      return new BlobServiceClient(
        azurite.blobEndpoint,
        new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey)
      )
        .getContainerClient(VHDS)
        .getBlobClient(name)
    }
  }
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}
