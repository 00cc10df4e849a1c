import { describe, expect, it } from '@jest/globals'
import {
  AzureCliCredential,
  ClientAssertionCredential,
  ClientSecretCredential,
  ManagedIdentityCredential
} from '@azure/identity'
import { knownCloud, type Cloud } from '../../../src/azure/clouds.js'
import {
  chooseCredentialKind,
  createCredential,
  type CredentialEnvironment
} from '../../../src/azure/credentials.js'
import type { AuthType, ConnectionPlan } from '../../../src/plan.js'

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47'
const CLIENT = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0'
const SUB = '11111111-2222-3333-4444-555555555555'

// Loose on purpose: some cases give an auth-type without the ids the plan would require.
const conn = (over: Record<string, string> = {}): ConnectionPlan =>
  ({ authType: 'auto', environment: 'AzureCloud', ...over }) as ConnectionPlan
const ids = { clientId: CLIENT, tenantId: TENANT }

describe('chooseCredentialKind: auto, in the contract order', () => {
  const everything = { canMintIdToken: true, hasAzureCli: true }

  it('OIDC when client-id and tenant-id are set and the job can mint an ID token', () => {
    const choice = chooseCredentialKind(conn({ ...ids, clientSecret: 's' }), everything)
    expect(choice.kind).toBe('oidc')
    expect(choice.reason).toMatch(/client-id and tenant-id/)
  })

  it('client secret when the job cannot mint an ID token', () => {
    const choice = chooseCredentialKind(conn({ ...ids, clientSecret: 's' }), {
      canMintIdToken: false,
      hasAzureCli: true
    })
    expect(choice).toEqual({
      kind: 'client-secret',
      ...ids,
      clientSecret: 's',
      reason: 'client-secret is set'
    })
  })

  it('not OIDC without a tenant-id, even when a token can be minted', () => {
    expect(chooseCredentialKind(conn({ clientId: CLIENT }), everything).kind).toBe('azure-cli')
  })

  it('not OIDC without a client-id', () => {
    expect(chooseCredentialKind(conn({ tenantId: TENANT }), everything).kind).toBe('azure-cli')
  })

  it('not client secret when a secret is set without both ids', () => {
    const choice = chooseCredentialKind(conn({ clientId: CLIENT, clientSecret: 's' }), {
      canMintIdToken: false,
      hasAzureCli: false
    })
    expect(choice.kind).toBe('managed-identity')
  })

  it('Azure CLI when ids are set but neither a token nor a secret is available', () => {
    const choice = chooseCredentialKind(conn(ids), { canMintIdToken: false, hasAzureCli: true })
    expect(choice.kind).toBe('azure-cli')
    expect(choice.reason).toMatch(/Azure CLI/)
  })

  it('Azure CLI with no connection inputs at all', () => {
    expect(chooseCredentialKind(conn(), everything).kind).toBe('azure-cli')
  })

  it('managed identity when nothing else is available', () => {
    expect(chooseCredentialKind(conn(), { canMintIdToken: false, hasAzureCli: false })).toEqual({
      kind: 'managed-identity',
      reason: 'no other credential is available'
    })
    expect(
      chooseCredentialKind(conn({ clientId: CLIENT }), { canMintIdToken: true, hasAzureCli: false })
        .kind
    ).toBe('managed-identity')
  })
})

describe('chooseCredentialKind: an explicit auth-type is taken as given', () => {
  it.each<Exclude<AuthType, 'auto'>>(['oidc', 'client-secret', 'azure-cli', 'managed-identity'])(
    '%s',
    authType => {
      // Even with an environment that would make `auto` choose something else.
      for (const env of [
        { canMintIdToken: false, hasAzureCli: false },
        { canMintIdToken: true, hasAzureCli: true }
      ]) {
        expect(chooseCredentialKind(conn({ authType }), env)).toEqual({
          kind: authType,
          reason: `auth-type is '${authType}'`
        })
      }
    }
  )
})

