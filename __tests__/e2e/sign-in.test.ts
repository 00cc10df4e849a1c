/**
 * The bundled action signing in against the emulator's identity endpoints: managed identity (the App
 * Service source of @azure/identity / msal-node), OIDC with a GitHub ID token re-minted when Azure
 * rejects the access token mid-run, and the token audience of every ARM request.
 * Evidence is the emulator's request and token logs and what the action wrote.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { errorLines, runAction, type ActionRun, type RunOptions } from '../support/action-runner.js'
import { startLocalCloud, type LocalCloud } from '../support/cloud.js'
import type { RecordedRequest } from '../emulator/index.js'

const RG = 'sign-in-rg'
const LOCATION = 'westeurope'

let cloud: LocalCloud
/** An empty folder as PATH: no `az` for `auth-type: auto` to find (the action is started by path). */
let noAzPath: string

beforeAll(async () => {
  // GitHub ID tokens live seconds here, not minutes: an assertion cannot be kept for later.
  cloud = await startLocalCloud({
    idTokenLifetimeSeconds: 5,
    lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 }
  })
  cloud.emu.addResourceGroup(RG, LOCATION)
  noAzPath = mkdtempSync(join(tmpdir(), 'no-az-'))
})
afterEach(() => cloud.emu.faults.clear())
afterAll(async () => cloud.close())

/** Connection inputs without any credential: the test adds what it signs in with. */
function connection(): Record<string, string> {
  return {
    environment: 'AzureStack',
    'resource-manager-endpoint': cloud.emu.url,
    'subscription-id': cloud.emu.subscriptionId,
    'resource-group': RG
  }
}

function seedVm(name: string): void {
  cloud.emu.addVm({ resourceGroup: RG, name, location: LOCATION, osType: 'Linux' })
}

function imageId(name: string): string {
  return `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/images/${name}`
}

function capture(
  vm: string,
  image: string,
  inputs: Record<string, string>,
  env: Record<string, string>,
  options: Partial<RunOptions> = {}
): Promise<ActionRun> {
  return runAction({
    ...options,
    inputs: { ...connection(), 'source-vm': vm, 'image-name': image, ...inputs },
    env: { ...cloud.env, PATH: noAzPath, ...env }
  })
}

const isArm = (r: RecordedRequest): boolean => /^\/subscriptions\//i.test(r.path)

/** Every ARM request carried a token issued for this cloud's ARM audience, and none got a 401. */
function expectArmAudienceOnly(requests: RecordedRequest[]): void {
  const arm = requests.filter(isArm)
  expect(arm.length).toBeGreaterThan(0)
  expect(arm.filter(r => r.tokenAudience !== cloud.emu.armAudience)).toEqual([])
  expect(arm.filter(r => r.status === 401)).toEqual([])
}

