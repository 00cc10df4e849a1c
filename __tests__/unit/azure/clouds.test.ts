import { describe, expect, it } from '@jest/globals'
import {
  blobEndpointProblem,
  cloudFromMetadata,
  knownCloud,
  loginHostAllowed,
  portalLink,
  resolveCloud,
  type CloudMetadata
} from '../../../src/azure/clouds.js'
import type { ConnectionPlan } from '../../../src/plan.js'

/**
 * Values as Microsoft publishes them: the @azure/identity AzureAuthorityHosts, `az cloud show`, and
 * the Entra workload identity federation audiences (api://AzureADTokenExchange, …USGov, …China).
 */
describe('knownCloud', () => {
  it('AzureCloud', () => {
    expect(knownCloud('AzureCloud')).toEqual({
      name: 'AzureCloud',
      authorityHost: 'https://login.microsoftonline.com',
      resourceManagerEndpoint: 'https://management.azure.com',
      armScope: 'https://management.azure.com/.default',
      storageSuffix: 'core.windows.net',
      storageScope: 'https://storage.azure.com/.default',
      oidcAudience: 'api://AzureADTokenExchange',
      portalUrl: 'https://portal.azure.com',
      disableInstanceDiscovery: false
    })
  })

  it('AzureUSGovernment', () => {
    expect(knownCloud('AzureUSGovernment')).toEqual({
      name: 'AzureUSGovernment',
      authorityHost: 'https://login.microsoftonline.us',
      resourceManagerEndpoint: 'https://management.usgovcloudapi.net',
      armScope: 'https://management.usgovcloudapi.net/.default',
      storageSuffix: 'core.usgovcloudapi.net',
      storageScope: 'https://storage.azure.com/.default',
      oidcAudience: 'api://AzureADTokenExchangeUSGov',
      portalUrl: 'https://portal.azure.us',
      disableInstanceDiscovery: false
    })
  })

  it('AzureChinaCloud', () => {
    expect(knownCloud('AzureChinaCloud')).toEqual({
      name: 'AzureChinaCloud',
      authorityHost: 'https://login.chinacloudapi.cn',
      resourceManagerEndpoint: 'https://management.chinacloudapi.cn',
      armScope: 'https://management.chinacloudapi.cn/.default',
      storageSuffix: 'core.chinacloudapi.cn',
      storageScope: 'https://storage.azure.com/.default',
      oidcAudience: 'api://AzureADTokenExchangeChina',
      portalUrl: 'https://portal.azure.cn',
      disableInstanceDiscovery: false
    })
  })

  it('keeps every endpoint free of a trailing slash', () => {
    for (const name of ['AzureCloud', 'AzureUSGovernment', 'AzureChinaCloud'] as const) {
      const cloud = knownCloud(name)
      expect(cloud.authorityHost).not.toMatch(/\/$/)
      expect(cloud.resourceManagerEndpoint).not.toMatch(/\/$/)
      expect(cloud.portalUrl).not.toMatch(/\/$/)
      expect(cloud.armScope).toBe(`${cloud.resourceManagerEndpoint}/.default`)
    }
  })
})

/** The shape Azure Stack Hub answers at <arm>/metadata/endpoints?api-version=2015-01-01 (Entra ID). */
const ASDK_ARM = 'https://management.local.azurestack.external'
const entraMetadata: CloudMetadata & Record<string, unknown> = {
  galleryEndpoint: 'https://portal.local.azurestack.external:30015/',
  graphEndpoint: 'https://graph.windows.net/',
  portalEndpoint: 'https://portal.local.azurestack.external/',
  authentication: {
    loginEndpoint: 'https://login.microsoftonline.com/',
    audiences: ['https://management.contoso.onmicrosoft.com/3e1f0c8a-5f2b-4c07-9a6e-0d2b7a1c4f11']
  }
}
/** The same on an AD FS (disconnected) stamp: the login endpoint ends in /adfs/. */
const adfsMetadata: CloudMetadata = {
  portalEndpoint: 'https://portal.local.azurestack.external/',
  authentication: {
    loginEndpoint: 'https://adfs.local.azurestack.external/adfs/',
    audiences: ['https://management.adfs.azurestack.local/9a8b7c6d-1111-2222-3333-444455556666']
  }
}

