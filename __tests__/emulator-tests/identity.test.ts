import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { AzureCliCredential, ClientAssertionCredential } from '@azure/identity'
import { startArmEmulator, type ArmEmulator, type Body } from '../emulator/index.js'
import { arm, computeClient, secretCredential, trustEmulator } from './helpers.js'

const run = promisify(execFile)

describe('ARM emulator identity', () => {
  let emu: ArmEmulator
  beforeAll(async () => {
    emu = await startArmEmulator()
    trustEmulator(emu)
    emu.addResourceGroup('rg-one', 'westus')
    emu.addVm({ resourceGroup: 'rg-one', name: 'vm1', location: 'westus', osType: 'Linux' })
  })
  afterAll(async () => emu.close())

  it('serves Azure Stack style cloud metadata pointing at itself', async () => {
    const res = await fetch(`${emu.url}/metadata/endpoints?api-version=2015-01-01`)
    const body = (await res.json()) as Body
    expect(body.authentication.loginEndpoint).toBe(`${emu.url}/`)
    expect(body.authentication.audiences).toEqual([emu.armAudience])
    expect(body).toHaveProperty('galleryEndpoint')
    expect(body).toHaveProperty('graphEndpoint')
    expect(body).toHaveProperty('portalEndpoint')
    expect(res.headers.get('x-ms-request-id')).toBeTruthy()
  })

  it('ClientSecretCredential gets a token the SDK uses against ARM (case-insensitive resource group)', async () => {
    const vm = await computeClient(emu).virtualMachines.get('RG-ONE', 'vm1', {
      expand: 'instanceView'
    })
    expect(vm.name).toBe('vm1')
    expect(vm.instanceView?.statuses?.map(s => s.code)).toContain('PowerState/running')
    expect(emu.tokenRequests.at(-1)).toMatchObject({ via: 'client_secret', ok: true })
  })

  it('rejects a wrong client secret like Entra (AADSTS7000215)', async () => {
    await expect(secretCredential(emu, 'wrong').getToken(emu.armScope)).rejects.toThrow(
      /AADSTS7000215/
    )
  })

  it('ClientAssertionCredential works with an ID token from the GitHub OIDC stand-in', async () => {
    const before = emu.idTokenRequests
    const getAssertion = async (): Promise<string> => {
      const res = await fetch(
        `${emu.oidcTokenUrl}&audience=${encodeURIComponent('api://AzureADTokenExchange')}`,
        {
          headers: { authorization: `Bearer ${emu.oidcRequestToken}` }
        }
      )
      return ((await res.json()) as Body).value
    }
    const cred = new ClientAssertionCredential(emu.tenantId, emu.clientId, getAssertion, {
      authorityHost: emu.url,
      disableInstanceDiscovery: true
    })
    const token = await cred.getToken(emu.armScope)
    expect(token.token).toBeTruthy()
    expect(emu.idTokenRequests).toBeGreaterThan(before)
    expect(
      (
        await arm(
          emu,
          'GET',
          '/subscriptions/' + emu.subscriptionId + '/resourceGroups/rg-one?api-version=2021-04-01',
          undefined,
          token.token
        )
      ).status
    ).toBe(200)
  })

  it('refuses an expired client assertion with AADSTS700024', async () => {
    const short = await startArmEmulator({ idTokenLifetimeSeconds: 0 })
    trustEmulator(short)
    try {
      const getAssertion = async (): Promise<string> => {
        const res = await fetch(`${short.oidcTokenUrl}&audience=api://AzureADTokenExchange`, {
          headers: { authorization: `Bearer ${short.oidcRequestToken}` }
        })
        return ((await res.json()) as Body).value
      }
      const cred = new ClientAssertionCredential(short.tenantId, short.clientId, getAssertion, {
        authorityHost: short.url,
        disableInstanceDiscovery: true
      })
      await expect(cred.getToken(short.armScope)).rejects.toThrow(/AADSTS700024/)
    } finally {
      await short.close()
    }
  })

  it('issues storage tokens as JWTs the blob service can read, refuses a scope without /.default', async () => {
    const storage = (await secretCredential(emu).getToken('https://storage.azure.com/.default'))!
    const [header, payload, signature] = storage.token.split('.')
    expect(signature).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(JSON.parse(Buffer.from(header, 'base64url').toString())).toMatchObject({ typ: 'JWT' })
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString())
    expect(claims).toMatchObject({
      aud: 'https://storage.azure.com',
      iss: `https://sts.windows.net/${emu.tenantId}/`,
      tid: emu.tenantId,
      appid: emu.clientId
    })
    expect(claims.nbf).toBeLessThanOrEqual(Date.now() / 1000)
    expect(claims.exp * 1000).toBeGreaterThan(Date.now())
    // ARM tokens are JWTs too, with Entra's v1.0 app-only claims (README: access token claims).
    const arm = (await secretCredential(emu).getToken(emu.armScope))!.token
    const armClaims = JSON.parse(Buffer.from(arm.split('.')[1], 'base64url').toString('utf8'))
    expect(armClaims.idtyp).toBe('app')
    expect(armClaims.appid).toBeDefined()
    await expect(secretCredential(emu).getToken('https://storage.azure.com')).rejects.toThrow(
      /AADSTS1002012/
    )
  })

  it('answers ARM calls without or with bad tokens as ARM does', async () => {
    const path = `/subscriptions/${emu.subscriptionId}/resourceGroups/rg-one?api-version=2021-04-01`
    const none = await fetch(`${emu.url}${path}`)
    expect(none.status).toBe(401)
    expect(((await none.json()) as Body).error.code).toBe('AuthenticationFailed')
    const other = await secretCredential(emu).getToken('https://storage.azure.com/.default')
    const wrongAud = await arm(emu, 'GET', path, undefined, other!.token)
    expect(wrongAud.status).toBe(401)
    expect(wrongAud.body.error.code).toBe('InvalidAuthenticationTokenAudience')
    const noVersion = await arm(
      emu,
      'GET',
      `/subscriptions/${emu.subscriptionId}/resourceGroups/rg-one`
    )
    expect(noVersion.status).toBe(400)
    expect(noVersion.body.error.code).toBe('MissingApiVersionParameter')
    const missing = await arm(
      emu,
      'GET',
      `/subscriptions/${emu.subscriptionId}/resourceGroups/nope?api-version=2021-04-01`
    )
    expect(missing.body.error.code).toBe('ResourceGroupNotFound')
  })

  it('expireTokens() makes the next ARM call fail with ExpiredAuthenticationToken', async () => {
    const token = (await secretCredential(emu).getToken(emu.armScope))!.token
    emu.expireTokens()
    const res = await arm(
      emu,
      'GET',
      `/subscriptions/${emu.subscriptionId}/resourceGroups/rg-one?api-version=2021-04-01`,
      undefined,
      token
    )
    expect(res.status).toBe(401)
    expect(res.body.error.code).toBe('ExpiredAuthenticationToken')
    expect(res.headers.get('www-authenticate')).toMatch(/invalid_token/)
  })

  it('the az stand-in returns a usable token when logged in, and fails like az when not', async () => {
    const azPath = `${emu.azBinDir}/az`
    const env = { ...process.env, ...emu.azCliEnv() }
    const { stdout } = await run(
      azPath,
      ['account', 'get-access-token', '--output', 'json', '--resource', emu.armAudience],
      { env }
    )
    const out = JSON.parse(stdout)
    expect(out.accessToken).toBeTruthy()
    expect(Number.isFinite(out.expires_on)).toBe(true)
    const ok = await arm(
      emu,
      'GET',
      `/subscriptions/${emu.subscriptionId}/resourceGroups/rg-one?api-version=2021-04-01`,
      undefined,
      out.accessToken
    )
    expect(ok.status).toBe(200)
    const loggedOut = { ...process.env, AZ_EMULATOR_URL: '' }
    await expect(
      run(
        azPath,
        ['account', 'get-access-token', '--output', 'json', '--resource', emu.armAudience],
        { env: loggedOut }
      )
    ).rejects.toMatchObject({ stderr: expect.stringMatching(/az login/) })
  })

  it('AzureCliCredential works with the az stand-in on PATH', async () => {
    const saved = { ...process.env }
    Object.assign(process.env, emu.azCliEnv(), { PATH: `${emu.azBinDir}:${process.env.PATH}` })
    try {
      const token = await new AzureCliCredential().getToken(emu.armScope)
      expect(token.token).toBeTruthy()
    } finally {
      process.env = saved
    }
  })
})