describe('managed identity (App Service endpoint: IDENTITY_ENDPOINT + IDENTITY_HEADER)', () => {
  it("auth-type 'managed-identity' captures a VM with a system-assigned identity's token", async () => {
    seedVm('mi-vm')
    const before = cloud.emu.requests.length
    const entraBefore = cloud.emu.tokenRequests.length
    const r = await capture(
      'mi-vm',
      'mi-img',
      { 'auth-type': 'managed-identity' },
      cloud.emu.managedIdentityEnv()
    )

    expect(errorLines(r.main)).toEqual([])
    expect(r.main.code).toBe(0)
    expect(r.main.stdout).toContain(
      "Signing in with managed-identity: auth-type is 'managed-identity'"
    )
    expect(r.outputs['image-id']).toBe(imageId('mi-img'))
    expect(cloud.emu.resources.get(imageId('mi-img'))).toBeDefined()

    const mi = cloud.emu
      .managedIdentityRequests()
      .filter(q => cloud.emu.requests.indexOf(q) >= before)
    expect(mi.length).toBeGreaterThanOrEqual(1)
    for (const q of mi) {
      expect(q.method).toBe('GET')
      expect(q.status).toBe(200)
      // msal-node AppService: the scope without '/.default' as `resource`, no user-assigned id.
      expect(q.query).toEqual({ 'api-version': '2019-08-01', resource: cloud.emu.armAudience })
    }
    // No Entra token request: the identity endpoint handed out the token.
    expect(cloud.emu.tokenRequests.length).toBe(entraBefore)
    expectArmAudienceOnly(cloud.emu.requests.slice(before))
  })

  it("auth-type 'auto' with no client id, secret, ID token or az falls back to managed identity", async () => {
    seedVm('auto-mi-vm')
    const before = cloud.emu.requests.length
    const idTokensBefore = cloud.emu.idTokenRequests
    const r = await capture('auto-mi-vm', 'auto-mi-img', {}, cloud.emu.managedIdentityEnv())

    expect(errorLines(r.main)).toEqual([])
    expect(r.main.code).toBe(0)
    expect(r.main.stdout).toContain(
      'Signing in with managed-identity: no other credential is available'
    )
    expect(r.outputs['image-id']).toBe(imageId('auto-mi-img'))
    const mi = cloud.emu
      .managedIdentityRequests()
      .filter(q => cloud.emu.requests.indexOf(q) >= before)
    expect(mi.map(q => [q.status, q.query.resource])).toContainEqual([200, cloud.emu.armAudience])
    expect(cloud.emu.idTokenRequests).toBe(idTokensBefore)
    expectArmAudienceOnly(cloud.emu.requests.slice(before))
  })

  it("a user-assigned identity named by 'client-id' is asked for as client_id", async () => {
    seedVm('uami-vm')
    const [assigned] = cloud.emu.userAssignedClientIds
    const before = cloud.emu.requests.length
    const r = await capture(
      'uami-vm',
      'uami-img',
      { 'auth-type': 'managed-identity', 'client-id': assigned },
      cloud.emu.managedIdentityEnv()
    )

    expect(errorLines(r.main)).toEqual([])
    expect(r.main.code).toBe(0)
    expect(r.outputs['image-id']).toBe(imageId('uami-img'))
    const mi = cloud.emu
      .managedIdentityRequests()
      .filter(q => cloud.emu.requests.indexOf(q) >= before)
    expect(mi.length).toBeGreaterThanOrEqual(1)
    for (const q of mi) {
      expect(q.status).toBe(200)
      expect(q.query).toEqual({
        'api-version': '2019-08-01',
        resource: cloud.emu.armAudience,
        client_id: assigned
      })
    }
  })

  it("an identity the host does not have fails the run with the endpoint's message, before any write", async () => {
    seedVm('uami-missing-vm')
    const unassigned = '00000000-0000-0000-0000-00000000dead'
    const before = cloud.emu.requests.length
    const r = await capture(
      'uami-missing-vm',
      'uami-missing-img',
      { 'auth-type': 'managed-identity', 'client-id': unassigned },
      cloud.emu.managedIdentityEnv()
    )

    expect(r.main.code).toBe(1)
    expect(errorLines(r.main).join('\n')).toMatch(/Unable to load the proper Managed Identity/)
    const since = cloud.emu.requests.slice(before)
    expect(
      since.filter(q => q.path === '/msi/token').map(q => [q.status, q.query.client_id])
    ).toContainEqual([400, unassigned])
    expect(since.filter(isArm).filter(q => q.method !== 'GET' && q.method !== 'HEAD')).toEqual([])
    expect(cloud.emu.resources.get(imageId('uami-missing-img'))).toBeUndefined()
  })
})