describe('cloudFromMetadata', () => {
  it('builds an Azure Stack Hub cloud from an Entra ID metadata document', () => {
    expect(cloudFromMetadata(ASDK_ARM, entraMetadata)).toEqual({
      name: 'AzureStack',
      authorityHost: 'https://login.microsoftonline.com',
      resourceManagerEndpoint: ASDK_ARM,
      armScope:
        'https://management.contoso.onmicrosoft.com/3e1f0c8a-5f2b-4c07-9a6e-0d2b7a1c4f11/.default',
      storageSuffix: 'local.azurestack.external',
      // Signed in at Microsoft Entra ID: no public storage token goes to the Stack's blob service.
      storageScope: undefined,
      oidcAudience: 'api://AzureADTokenExchange',
      portalUrl: 'https://portal.local.azurestack.external',
      disableInstanceDiscovery: true
    })
  })

  it('keeps the /adfs path of an AD FS login endpoint, without its trailing slash', () => {
    const cloud = cloudFromMetadata(ASDK_ARM, adfsMetadata)
    expect(cloud.authorityHost).toBe('https://adfs.local.azurestack.external/adfs')
    expect(cloud.armScope).toBe(
      'https://management.adfs.azurestack.local/9a8b7c6d-1111-2222-3333-444455556666/.default'
    )
    expect(cloud.disableInstanceDiscovery).toBe(true)
  })

  it('trims trailing slashes from the ARM endpoint and the audience', () => {
    const cloud = cloudFromMetadata('https://management.east.contoso.com//', {
      authentication: {
        loginEndpoint: 'https://login.microsoftonline.com//',
        audiences: ['https://management.contoso.onmicrosoft.com/abc/']
      }
    })
    expect(cloud.resourceManagerEndpoint).toBe('https://management.east.contoso.com')
    expect(cloud.authorityHost).toBe('https://login.microsoftonline.com')
    expect(cloud.armScope).toBe('https://management.contoso.onmicrosoft.com/abc/.default')
    expect(cloud.storageSuffix).toBe('east.contoso.com')
  })

  it('uses the first audience when several are listed', () => {
    const cloud = cloudFromMetadata(ASDK_ARM, {
      authentication: {
        loginEndpoint: 'https://login.microsoftonline.com/',
        audiences: ['https://first/', 'https://second/']
      }
    })
    expect(cloud.armScope).toBe('https://first/.default')
  })

  it('derives the portal from the ARM endpoint when the document names none', () => {
    const cloud = cloudFromMetadata('https://management.region1.stack.example/', {
      authentication: { loginEndpoint: 'https://login.microsoftonline.com/', audiences: ['a'] }
    })
    expect(cloud.portalUrl).toBe('https://portal.region1.stack.example')
  })

  it.each<[string, CloudMetadata]>([
    ['no authentication', { portalEndpoint: 'https://portal.x/' }],
    ['no loginEndpoint', { authentication: { audiences: ['https://a/'] } }],
    ['no audiences', { authentication: { loginEndpoint: 'https://login/' } }],
    ['empty audiences', { authentication: { loginEndpoint: 'https://login/', audiences: [] } }],
    ['empty loginEndpoint', { authentication: { loginEndpoint: '', audiences: ['https://a/'] } }]
  ])('refuses a document with %s, naming resource-manager-endpoint', (_what, metadata) => {
    expect(() => cloudFromMetadata(ASDK_ARM, metadata)).toThrow(/'resource-manager-endpoint'/)
    expect(() => cloudFromMetadata(ASDK_ARM, metadata)).toThrow(
      `${ASDK_ARM}/metadata/endpoints did not name authentication.loginEndpoint and authentication.audiences`
    )
  })
})

describe('resolveCloud', () => {
  const noFetch = async (url: string): Promise<unknown> => {
    throw new Error(`unexpected fetch ${url}`)
  }

  it('returns the known cloud without fetching anything', async () => {
    const connection: ConnectionPlan = { authType: 'auto', environment: 'AzureUSGovernment' }
    expect(await resolveCloud(connection, noFetch)).toEqual(knownCloud('AzureUSGovernment'))
  })

  it('overrides the OIDC audience when one is given, leaving the rest', async () => {
    const connection: ConnectionPlan = {
      authType: 'oidc',
      clientId: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0',
      tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
      environment: 'AzureCloud',
      audience: 'api://custom'
    }
    const cloud = await resolveCloud(connection, noFetch)
    expect(cloud).toEqual({ ...knownCloud('AzureCloud'), oidcAudience: 'api://custom' })
    // The shared table is not mutated by the override.
    expect(knownCloud('AzureCloud').oidcAudience).toBe('api://AzureADTokenExchange')
  })

  it('fetches the metadata document of an Azure Stack Hub ARM endpoint', async () => {
    const urls: string[] = []
    const connection: ConnectionPlan = {
      authType: 'auto',
      environment: 'AzureStack',
      resourceManagerEndpoint: ASDK_ARM
    }
    const cloud = await resolveCloud(connection, async url => {
      urls.push(url)
      return entraMetadata
    })
    expect(urls).toEqual([
      'https://management.local.azurestack.external/metadata/endpoints?api-version=2015-01-01'
    ])
    expect(cloud).toEqual(cloudFromMetadata(ASDK_ARM, entraMetadata))
  })

  it('applies the audience override to Azure Stack Hub too', async () => {
    const connection: ConnectionPlan = {
      authType: 'auto',
      environment: 'AzureStack',
      resourceManagerEndpoint: ASDK_ARM,
      audience: 'api://stack-audience'
    }
    const cloud = await resolveCloud(connection, async () => entraMetadata)
    expect(cloud.oidcAudience).toBe('api://stack-audience')
    expect(cloud.name).toBe('AzureStack')
  })

  it('propagates the error of a metadata document without authentication', async () => {
    const connection: ConnectionPlan = {
      authType: 'auto',
      environment: 'AzureStack',
      resourceManagerEndpoint: ASDK_ARM
    }
    await expect(resolveCloud(connection, async () => ({}))).rejects.toThrow(
      /resource-manager-endpoint/
    )
  })
})

