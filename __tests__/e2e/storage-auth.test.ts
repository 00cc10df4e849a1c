/**
 * `upload-via: storage-account`: which credential reaches the blob service, and which blobs the
 * run touches (issue 14). Azurite over https with `--oauth basic` behind an https fault proxy (the
 * certificate the test processes and the action already trust), so the Microsoft Entra ID path is
 * the one taken and the proxy can answer as Azure Storage does when it refuses a request:
 * - 403 AuthorizationPermissionMismatch: the identity has no data role (README "Storage replies");
 *   only this reply lets the action read the account key.
 * - 403 AuthorizationFailure: a firewall or virtual-network rule; a dropped connection: the network.
 *   Neither reads the key.
 * Blobs carry the job's owner key: another matrix leg's blob of the same name is never resumed,
 * overwritten or deleted, and a blob is deleted only if it is still the one read (If-Match).
 */
import { beforeAll, describe, expect, it } from '@jest/globals'
import { errorLines, ownerKeyOf, runAction } from '../support/action-runner.js'
import type { LocalCloud } from '../support/cloud.js'
import { sha256, UPLOAD_RG, useUploadCloud } from '../support/upload-run.js'
import type { FaultProxy } from '../emulator/index.js'
import { MiB, expectedSha256, writeFixedVhd, type Write } from '../upload-it/fixtures.js'

const up = useUploadCloud('storage-auth', { withStorage: 'entra' })
let cloud: LocalCloud
/** In front of Azurite: answers as Azure Storage does when it refuses, and logs each request. */
let proxy: FaultProxy
let accountId: string

beforeAll(() => {
  cloud = up.cloud
  proxy = cloud.storageProxy!
  cloud.emu.addResourceGroup('leg-b-rg', 'westeurope')
  accountId = up.addStorageAccount()
})

const VIRTUAL = 24 * MiB
const WRITES: Write[] = [
  { offset: 0, length: MiB },
  { offset: 9 * MiB, length: 2 * MiB + 512 }
]
const OTHER_WRITES: Write[] = [
  { offset: 0, length: MiB },
  { offset: 15 * MiB, length: MiB }
]

const isBearer = (req: { headers: Record<string, unknown> }): boolean =>
  /^Bearer /i.test(String(req.headers.authorization ?? ''))
const listKeysCalls = (before: number) =>
  cloud.emu.requests.slice(before).filter(r => /\/listKeys$/i.test(r.path))

function inputs(extra: Record<string, string>): Record<string, string> {
  return up.inputs({ 'upload-via': 'storage-account', 'storage-account': accountId, ...extra })
}

describe('which credential reaches the blob service', () => {
  it('asks for a storage token with the storage scope and sends it (no account key)', async () => {
    const path = up.path('scope.vhd')
    await writeFixedVhd(path, VIRTUAL, WRITES)
    const before = cloud.emu.requests.length
    const tokensBefore = cloud.emu.tokenRequests.length
    const logBefore = proxy.log.length
    const run = await runAction({
      inputs: inputs({ vhd: path, 'image-name': 'scoped' }),
      env: cloud.env
    })
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.code).toBe(0)
    // The token the emulator issued for the blob service: its scope is the storage resource's,
    // never the ARM audience (which Azurite refuses: storage-entra.test.ts).
    const scopes = cloud.emu.tokenRequests
      .slice(tokensBefore)
      .filter(t => t.ok)
      .map(t => t.scope)
    expect(scopes).toContain('https://storage.azure.com/.default')
    expect(listKeysCalls(before)).toEqual([])
    const blobRequests = proxy.log.slice(logBefore)
    expect(blobRequests.length).toBeGreaterThan(0)
    expect(blobRequests.every(r => r.auth === 'Bearer')).toBe(true)
  })

  it('403 AuthorizationPermissionMismatch (no data role): falls back to the account key and says why', async () => {
    const path = up.path('rbac.vhd')
    const footer = await writeFixedVhd(path, VIRTUAL, WRITES)
    // Azure Storage's reply to a bearer token whose identity has no data role on the account.
    proxy.faults.add({
      match: isBearer,
      status: 403,
      code: 'AuthorizationPermissionMismatch',
      message: 'This request is not authorized to perform this operation using this permission.',
      times: 1000
    })
    const before = cloud.emu.requests.length
    const logBefore = proxy.log.length
    const run = await runAction({
      inputs: inputs({ vhd: path, 'image-name': 'via-key', 'keep-upload': 'true' }),
      env: cloud.env
    })
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.code).toBe(0)
    expect(run.main.stdout).toMatch(
      /^::warning::Storage account 'devstoreaccount1' answered 403 AuthorizationPermissionMismatch: the identity has no data role on it\. Falling back to the account key/m
    )
    expect(listKeysCalls(before)).toHaveLength(1)
    // The data went with the key once the token was refused.
    const written = proxy.log.slice(logBefore).filter(r => r.method === 'PUT' && r.status === 201)
    expect(written.length).toBeGreaterThan(0)
    expect(written.every(r => r.auth === 'SharedKey')).toBe(true)
    const blob = await up.blob('via-key-9000001-os.vhd').downloadToBuffer()
    expect(sha256(blob)).toBe(expectedSha256(VIRTUAL, WRITES, footer))
  })

  it('403 AuthorizationFailure (firewall): fails naming the network rules, never reads the key', async () => {
    const path = up.path('firewall.vhd')
    await writeFixedVhd(path, VIRTUAL, WRITES)
    // What a storage firewall answers every request from an address it does not admit, whatever
    // the credential.
    proxy.faults.add({
      match: () => true,
      status: 403,
      code: 'AuthorizationFailure',
      message: 'This request is not authorized to perform this operation.',
      times: 1000
    })
    const before = cloud.emu.requests.length
    const logBefore = proxy.log.length
    const run = await runAction({
      inputs: inputs({ vhd: path, 'image-name': 'behind-firewall' }),
      env: cloud.env
    })
    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/403 AuthorizationFailure/)
    expect(errors[0]).toMatch(/firewall or virtual network rules/)
    expect(run.main.stdout).not.toMatch(/Falling back to the account key/i)
    expect(listKeysCalls(before)).toEqual([])
    expect(proxy.log.slice(logBefore).some(r => r.auth === 'SharedKey')).toBe(false)
    // Nothing was written.
    expect(cloud.emu.requests.slice(before).filter(r => r.method === 'PUT')).toEqual([])
  })

  it('a network failure (connection dropped) fails the run, never reads the key', async () => {
    const path = up.path('network.vhd')
    await writeFixedVhd(path, VIRTUAL, WRITES)
    proxy.faults.add({ match: () => true, drop: true, times: 1000 })
    const before = cloud.emu.requests.length
    const run = await runAction({
      inputs: inputs({ vhd: path, 'image-name': 'unreachable' }),
      env: cloud.env
    })
    expect(run.main.code).toBe(1)
    expect(errorLines(run.main)).toHaveLength(1)
    expect(run.main.stdout).not.toMatch(/Falling back to the account key/i)
    expect(listKeysCalls(before)).toEqual([])
  }, 180_000)

  it("refuses a blob endpoint off the cloud's storage suffix before any token or key goes there", async () => {
    const account = cloud.emu.addStorageAccount(UPLOAD_RG, 'elsewhere')
    account.properties.primaryEndpoints.blob = 'https://elsewhere.blob.storage.example.net/'
    const path = up.path('suffix.vhd')
    await writeFixedVhd(path, VIRTUAL, WRITES)
    const before = cloud.emu.requests.length
    const tokensBefore = cloud.emu.tokenRequests.length
    const run = await runAction({
      inputs: inputs({ vhd: path, 'image-name': 'off-suffix', 'storage-account': account.id }),
      env: cloud.env
    })
    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(
      /blob endpoint https:\/\/elsewhere\.blob\.storage\.example\.net\/, where no credential is sent/
    )
    expect(
      cloud.emu.tokenRequests.slice(tokensBefore).filter(t => /storage/.test(t.scope))
    ).toEqual([])
    expect(listKeysCalls(before)).toEqual([])
  })
})

