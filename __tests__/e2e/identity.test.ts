/**
 * Issue 14: the action acts only on what the user named, as the identity the user named.
 * The bundled action against the emulator: a VM ID in another subscription, matrix legs of one run
 * publishing into one gallery definition, `auth-type: auto` with a named identity that cannot sign
 * in, and hostile AzureStack metadata. Evidence is the emulator's request and token logs.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { errorLines, runAction, type ActionRun, type RunOptions } from '../support/action-runner.js'
import { startLocalCloud, type LocalCloud } from '../support/cloud.js'
import type { RecordedRequest } from '../emulator/index.js'

const RG = 'identity-rg'
const LOCATION = 'westeurope'
const OTHER_SUBSCRIPTION = '22222222-2222-4222-8222-222222222222'

let cloud: LocalCloud
/** An empty folder as PATH: no `az` unless a test puts the emulator's stand-in there. */
let noAzPath: string

beforeAll(async () => {
  cloud = await startLocalCloud({ lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 } })
  cloud.emu.addResourceGroup(RG, LOCATION)
  noAzPath = mkdtempSync(join(tmpdir(), 'no-az-'))
})
afterEach(() => cloud.emu.faults.clear())
afterAll(async () => cloud.close())

const isArm = (r: RecordedRequest): boolean => /^\/subscriptions\//i.test(r.path)

function vmId(name: string, subscription = cloud.emu.subscriptionId): string {
  return `/subscriptions/${subscription}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/${name}`
}

function run(
  inputs: Record<string, string>,
  options: Partial<RunOptions> = {}
): Promise<ActionRun> {
  return runAction({
    ...options,
    inputs: { ...cloud.inputs, 'resource-group': RG, ...inputs },
    env: { ...cloud.env, PATH: noAzPath, ...options.env }
  })
}