interface TokenCalls extends CredentialEnvironment {
  audiences: string[]
}

function environment(over: Partial<CredentialEnvironment> = {}): TokenCalls {
  const audiences: string[] = []
  let n = 0
  return {
    audiences,
    getIDToken: async audience => {
      audiences.push(audience)
      return `id-token-${++n}`
    },
    canMintIdToken: true,
    hasAzureCli: true,
    ...over
  }
}

describe('createCredential', () => {
  const cloud = knownCloud('AzureCloud')

  it('oidc: a ClientAssertionCredential', () => {
    const credential = createCredential(
      { kind: 'oidc', ...ids, reason: '' },
      cloud,
      SUB,
      environment()
    )
    expect(credential).toBeInstanceOf(ClientAssertionCredential)
  })

  it('oidc: asks for a fresh ID token for the cloud’s audience on every assertion', async () => {
    const env = environment()
    const usGov: Cloud = { ...knownCloud('AzureUSGovernment'), oidcAudience: 'api://custom-aud' }
    const credential = createCredential({ kind: 'oidc', ...ids, reason: '' }, usGov, SUB, env)
    // @azure/identity keeps the callback as the credential's `getAssertion` field; MSAL calls it for
    // each token request it has to make. Calling it directly needs no network.
    const getAssertion = (credential as unknown as { getAssertion: () => Promise<string> })
      .getAssertion
    expect(typeof getAssertion).toBe('function')
    expect(await getAssertion()).toBe('id-token-1')
    expect(await getAssertion()).toBe('id-token-2')
    expect(env.audiences).toEqual(['api://custom-aud', 'api://custom-aud'])
  })

  it('oidc: refuses without id-token permission, saying what to add', () => {
    expect(() =>
      createCredential(
        { kind: 'oidc', ...ids, reason: '' },
        cloud,
        SUB,
        environment({ canMintIdToken: false })
      )
    ).toThrow(/permissions: id-token: write/)
  })

  it('oidc: passes the cloud’s authority host and instance discovery setting', () => {
    const stack: Cloud = {
      ...cloud,
      name: 'AzureStack',
      authorityHost: 'https://adfs.local.azurestack.external/adfs',
      disableInstanceDiscovery: true
    }
    const credential = createCredential(
      { kind: 'oidc', ...ids, reason: '' },
      stack,
      SUB,
      environment()
    )
    const options = (credential as unknown as { options: Record<string, unknown> }).options
    expect(options).toMatchObject({
      authorityHost: 'https://adfs.local.azurestack.external/adfs',
      disableInstanceDiscovery: true
    })
  })

  it('client-secret: a ClientSecretCredential', () => {
    const credential = createCredential(
      { kind: 'client-secret', ...ids, clientSecret: 'shh', reason: '' },
      cloud,
      SUB,
      environment()
    )
    expect(credential).toBeInstanceOf(ClientSecretCredential)
  })

  it('azure-cli: an AzureCliCredential', () => {
    const credential = createCredential(
      { kind: 'azure-cli', reason: '' },
      cloud,
      SUB,
      environment()
    )
    expect(credential).toBeInstanceOf(AzureCliCredential)
  })

  it('managed-identity: a ManagedIdentityCredential, user-assigned or system-assigned', () => {
    expect(
      createCredential(
        { kind: 'managed-identity', clientId: CLIENT, reason: '' },
        cloud,
        SUB,
        environment()
      )
    ).toBeInstanceOf(ManagedIdentityCredential)
    expect(
      createCredential({ kind: 'managed-identity', reason: '' }, cloud, SUB, environment())
    ).toBeInstanceOf(ManagedIdentityCredential)
  })

  it('never asks for an ID token while building a credential', () => {
    const env = environment()
    createCredential({ kind: 'oidc', ...ids, reason: '' }, cloud, SUB, env)
    createCredential(
      { kind: 'client-secret', ...ids, clientSecret: 's', reason: '' },
      cloud,
      SUB,
      env
    )
    expect(env.audiences).toEqual([])
  })
})
