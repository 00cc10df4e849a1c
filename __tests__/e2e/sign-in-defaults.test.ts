/**
 * Sign-in as users of azure/login expect, on the bundled action: `client-id`, `tenant-id`,
 * `client-secret` and `subscription-id` default to AZURE_CLIENT_ID, AZURE_TENANT_ID,
 * AZURE_CLIENT_SECRET and AZURE_SUBSCRIPTION_ID; after azure/login (the `az` stand-in on PATH) the
 * subscription defaults to the CLI session's (`az account show`); azure/login's `auth-type` values
 * SERVICE_PRINCIPAL and IDENTITY are accepted. Evidence is the emulator's request and token logs.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { errorLines, runAction } from '../support/action-runner.js'
import { startLocalCloud, type LocalCloud } from '../support/cloud.js'

const RG = 'defaults-rg'
let cloud: LocalCloud
let noAzPath: string

beforeAll(async () => {
  cloud = await startLocalCloud({ lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 } })
  cloud.emu.addResourceGroup(RG, 'westeurope')
  noAzPath = mkdtempSync(join(tmpdir(), 'no-az-'))
})
afterAll(async () => cloud.close())

/** The cloud and the work, without any credential or subscription input. */
function inputs(vm: string, image: string, extra: Record<string, string> = {}) {
  cloud.emu.addVm({ resourceGroup: RG, name: vm, location: 'westeurope', osType: 'Linux' })
  return {
    environment: 'AzureStack',
    'resource-manager-endpoint': cloud.emu.url,
    'resource-group': RG,
    'source-vm': vm,
    'image-name': image,
    deprovision: 'false',
    ...extra
  }
}

const subscriptionPaths = (from: number): string[] =>
  cloud.emu.requests
    .slice(from)
    .filter(r => r.path.startsWith('/subscriptions/'))
    .map(r => r.path.split('/')[2])

describe('sign-in defaults from the environment', () => {
  it('signs in with AZURE_CLIENT_ID / AZURE_TENANT_ID / AZURE_CLIENT_SECRET and works in AZURE_SUBSCRIPTION_ID', async () => {
    const before = cloud.emu.requests.length
    const tokensBefore = cloud.emu.tokenRequests.length
    const run = await runAction({
      inputs: inputs('env-vm', 'env-img'),
      env: {
        ...cloud.env,
        PATH: noAzPath,
        AZURE_CLIENT_ID: cloud.emu.clientId,
        AZURE_TENANT_ID: cloud.emu.tenantId,
        AZURE_CLIENT_SECRET: cloud.emu.clientSecret,
        AZURE_SUBSCRIPTION_ID: cloud.emu.subscriptionId
      }
    })
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.code).toBe(0)
    expect(run.main.stdout).toContain('Signing in with client-secret')
    expect(run.outputs['image-id']).toBe(
      `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/images/env-img`
    )
    const paths = subscriptionPaths(before)
    expect(paths.length).toBeGreaterThan(0)
    expect(new Set(paths)).toEqual(new Set([cloud.emu.subscriptionId]))
    const tokens = cloud.emu.tokenRequests.slice(tokensBefore)
    expect(tokens.some(t => t.via === 'client_secret' && t.ok)).toBe(true)
    // The secret from the environment is registered for masking first, like the input, and
    // printed nowhere else.
    const lines = run.allText.split('\n')
    expect(lines[0]).toBe(`::add-mask::${cloud.emu.clientSecret}`)
    expect(lines.slice(1).filter(l => l.includes(cloud.emu.clientSecret))).toEqual([])
  })

  it('an input wins over its environment variable', async () => {
    const run = await runAction({
      inputs: inputs('input-wins-vm', 'input-wins-img', {
        'subscription-id': cloud.emu.subscriptionId,
        'auth-type': 'client-secret',
        'client-id': cloud.emu.clientId,
        'tenant-id': cloud.emu.tenantId,
        'client-secret': cloud.emu.clientSecret
      }),
      env: {
        ...cloud.env,
        PATH: noAzPath,
        AZURE_CLIENT_ID: 'not-a-guid',
        AZURE_SUBSCRIPTION_ID: 'not-a-guid'
      }
    })
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.code).toBe(0)
  })

  it('names the variable when an environment default is not valid', async () => {
    const run = await runAction({
      inputs: inputs('bad-env-vm', 'bad-env-img', { 'subscription-id': cloud.emu.subscriptionId }),
      env: { ...cloud.env, PATH: noAzPath, AZURE_CLIENT_ID: 'not-a-guid' }
    })
    expect(run.main.code).toBe(1)
    expect(errorLines(run.main)).toEqual([
      "::error::Input 'client-id': expected a GUID, got 'not-a-guid' (from AZURE_CLIENT_ID)."
    ])
  })
})

describe('after azure/login', () => {
  it("uses the CLI session's subscription when neither subscription-id nor AZURE_SUBSCRIPTION_ID is set", async () => {
    const before = cloud.emu.requests.length
    const run = await runAction({
      inputs: inputs('cli-vm', 'cli-img'),
      env: {
        ...cloud.env,
        ...cloud.emu.azCliEnv(),
        PATH: `${cloud.emu.azBinDir}:${process.env.PATH}`
      }
    })
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.code).toBe(0)
    expect(run.main.stdout).toContain('Signing in with azure-cli')
    expect(run.main.stdout).toContain(`subscription ${cloud.emu.subscriptionId}`)
    expect(new Set(subscriptionPaths(before))).toEqual(new Set([cloud.emu.subscriptionId]))
    expect(run.outputs['image-id']).toMatch(/\/images\/cli-img$/)
  })

  it('asks for a subscription when the session has none (a tenant-level login)', async () => {
    const before = cloud.emu.requests.length
    const run = await runAction({
      inputs: inputs('tenant-vm', 'tenant-img'),
      env: {
        ...cloud.env,
        ...cloud.emu.azCliEnv(),
        AZ_EMULATOR_TENANT_LEVEL: '1',
        PATH: `${cloud.emu.azBinDir}:${process.env.PATH}`
      }
    })
    expect(run.main.code).toBe(1)
    expect(errorLines(run.main)).toEqual([
      "::error::Input 'subscription-id': is required when 'source-vm' is a name rather than a full resource ID."
    ])
    expect(cloud.emu.requests.length).toBe(before)
  })

  it("accepts azure/login's auth-type values: SERVICE_PRINCIPAL and IDENTITY", async () => {
    const sp = await runAction({
      inputs: inputs('sp-vm', 'sp-img', {
        'auth-type': 'SERVICE_PRINCIPAL',
        'subscription-id': cloud.emu.subscriptionId,
        'client-id': cloud.emu.clientId,
        'tenant-id': cloud.emu.tenantId,
        'client-secret': cloud.emu.clientSecret
      }),
      env: { ...cloud.env, PATH: noAzPath }
    })
    expect(errorLines(sp.main)).toEqual([])
    expect(sp.main.stdout).toContain('Signing in with client-secret')

    const mi = await runAction({
      inputs: inputs('mi-vm', 'mi-img', {
        'auth-type': 'identity',
        'subscription-id': cloud.emu.subscriptionId
      }),
      env: { ...cloud.env, ...cloud.emu.managedIdentityEnv(), PATH: noAzPath }
    })
    expect(errorLines(mi.main)).toEqual([])
    expect(mi.main.stdout).toContain('Signing in with managed-identity')
    expect(mi.outputs['image-id']).toMatch(/\/images\/mi-img$/)
  })
})