describe('the resource is the one named', () => {
  it("a source-vm ID in another subscription never touches the same-named VM in subscription-id's subscription", async () => {
    cloud.emu.addVm({ resourceGroup: RG, name: 'twin', location: LOCATION, osType: 'Linux' })
    const before = cloud.emu.requests.length
    const r = await run({
      'source-vm': vmId('twin', OTHER_SUBSCRIPTION),
      deprovision: 'true',
      'delete-source-vm': 'true',
      'image-name': 'twin-img'
    })

    expect(r.main.code).toBe(1)
    const errors = errorLines(r.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain("'source-vm'")
    expect(errors[0]).toContain("'subscription-id'")
    expect(errors[0]).toContain(OTHER_SUBSCRIPTION)
    // Refused from the inputs alone: not one request reached the emulator, let alone the twin VM.
    expect(
      cloud.requestsSince(before).filter(q => /\/virtualMachines\/twin/i.test(q.path))
    ).toEqual([])
    expect(cloud.writesSince(before)).toEqual([])
    expect(cloud.emu.resources.state(vmId('twin'))).toMatchObject({ generalized: false })
  })

  it('VM names with dot segments or URL syntax are refused before any request', async () => {
    for (const name of ['..', '.', 'vm?x', 'vm#x', `${'v'.repeat(65)}`]) {
      const before = cloud.emu.requests.length
      const r = await run({ 'source-vm': name, 'image-name': 'dots-img' }, { post: false })
      expect(r.main.code).toBe(1)
      const errors = errorLines(r.main)
      expect(errors).toHaveLength(1)
      expect(errors[0]).toContain("'source-vm'")
      expect(cloud.requestsSince(before)).toEqual([])
    }
    const before = cloud.emu.requests.length
    const r = await run({ 'source-vm': vmId('..'), 'image-name': 'dots-img' }, { post: false })
    expect(r.main.code).toBe(1)
    expect(errorLines(r.main).join('\n')).toContain("'source-vm'")
    expect(cloud.requestsSince(before)).toEqual([])
  })
})

describe('no silent identity swap', () => {
  it('client-id without an ID token or secret fails with the id-token hint even when an az session exists', async () => {
    cloud.emu.addVm({ resourceGroup: RG, name: 'swap-vm', location: LOCATION, osType: 'Linux' })
    const before = cloud.emu.requests.length
    const entraBefore = cloud.emu.tokenRequests.length
    const r = await run(
      {
        'auth-type': 'auto',
        'client-secret': '',
        'source-vm': 'swap-vm',
        'image-name': 'swap-img'
      },
      {
        env: {
          PATH: `${cloud.emu.azBinDir}:${dirname(process.execPath)}`,
          ...cloud.emu.azCliEnv()
        }
      }
    )

    expect(r.main.code).toBe(1)
    const errors = errorLines(r.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain("'client-id'")
    expect(errors[0]).toContain('id-token: write')
    expect(errors[0]).toContain('auth-type: azure-cli')
    expect(r.main.stdout).not.toMatch(/Signing in with azure-cli/)
    // Nothing signed in and nothing reached ARM.
    expect(cloud.emu.tokenRequests.length).toBe(entraBefore)
    expect(cloud.requestsSince(before).filter(isArm)).toEqual([])
  })

  it('the log names the identity that signed in (app ID and object ID from the token)', async () => {
    cloud.emu.addVm({ resourceGroup: RG, name: 'whoami-vm', location: LOCATION, osType: 'Linux' })
    const r = await run({ 'source-vm': 'whoami-vm', 'image-name': 'whoami-img', 'dry-run': 'true' })
    expect(errorLines(r.main)).toEqual([])
    expect(r.main.code).toBe(0)
    expect(r.main.stdout).toMatch(
      new RegExp(`Signed in as application ${cloud.emu.clientId} \\(object ID [0-9a-f-]{36}\\)`)
    )
  })
})

describe('cloud endpoints are checked before any credential is sent', () => {
  const metadataPath = /^\/metadata\/endpoints\?/
  function hostileMetadata(loginEndpoint: string): void {
    cloud.emu.faults.add({
      method: 'GET',
      path: metadataPath,
      reply: {
        status: 200,
        body: {
          portalEndpoint: `${cloud.emu.url}/portal/`,
          authentication: { loginEndpoint, audiences: [cloud.emu.armAudience] }
        }
      }
    })
  }

  async function expectRefusedBeforeAnyToken(
    inputs: Record<string, string>,
    env: Record<string, string> = {}
  ): Promise<string> {
    cloud.emu.addVm({ resourceGroup: RG, name: 'stack-vm', location: LOCATION, osType: 'Linux' })
    const before = cloud.emu.requests.length
    const entraBefore = cloud.emu.tokenRequests.length
    const idTokensBefore = cloud.emu.idTokenRequests
    const r = await run({ 'source-vm': 'stack-vm', 'image-name': 'stack-img', ...inputs }, { env })
    expect(r.main.code).toBe(1)
    const errors = errorLines(r.main)
    expect(errors).toHaveLength(1)
    // No token request reached the login endpoint, no ID token was minted, nothing reached ARM.
    expect(cloud.emu.tokenRequests.length).toBe(entraBefore)
    expect(cloud.emu.idTokenRequests).toBe(idTokensBefore)
    expect(cloud.requestsSince(before).filter(q => /\/oauth2\//.test(q.path))).toEqual([])
    expect(cloud.requestsSince(before).filter(isArm)).toEqual([])
    expect(cloud.emu.faults.pending).toEqual([])
    return errors[0]
  }

  it('refuses a metadata document whose login endpoint is http', async () => {
    hostileMetadata(cloud.emu.url.replace(/^https:/, 'http:') + '/')
    const error = await expectRefusedBeforeAnyToken({})
    expect(error).toMatch(/login endpoint that is not https/)
    expect(error).toContain("'resource-manager-endpoint'")
  })

  it('refuses a login endpoint neither Microsoft Entra ID nor on the ARM host', async () => {
    hostileMetadata('https://login.attacker.example/')
    const error = await expectRefusedBeforeAnyToken({})
    expect(error).toMatch(
      /login host login\.attacker\.example, which is neither Microsoft Entra ID/
    )
  })

  it('does not follow a redirect of the metadata request', async () => {
    cloud.emu.faults.add({
      method: 'GET',
      path: metadataPath,
      reply: {
        status: 302,
        headers: {
          location: `${cloud.emu.url.replace(/^https:/, 'http:')}/metadata/endpoints?api-version=2015-01-01`
        }
      }
    })
    const error = await expectRefusedBeforeAnyToken({})
    expect(error).toMatch(/answered 302, a redirect/)
    // Only the one metadata request: the redirect's target was never asked.
    expect(cloud.emu.requests.filter(q => q.status === 302)).toHaveLength(1)
  })

  it('OIDC against a login service that is not Microsoft Entra ID needs an explicit audience', async () => {
    const error = await expectRefusedBeforeAnyToken(
      {
        'auth-type': 'auto',
        'client-secret': '',
        'client-id': cloud.emu.clientId,
        'tenant-id': cloud.emu.tenantId
      },
      {
        ACTIONS_ID_TOKEN_REQUEST_URL: cloud.emu.oidcTokenUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: cloud.emu.oidcRequestToken
      }
    )
    expect(error).toMatch(/^::error::Input 'audience': is required for OIDC/)
  })

  it('OIDC with the audience named signs in', async () => {
    cloud.emu.addVm({ resourceGroup: RG, name: 'aud-vm', location: LOCATION, osType: 'Linux' })
    const r = await run(
      {
        'auth-type': 'auto',
        'client-secret': '',
        audience: 'api://AzureADTokenExchange',
        'source-vm': 'aud-vm',
        'image-name': 'aud-img',
        'dry-run': 'true'
      },
      {
        env: {
          ACTIONS_ID_TOKEN_REQUEST_URL: cloud.emu.oidcTokenUrl,
          ACTIONS_ID_TOKEN_REQUEST_TOKEN: cloud.emu.oidcRequestToken
        }
      }
    )
    expect(errorLines(r.main)).toEqual([])
    expect(r.main.code).toBe(0)
    expect(r.main.stdout).toContain('Signing in with oidc')
  })
})

describe('the post step acts only on what this run could have created', () => {
  const OTHER_RG = 'identity-prod-rg'
  function imageIdIn(group: string, name: string): string {
    return `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/${group}/providers/Microsoft.Compute/images/${name}`
  }

  it('ignores a ledger in the state that the main step did not write', async () => {
    cloud.emu.addResourceGroup(OTHER_RG, LOCATION)
    // An unfinished image in another group, tagged with this run's id (anyone can set a tag).
    const victim = cloud.emu.addImage({
      resourceGroup: OTHER_RG,
      name: 'prod-img',
      location: LOCATION,
      tags: { 'github-run-id': '9000001' }
    })
    ;(victim.properties as { provisioningState: string }).provisioningState = 'Failed'
    const planned = imageIdIn(RG, 'ledger-img')
    for (const forged of [
      // Out of scope, in the old shape (a bare list), as `::save-state name=ledger::…` would set it.
      (_nonce: string) => JSON.stringify([{ kind: 'managed-image', id: victim.id }]),
      // Out of scope, with the run's nonce.
      (nonce: string) =>
        JSON.stringify({ nonce, entries: [{ kind: 'managed-image', id: victim.id }] }),
      // The plan's own image, but without the run's nonce.
      (_nonce: string) =>
        JSON.stringify({ nonce: 'f'.repeat(32), entries: [{ kind: 'managed-image', id: planned }] })
    ]) {
      const before = cloud.emu.requests.length
      const r = await run(
        // Fails in the preflight (no such VM), with nothing created.
        { 'source-vm': 'no-such-vm', 'image-name': 'ledger-img' },
        { postState: state => ({ ...state, ledger: forged(state.nonce ?? '') }) }
      )
      expect(r.main.code).toBe(1)
      expect(r.post?.code).toBe(0)
      // The post step deleted nothing.
      const post = cloud
        .requestsSince(before)
        .filter(q => /images\/(prod-img|ledger-img)/.test(q.path))
      expect(post.filter(q => q.method === 'DELETE')).toEqual([])
      expect(cloud.emu.resources.get(victim.id as string)).toBeDefined()
      expect(r.post?.stdout).toMatch(/Post: ignored .*: it is not cleaned up\./)
    }
  })

  it("a 'succeeded' state that is not the run's nonce does not skip the cleanup", async () => {
    const r = await run(
      { 'source-vm': 'no-such-vm', 'image-name': 'ledger-img2' },
      { postState: state => ({ ...state, succeeded: 'true' }) }
    )
    expect(r.main.code).toBe(1)
    expect(r.state.succeeded).toBe('false')
    expect(r.state.nonce).toMatch(/^[0-9a-f]{32}$/)
    expect(r.post?.stdout).toContain('Post: nothing this run created is left to clean up.')
  })
})

describe('ownership a matrix cannot share', () => {
  const GALLERY = 'identity_gallery'
  /** `auto`: <UTC yyyy>.<UTC month*100+day>.<run number>, computed here independently. */
  const autoVersion = (runNumber: number, now = new Date()): string =>
    `${now.getUTCFullYear()}.${(now.getUTCMonth() + 1) * 100 + now.getUTCDate()}.${runNumber}`
  const versionIdOf = (definition: string, version: string): string =>
    `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/galleries/${GALLERY}/images/${definition}/versions/${version}`

  function seedLegVm(name: string): void {
    cloud.emu.addVm({
      resourceGroup: RG,
      name,
      location: LOCATION,
      osType: 'Linux',
      hyperVGeneration: 'V2'
    })
  }

  function leg(
    vm: string,
    inputs: Record<string, string>,
    options: Partial<RunOptions>
  ): Promise<ActionRun> {
    return run({ 'source-vm': vm, ...inputs }, { runNumber: 42, job: 'build', ...options })
  }

  beforeAll(() => {
    cloud.emu.addGallery(RG, GALLERY, LOCATION)
    cloud.emu.addGalleryImage({
      resourceGroup: RG,
      gallery: GALLERY,
      name: 'legs',
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V2'
    })
  })

  it("two legs of one run into one definition with 'auto' never output each other's version; a re-run attempt reuses its own with zero writes", async () => {
    seedLegVm('leg-a')
    seedLegVm('leg-b')
    const target = { gallery: GALLERY, 'gallery-image': 'legs', 'gallery-image-version': 'auto' }
    const runId = '9100001'
    const version = autoVersion(42)

    const a = await leg('leg-a', target, { runId })
    expect(errorLines(a.main)).toEqual([])
    expect(a.main.code).toBe(0)
    expect(a.outputs['gallery-image-version']).toBe(version)
    expect(a.outputs['image-id']).toBe(versionIdOf('legs', version))

    // Leg B: same run, same job, same definition and number, another VM.
    const beforeB = cloud.emu.requests.length
    const b = await leg('leg-b', target, { runId })
    expect(b.main.code).toBe(1)
    const errors = errorLines(b.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain("Input 'gallery-image-version'")
    expect(errors[0]).toContain('strategy.job-index')
    expect(b.outputs['image-id']).toBeUndefined()
    expect(b.outputs['gallery-image-version']).toBeUndefined()
    // Refused in the preflight: leg B's VM was never touched, nothing was written.
    expect(cloud.writesSince(beforeB)).toEqual([])
    expect(cloud.emu.resources.state(vmId('leg-b'))).toMatchObject({ generalized: false })

    // A re-run attempt of leg A reuses its own version without a single write.
    const beforeRerun = cloud.emu.requests.length
    const again = await leg('leg-a', target, { runId, runAttempt: 2 })
    expect(errorLines(again.main)).toEqual([])
    expect(again.main.code).toBe(0)
    expect(cloud.writesSince(beforeRerun)).toEqual([])
    expect(again.outputs['gallery-image-version']).toBe(version)
    expect(again.outputs['image-id']).toBe(versionIdOf('legs', version))

    // A re-run attempt of leg B still does not take leg A's version.
    const beforeRerunB = cloud.emu.requests.length
    const againB = await leg('leg-b', target, { runId, runAttempt: 2 })
    expect(againB.main.code).toBe(1)
    expect(errorLines(againB.main).join('\n')).toContain("Input 'gallery-image-version'")
    expect(cloud.writesSince(beforeRerunB)).toEqual([])
  }, 600_000)

  it('a version carrying only the run id (a tag anyone can set) is not reused by a re-run attempt', async () => {
    seedLegVm('forged-leg')
    const runId = '9100002'
    cloud.emu.addGalleryImageVersion({
      resourceGroup: RG,
      gallery: GALLERY,
      image: 'legs',
      name: '9.9.9',
      tags: { 'github-run-id': runId }
    })
    const before = cloud.emu.requests.length
    const r = await leg(
      'forged-leg',
      { gallery: GALLERY, 'gallery-image': 'legs', 'gallery-image-version': '9.9.9' },
      { runId, runAttempt: 2 }
    )
    expect(r.main.code).toBe(1)
    expect(errorLines(r.main).join('\n')).toContain("Input 'gallery-image-version'")
    expect(r.outputs['image-id']).toBeUndefined()
    expect(cloud.writesSince(before)).toEqual([])
  })

  it('a second leg with the same image-name fails up front naming image-name, also with overwrite', async () => {
    seedLegVm('img-leg-a')
    seedLegVm('img-leg-b')
    const runId = '9100003'
    const a = await leg('img-leg-a', { 'image-name': 'shared-img' }, { runId })
    expect(errorLines(a.main)).toEqual([])
    expect(a.main.code).toBe(0)
    for (const overwrite of ['false', 'true']) {
      const before = cloud.emu.requests.length
      const b = await leg('img-leg-b', { 'image-name': 'shared-img', overwrite }, { runId })
      expect(b.main.code).toBe(1)
      const errors = errorLines(b.main)
      expect(errors).toHaveLength(1)
      expect(errors[0]).toContain("Input 'image-name'")
      expect(errors[0]).toContain('strategy.job-index')
      expect(cloud.writesSince(before)).toEqual([])
    }
    expect(cloud.emu.resources.state(vmId('img-leg-b'))).toMatchObject({ generalized: false })
  }, 600_000)
})
