/**
 * `upload-via: storage-account` when the blob service takes the Microsoft Entra ID token: Azurite
 * over https with `--oauth basic` behind the https fault proxy (the certificate the test processes
 * and the action already trust), the ARM emulator issuing JWT-shaped storage tokens. No account key is read through ARM.
 * Evidence: the log, the emulator's request and token logs, the blob's bytes (hashed).
 */
import { beforeAll, describe, expect, it } from '@jest/globals'
import { ClientSecretCredential } from '@azure/identity'
import { BlobServiceClient } from '@azure/storage-blob'
import { errorLines } from '../support/action-runner.js'
import { sha256, STORAGE_ACCOUNT, useUploadCloud } from '../support/upload-run.js'
import {
  MiB,
  expectedSha256,
  nonZeroBytes,
  writeFixedVhd,
  type Write
} from '../upload-it/fixtures.js'

const up = useUploadCloud('storage-entra', { withStorage: 'entra' })
beforeAll(() => void up.addStorageAccount())

const VIRTUAL = 32 * MiB
const WRITES: Write[] = [
  { offset: 0, length: MiB },
  { offset: 7 * MiB + 4096, length: 2 * MiB + 512 },
  { offset: 31 * MiB, length: MiB }
]
/** What trimming at 64 KiB may add per extent, plus the footer. */
const SLACK = WRITES.length * 2 * 64 * 1024 + 512

describe('upload via a storage account with Microsoft Entra ID', () => {
  it('the blob service checks bearer tokens: a storage token is taken, an ARM token is not', async () => {
    const { emu, azurite } = up.cloud
    // Without this, a success below could be Azurite letting any bearer token through.
    const credential = new ClientSecretCredential(emu.tenantId, emu.clientId, emu.clientSecret, {
      authorityHost: emu.url,
      disableInstanceDiscovery: true
    })
    const asStorage = new BlobServiceClient(azurite!.blobEndpoint, credential)
    await asStorage.getContainerClient('probe').createIfNotExists()
    const armToken = (await credential.getToken(emu.armScope))!.token
    const asArm = new BlobServiceClient(azurite!.blobEndpoint, {
      getToken: async () => ({ token: armToken, expiresOnTimestamp: Date.now() + 3600_000 })
    })
    await expect(asArm.getContainerClient('probe2').createIfNotExists()).rejects.toMatchObject({
      statusCode: 403
    })
  })

  it('writes the page blob with the Entra ID token, reads no account key, makes the image from its URI', async () => {
    const { emu, storageProxy } = up.cloud
    const path = up.path('entra.vhd')
    const footer = await writeFixedVhd(path, VIRTUAL, WRITES)
    const before = emu.requests.length
    const tokensBefore = emu.tokenRequests.length
    const run = await up.run({
      vhd: path,
      'image-name': 'from-entra',
      'upload-via': 'storage-account',
      'storage-account': STORAGE_ACCOUNT,
      'keep-upload': 'true'
    })
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.code).toBe(0)
    expect(run.main.stdout).toContain(
      "Storage account 'devstoreaccount1': signed in with Microsoft Entra ID"
    )
    expect(run.main.stdout).not.toMatch(/falling back to the account key/)
    expect(run.main.stdout).not.toMatch(/^::warning/m)

    const requests = emu.requests.slice(before)
    // No account key was read through ARM.
    expect(requests.filter(r => /\/listKeys$/i.test(r.path))).toEqual([])
    // A storage token was issued to the action, with its client secret.
    const issued = emu.tokenRequests.slice(tokensBefore)
    expect(
      issued.filter(t => t.ok && t.scope.split(' ').includes('https://storage.azure.com/.default'))
    ).not.toHaveLength(0)

    const imagePut = requests.find(r => r.method === 'PUT' && r.path.endsWith('/images/from-entra'))
    const blobUri: string = (imagePut?.body as any).properties.storageProfile.osDisk.blobUri
    // The blob endpoint the emulator hands out (the proxy in front of Azurite).
    expect(blobUri).toBe(`${storageProxy!.url}/vhds/from-entra-9000001-os.vhd`)
    expect(run.outputs['image-id']).toMatch(/\/images\/from-entra$/)

    const content = await up.blob('from-entra-9000001-os.vhd').downloadToBuffer()
    expect(sha256(content)).toBe(expectedSha256(VIRTUAL, WRITES, footer))
    expect(Number(run.outputs['uploaded-bytes'])).toBeGreaterThan(0)
    expect(Number(run.outputs['uploaded-bytes'])).toBeLessThanOrEqual(nonZeroBytes(WRITES) + SLACK)
  })

  it('deletes the blob afterwards with the Entra ID token too', async () => {
    const path = up.path('entra-2.vhd')
    await writeFixedVhd(path, VIRTUAL, WRITES)
    const before = up.cloud.emu.requests.length
    const run = await up.run({
      vhd: path,
      'image-name': 'from-entra-2',
      'upload-via': 'storage-account',
      'storage-account': STORAGE_ACCOUNT
    })
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.stdout).not.toMatch(/falling back to the account key/)
    expect(run.post?.stdout ?? '').not.toMatch(/falling back to the account key/)
    expect(up.cloud.requestsSince(before).filter(r => /\/listKeys$/i.test(r.path))).toEqual([])
    expect(await up.blob('from-entra-2-9000001-os.vhd').exists()).toBe(false)
  })
})