describe('OIDC when Azure rejects the access token mid-run', () => {
  it('mints a new GitHub ID token and sends Entra a new client assertion, each time', async () => {
    seedVm('oidc-expiry-vm')
    // Two requests wait a moment at the emulator; meanwhile every access token and every GitHub ID
    // token issued so far expires, so ARM answers them 401 ExpiredAuthenticationToken, and Entra
    // would refuse an old assertion (AADSTS700024) if it were sent again. Twice, because the first
    // refresh also works without a new credential (it asks MSAL without CAE, another cache).
    const rejected = [
      { method: 'POST', path: /\/virtualMachines\/oidc-expiry-vm\/deallocate$/ },
      { method: 'PUT', path: /\/images\/oidc-expiry-img$/ }
    ]
    const marks: Array<{ idTokens: number; entra: number }> = []
    const stops = rejected.map(({ method, path }) => {
      cloud.emu.faults.add({
        method,
        path: new RegExp(`${path.source.slice(0, -1)}\\?`),
        delayMs: 500
      })
      return cloud.whenRequest(
        q => q.method === method && path.test(q.path),
        () => {
          marks.push({ idTokens: cloud.emu.idTokenRequests, entra: cloud.emu.tokenRequests.length })
          cloud.emu.expireTokens()
          cloud.emu.expireIdTokens()
        }
      )
    })
    const before = cloud.emu.requests.length
    const start = { idTokens: cloud.emu.idTokenRequests, entra: cloud.emu.tokenRequests.length }
    const r = await capture(
      'oidc-expiry-vm',
      'oidc-expiry-img',
      {
        'auth-type': 'oidc',
        'client-id': cloud.emu.clientId,
        'tenant-id': cloud.emu.tenantId,
        // The emulator's login endpoint is not Microsoft Entra ID: OIDC needs the audience named.
        audience: 'api://AzureADTokenExchange'
      },
      {
        ACTIONS_ID_TOKEN_REQUEST_URL: cloud.emu.oidcTokenUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: cloud.emu.oidcRequestToken
      }
    ).finally(() => stops.forEach(stop => stop()))

    expect(errorLines(r.main)).toEqual([])
    expect(r.main.code).toBe(0)
    expect(r.main.stdout).toContain("Signing in with oidc: auth-type is 'oidc'")
    expect(r.outputs['image-id']).toBe(imageId('oidc-expiry-img'))
    expect(cloud.emu.faults.pending).toEqual([])
    expect(marks).toHaveLength(2)

    // Each period (start → 1st expiry → 2nd expiry → end) asked GitHub for an ID token and
    // exchanged an assertion Entra had not seen in an earlier period; every exchange succeeded.
    const ends = [
      ...marks,
      { idTokens: cloud.emu.idTokenRequests, entra: cloud.emu.tokenRequests.length }
    ]
    const seen = new Set<string | undefined>()
    let from = start
    for (const to of ends) {
      expect(to.idTokens).toBeGreaterThan(from.idTokens)
      const exchanges = cloud.emu.tokenRequests.slice(from.entra, to.entra)
      expect(exchanges.length).toBeGreaterThanOrEqual(1)
      for (const t of exchanges) {
        expect(t).toMatchObject({ ok: true, via: 'client_assertion' })
        expect(t.assertionId).toBeDefined()
        expect(seen.has(t.assertionId)).toBe(false)
      }
      exchanges.forEach(t => seen.add(t.assertionId))
      from = to
    }

    // Each rejected request was sent again with the new token; nothing after it was refused.
    const since = cloud.emu.requests.slice(before)
    const [deallocates, puts] = rejected.map(({ method, path }) =>
      since.filter(q => q.method === method && path.test(q.path))
    )
    expect(deallocates.map(q => q.status)).toEqual([401, 202])
    expect(puts.map(q => q.status)).toEqual([401, 201])
    expect(since.filter(q => q.status === 401)).toEqual([deallocates[0], puts[0]])
    expect(
      r.main.stdout.match(
        /Azure rejected the access token \(ExpiredAuthenticationToken\); sending the request again with a new token/g
      )
    ).toHaveLength(2)
  })
})

describe('token audience', () => {
  it("every ARM request of a normal run carries a token for the cloud's ARM audience", async () => {
    seedVm('audience-vm')
    const before = cloud.emu.requests.length
    const entraBefore = cloud.emu.tokenRequests.length
    const r = await capture(
      'audience-vm',
      'audience-img',
      {
        'auth-type': 'client-secret',
        'client-id': cloud.emu.clientId,
        'tenant-id': cloud.emu.tenantId,
        'client-secret': cloud.emu.clientSecret,
        'backup-snapshot': 'true'
      },
      {}
    )

    expect(errorLines(r.main)).toEqual([])
    expect(r.main.code).toBe(0)
    const since = cloud.emu.requests.slice(before)
    expect(since.filter(isArm).every(q => q.authorization)).toBe(true)
    expectArmAudienceOnly(since)
    // The token was asked for with the scope `${audience}/.default` the cloud metadata names.
    const asked = cloud.emu.tokenRequests.slice(entraBefore)
    expect(asked.length).toBeGreaterThanOrEqual(1)
    expect(asked.map(t => [t.scope.split(' ').filter(s => s.endsWith('/.default')), t.ok])).toEqual(
      asked.map(() => [[cloud.emu.armScope], true])
    )
  })
})