describe('whose blob it is (owner key)', () => {
  it("a second matrix leg with the same blob name neither overwrites nor deletes the first leg's blob", async () => {
    // Leg A keeps its blob (keep-upload); leg B makes an image of the same name in another group:
    // same run, same blob name, another job's inputs, so another owner key.
    const pathA = up.path('leg-a.vhd')
    const footerA = await writeFixedVhd(pathA, VIRTUAL, WRITES)
    const legA = inputs({ vhd: pathA, 'image-name': 'matrix-img', 'keep-upload': 'true' })
    const a = await runAction({ inputs: legA, env: cloud.env })
    expect(errorLines(a.main)).toEqual([])
    const blobA = up.blob('matrix-img-9000001-os.vhd')
    expect((await blobA.getProperties()).metadata?.githubownerkey).toBe(ownerKeyOf(legA))

    const pathB = up.path('leg-b.vhd')
    await writeFixedVhd(pathB, VIRTUAL, OTHER_WRITES)
    const b = await runAction({
      inputs: inputs({ vhd: pathB, 'image-name': 'matrix-img', 'resource-group': 'leg-b-rg' }),
      env: cloud.env
    })
    expect(b.main.code).toBe(1)
    const errors = errorLines(b.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(
      /matrix-img-9000001-os\.vhd already exists and was not written by this job \(another job of run 9000001 wrote it/
    )
    // Neither B's main step nor its post step touched A's blob: same bytes, same owner.
    expect(`${b.main.stdout}\n${b.post?.stdout ?? ''}`).not.toMatch(/deleted temporary blob/)
    expect(sha256(await blobA.downloadToBuffer())).toBe(expectedSha256(VIRTUAL, WRITES, footerA))
    expect((await blobA.getProperties()).metadata?.githubownerkey).toBe(ownerKeyOf(legA))
  })

  it('cleanup deletes its blob only if it is still the blob it read (If-Match)', async () => {
    const path = up.path('if-match.vhd')
    await writeFixedVhd(path, VIRTUAL, WRITES)
    const name = 'changed-9000001-os.vhd'
    // The image fails, so cleanup deletes the temporary blob; just before the DELETE reaches the
    // service, the blob is written again (its ETag changes).
    cloud.emu.faults.add({
      method: 'PUT',
      path: /\/images\/changed\?/,
      status: 409,
      code: 'Conflict',
      message: 'Injected refusal of the image.'
    })
    proxy.faults.add({
      match: req => req.method === 'DELETE' && (req.url ?? '').includes(`/vhds/${name}`),
      before: async () => {
        const blob = up.blob(name)
        await blob.setMetadata({ ...(await blob.getProperties()).metadata, touched: 'yes' })
      },
      times: 10
    })
    const logBefore = proxy.log.length
    const run = await runAction({
      inputs: inputs({ vhd: path, 'image-name': 'changed' }),
      env: cloud.env
    })
    expect(run.main.code).toBe(1)
    const deletes = proxy.log.slice(logBefore).filter(r => r.method === 'DELETE')
    expect(deletes.length).toBeGreaterThan(0)
    expect(deletes.every(r => r.ifMatch !== undefined && r.status === 412)).toBe(true)
    expect(run.main.stdout).toMatch(/changed after it was read \(ETag\): left alone/)
    expect(await up.blob(name).exists()).toBe(true)
  })
})
