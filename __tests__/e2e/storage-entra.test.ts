/**
 * `upload-via: storage-account` when the blob service takes the Microsoft Entra ID token: Azurite
 * over https with `--oauth basic` (the certificate the test processes and the action already trust),
 * the ARM emulator issuing JWT-shaped storage tokens. No account key is read through ARM.
 * Evidence: the log, the emulator's request and token logs, the blob's bytes (hashed).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { ClientSecretCredential } from '@azure/identity'
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob'
import { errorLines, runAction } from '../support/action-runner.js'
import { startAzurite, type AzuriteInstance } from '../support/azurite.js'
import { startLocalCloud, type LocalCloud } from '../support/cloud.js'
import {
  MiB,
  expectedSha256,
  nonZeroBytes,
  writeFixedVhd,
  type Write
} from '../upload-it/fixtures.js'

let azurite: AzuriteInstance
let cloud: LocalCloud
let dir: string

beforeAll(async () => {
  // Azurite serves https with the certificate this process trusts from its start (NODE_EXTRA_CA_CERTS):
  // only `npm test`'s shared certificate is that one.
  const tls = process.env.ARM_EMULATOR_TLS_DIR
  if (!tls)
    throw new Error('Run with ARM_EMULATOR_TLS_DIR and NODE_EXTRA_CA_CERTS set, as `npm test` does')
  azurite = await startAzurite({
    https: { cert: resolve(tls, 'cert.pem'), key: resolve(tls, 'key.pem') },
    oauth: true
  })
  cloud = await startLocalCloud({
    storage: {
      blobEndpoint: azurite.blobEndpoint,
      accountName: azurite.accountName,
      accountKey: azurite.accountKey
    },
    lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 }
  })
  cloud.emu.addResourceGroup('build-rg', 'westeurope')
  // Azurite serves one account: the ARM storage account has its name, as in Azure.
  cloud.emu.addStorageAccount('build-rg', 'devstoreaccount1')
  dir = mkdtempSync(join(tmpdir(), 'storage-entra-'))
})
afterAll(async () => {
  await cloud?.close()
  await azurite?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

const VIRTUAL = 32 * MiB
const WRITES: Write[] = [
  { offset: 0, length: MiB },
  { offset: 7 * MiB + 4096, length: 2 * MiB + 512 },
  { offset: 31 * MiB, length: MiB }
]
/** What trimming at 64 KiB may add per extent, plus the footer. */
const SLACK = WRITES.length * 2 * 64 * 1024 + 512

const keyed = () =>
  new BlobServiceClient(
    azurite.blobEndpoint,
    new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey)
  )

describe('upload via a storage account with Microsoft Entra ID', () => {
  it('the blob service checks bearer tokens: a storage token is taken, an ARM token is not', async () => {
    // Without this, a success below could be Azurite letting any bearer token through.
    const credential = new ClientSecretCredential(
      cloud.emu.tenantId,
      cloud.emu.clientId,
      cloud.emu.clientSecret,
      { authorityHost: cloud.emu.url, disableInstanceDiscovery: true }
    )
    const asStorage = new BlobServiceClient(azurite.blobEndpoint, credential)
    await asStorage.getContainerClient('probe').createIfNotExists()
    const armToken = (await credential.getToken(cloud.emu.armScope))!.token
    const asArm = new BlobServiceClient(azurite.blobEndpoint, {
      getToken: async () => ({ token: armToken, expiresOnTimestamp: Date.now() + 3600_000 })
    })
    await expect(asArm.getContainerClient('probe2').createIfNotExists()).rejects.toMatchObject({
      statusCode: 403
    })
  })

  it('writes the page blob with the Entra ID token, reads no account key, makes the image from its URI', async () => {
    const path = join(dir, 'entra.vhd')
    const footer = await writeFixedVhd(path, VIRTUAL, WRITES)
    const before = cloud.emu.requests.length
    const tokensBefore = cloud.emu.tokenRequests.length
    const run = await runAction({
      inputs: {
        ...cloud.inputs,
        'resource-group': 'build-rg',
        'os-type': 'Linux',
        vhd: path,
        'image-name': 'from-entra',
        'upload-via': 'storage-account',
        'storage-account': 'devstoreaccount1',
        'keep-upload': 'true'
      },
      env: cloud.env
    })
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.code).toBe(0)
    expect(run.main.stdout).toContain(
      "Storage account 'devstoreaccount1': signed in with Microsoft Entra ID"
    )
    expect(run.main.stdout).not.toMatch(/falling back to the account key/)
    expect(run.main.stdout).not.toMatch(/^::warning/m)

    const requests = cloud.emu.requests.slice(before)
    // No account key was read through ARM.
    expect(requests.filter(r => /\/listKeys$/i.test(r.path))).toEqual([])
    // A storage token was issued to the action, with its client secret.
    const issued = cloud.emu.tokenRequests.slice(tokensBefore)
    expect(
      issued.filter(t => t.ok && t.scope.split(' ').includes('https://storage.azure.com/.default'))
    ).not.toHaveLength(0)

    const imagePut = requests.find(r => r.method === 'PUT' && r.path.endsWith('/images/from-entra'))
    const blobUri: string = (imagePut?.body as any).properties.storageProfile.osDisk.blobUri
    expect(blobUri).toBe(`${azurite.blobEndpoint}/vhds/from-entra-9000001-os.vhd`)
    expect(run.outputs['image-id']).toMatch(/\/images\/from-entra$/)

    const content = await keyed()
      .getContainerClient('vhds')
      .getBlobClient('from-entra-9000001-os.vhd')
      .downloadToBuffer()
    expect(createHash('sha256').update(content).digest('hex')).toBe(
      expectedSha256(VIRTUAL, WRITES, footer)
    )
    expect(Number(run.outputs['uploaded-bytes'])).toBeGreaterThan(0)
    expect(Number(run.outputs['uploaded-bytes'])).toBeLessThanOrEqual(nonZeroBytes(WRITES) + SLACK)
  })

  it('deletes the blob afterwards with the Entra ID token too', async () => {
    const path = join(dir, 'entra-2.vhd')
    await writeFixedVhd(path, VIRTUAL, WRITES)
    const before = cloud.emu.requests.length
    const run = await runAction({
      inputs: {
        ...cloud.inputs,
        'resource-group': 'build-rg',
        'os-type': 'Linux',
        vhd: path,
        'image-name': 'from-entra-2',
        'upload-via': 'storage-account',
        'storage-account': 'devstoreaccount1'
      },
      env: cloud.env
    })
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.stdout).not.toMatch(/falling back to the account key/)
    expect(run.post?.stdout ?? '').not.toMatch(/falling back to the account key/)
    expect(cloud.emu.requests.slice(before).filter(r => /\/listKeys$/i.test(r.path))).toEqual([])
    expect(
      await keyed().getContainerClient('vhds').getBlobClient('from-entra-2-9000001-os.vhd').exists()
    ).toBe(false)
  })
})