describe('portalLink', () => {
  const id =
    '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.Compute/images/img'

  it('links a resource in the public portal', () => {
    expect(portalLink(knownCloud('AzureCloud'), id)).toBe(
      `https://portal.azure.com/#@/resource${id}`
    )
  })

  it('links into the portal of the resource’s own cloud', () => {
    expect(portalLink(knownCloud('AzureChinaCloud'), id)).toBe(
      `https://portal.azure.cn/#@/resource${id}`
    )
    expect(portalLink(cloudFromMetadata(ASDK_ARM, entraMetadata), id)).toBe(
      `https://portal.local.azurestack.external/#@/resource${id}`
    )
  })
})

describe('cloudFromMetadata: endpoints checked before a credential goes there (issue 14)', () => {
  const doc = (
    loginEndpoint: string,
    audience = 'https://management.contoso.onmicrosoft.com/x'
  ) => ({
    authentication: { loginEndpoint, audiences: [audience] }
  })

  it('refuses an http login endpoint', () => {
    expect(() => cloudFromMetadata(ASDK_ARM, doc('http://login.microsoftonline.com/'))).toThrow(
      /login endpoint that is not https/
    )
  })

  it('refuses a login host that is neither Entra ID nor on the Stack domain', () => {
    for (const login of [
      'https://evil.example/',
      'https://login.microsoftonline.com.evil.example/',
      'https://azurestack.external/',
      'https://local.azurestack.external.evil.example/adfs'
    ]) {
      expect(() => cloudFromMetadata(ASDK_ARM, doc(login))).toThrow(/neither Microsoft Entra ID/)
    }
  })

  it('accepts Entra ID hosts and AD FS on the Stack domain', () => {
    for (const login of [
      'https://login.microsoftonline.com/',
      'https://login.microsoftonline.us/',
      'https://login.chinacloudapi.cn/',
      'https://adfs.local.azurestack.external/adfs/',
      'https://management.local.azurestack.external/'
    ]) {
      expect(cloudFromMetadata(ASDK_ARM, doc(login)).authorityHost).toBe(login.replace(/\/$/, ''))
    }
  })

  it('on a loopback ARM endpoint (an emulator) accepts only that same host', () => {
    expect(loginHostAllowed('127.0.0.1', '127.0.0.1')).toBe(true)
    expect(loginHostAllowed('localhost', '127.0.0.1')).toBe(false)
    expect(loginHostAllowed('127.0.0.2', '127.0.0.1')).toBe(false)
    expect(loginHostAllowed('evil.example', 'localhost')).toBe(false)
    expect(loginHostAllowed('a.example.com', 'example.com')).toBe(false)
  })

  it('refuses an ARM token audience of a public cloud', () => {
    for (const audience of [
      'https://management.azure.com/',
      'https://MANAGEMENT.core.windows.net'
    ]) {
      expect(() =>
        cloudFromMetadata(ASDK_ARM, doc('https://login.microsoftonline.com/', audience))
      ).toThrow(/a public cloud's Resource Manager/)
    }
  })

  it('keeps the default OIDC audience only where the assertion goes to Entra ID', () => {
    expect(cloudFromMetadata(ASDK_ARM, entraMetadata).oidcAudience).toBe(
      'api://AzureADTokenExchange'
    )
    expect(cloudFromMetadata(ASDK_ARM, adfsMetadata).oidcAudience).toBeUndefined()
  })

  it('ignores a portal endpoint that is not https', () => {
    const cloud = cloudFromMetadata(ASDK_ARM, {
      ...doc('https://login.microsoftonline.com/'),
      portalEndpoint: 'javascript:alert(1)'
    })
    expect(cloud.portalUrl).toBe('https://portal.local.azurestack.external')
  })
})

/**
 * Storage per cloud: the blob endpoint suffix (`az cloud show` suffixes.storage; go-azure-sdk
 * sdk/environments) and the Entra ID storage scope, one resource in every Microsoft-run cloud
 * (go-azure-sdk StorageAPI; Azurite's VALID_BLOB_AUDIENCES).
 */
describe('storage per cloud', () => {
  it.each([
    ['AzureCloud', 'core.windows.net'],
    ['AzureUSGovernment', 'core.usgovcloudapi.net'],
    ['AzureChinaCloud', 'core.chinacloudapi.cn']
  ] as const)(
    '%s: blob endpoints under %s, tokens for https://storage.azure.com',
    (name, suffix) => {
      const cloud = knownCloud(name)
      expect(cloud.storageSuffix).toBe(suffix)
      expect(cloud.storageScope).toBe('https://storage.azure.com/.default')
      expect(blobEndpointProblem(cloud, 'acct', `https://acct.blob.${suffix}/`)).toBeUndefined()
      expect(blobEndpointProblem(cloud, 'ACCT', `https://acct.blob.${suffix.toUpperCase()}`)).toBe(
        undefined
      )
    }
  )

  it("refuses another account's, another cloud's or a plain-http endpoint", () => {
    const cloud = knownCloud('AzureUSGovernment')
    expect(
      blobEndpointProblem(cloud, 'acct', 'https://other.blob.core.usgovcloudapi.net/')
    ).toMatch(/is not acct\.blob\.core\.usgovcloudapi\.net/)
    expect(blobEndpointProblem(cloud, 'acct', 'https://acct.blob.core.windows.net/')).toMatch(
      /is not acct\.blob\.core\.usgovcloudapi\.net/
    )
    expect(blobEndpointProblem(cloud, 'acct', 'http://acct.blob.core.usgovcloudapi.net/')).toMatch(
      /is not https/
    )
    expect(
      blobEndpointProblem(cloud, 'acct', 'https://acct.blob.core.usgovcloudapi.net.evil.example/')
    ).toBeDefined()
    expect(blobEndpointProblem(cloud, 'acct', 'not a url')).toMatch(/is not a URL/)
  })

  it('takes Azure DNS zone endpoints in the public cloud only', () => {
    const zone = 'https://acct.z17.blob.storage.azure.net/'
    expect(blobEndpointProblem(knownCloud('AzureCloud'), 'acct', zone)).toBeUndefined()
    expect(blobEndpointProblem(knownCloud('AzureChinaCloud'), 'acct', zone)).toBeDefined()
    expect(
      blobEndpointProblem(
        knownCloud('AzureCloud'),
        'acct',
        'https://other.z17.blob.storage.azure.net/'
      )
    ).toBeDefined()
  })

  it('AzureStack: the suffix from the metadata document, else beside ARM', () => {
    expect(cloudFromMetadata(ASDK_ARM, adfsMetadata).storageSuffix).toBe(
      'local.azurestack.external'
    )
    const named = cloudFromMetadata(ASDK_ARM, {
      ...adfsMetadata,
      suffixes: { storage: '.Storage.Contoso.Example' }
    })
    expect(named.storageSuffix).toBe('storage.contoso.example')
    expect(
      blobEndpointProblem(named, 'acct', 'https://acct.blob.storage.contoso.example/')
    ).toBeUndefined()
    // Not a DNS suffix: the derived one stands.
    expect(
      cloudFromMetadata(ASDK_ARM, { ...adfsMetadata, suffixes: { storage: 'x/y' } }).storageSuffix
    ).toBe('local.azurestack.external')
  })

  it("AzureStack: a storage token only from the Stack's own login service, never from Entra ID", () => {
    expect(cloudFromMetadata(ASDK_ARM, entraMetadata).storageScope).toBeUndefined()
    expect(cloudFromMetadata(ASDK_ARM, adfsMetadata).storageScope).toBe(
      'https://storage.azure.com/.default'
    )
  })

  it('a cloud on this machine (an emulator) may have its blob service on this machine, http too', () => {
    const local = cloudFromMetadata('https://127.0.0.1:8443', {
      authentication: { loginEndpoint: 'https://127.0.0.1:8443/', audiences: ['https://emu/x'] }
    })
    expect(blobEndpointProblem(local, 'acct', 'http://127.0.0.1:10000/acct/')).toBeUndefined()
    expect(blobEndpointProblem(local, 'acct', 'https://localhost:10000/acct')).toBeUndefined()
    expect(blobEndpointProblem(local, 'acct', 'http://acct.blob.example.com/')).toMatch(
      /is not https/
    )
    // A Stack elsewhere gets no such exception.
    expect(
      blobEndpointProblem(
        cloudFromMetadata(ASDK_ARM, adfsMetadata),
        'acct',
        'https://127.0.0.1/acct'
      )
    ).toBeDefined()
  })
})
