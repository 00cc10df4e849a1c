/**
 * Per-cloud endpoints: login authority, ARM endpoint and token scope, storage suffix and token
 * scope, OIDC audience.
 */
import type { CloudName, ConnectionPlan } from '../plan.js'

export interface Cloud {
  name: CloudName
  authorityHost: string
  /** Without a trailing slash. */
  resourceManagerEndpoint: string
  /** The ARM token scope, passed explicitly to every client (arm-compute defaults to the public cloud's). */
  armScope: string
  /**
   * The DNS suffix of the cloud's storage endpoints: a blob endpoint is
   * `https://<account>.blob.<storageSuffix>/` (Azure CLI `az cloud show` `suffixes.storage`;
   * hashicorp/go-azure-sdk `sdk/environments` StorageAPI per cloud).
   */
  storageSuffix: string
  /**
   * The Microsoft Entra ID scope of a blob-service token, or undefined where the blob service is
   * never sent one (see cloudFromMetadata). The public and sovereign clouds share one storage
   * resource, https://storage.azure.com (Microsoft Learn "Authorize access to blobs using Microsoft
   * Entra ID"; go-azure-sdk StorageAPI: "the same for all public and sovereign clouds"; Azurite's
   * VALID_BLOB_AUDIENCES and its Fairfax/Mooncake issuers).
   */
  storageScope?: string
  /**
   * The GitHub ID token's audience. Undefined for an Azure Stack Hub whose login endpoint is not
   * Microsoft Entra ID (AD FS, an emulator): there the `audience` input must name one (issue 14),
   * so a token Entra would accept is never handed to another login service by default.
   */
  oidcAudience?: string
  portalUrl: string
  /** Instance discovery asks the public cloud's authority; a private cloud must skip it. */
  disableInstanceDiscovery: boolean
}

/** Azure Storage's resource for Microsoft Entra ID tokens, in every Microsoft-run cloud. */
const STORAGE_SCOPE = 'https://storage.azure.com/.default'

const KNOWN: Record<Exclude<CloudName, 'AzureStack'>, Cloud> = {
  AzureCloud: {
    name: 'AzureCloud',
    authorityHost: 'https://login.microsoftonline.com',
    resourceManagerEndpoint: 'https://management.azure.com',
    armScope: 'https://management.azure.com/.default',
    storageSuffix: 'core.windows.net',
    storageScope: STORAGE_SCOPE,
    oidcAudience: 'api://AzureADTokenExchange',
    portalUrl: 'https://portal.azure.com',
    disableInstanceDiscovery: false
  },
  AzureUSGovernment: {
    name: 'AzureUSGovernment',
    authorityHost: 'https://login.microsoftonline.us',
    resourceManagerEndpoint: 'https://management.usgovcloudapi.net',
    armScope: 'https://management.usgovcloudapi.net/.default',
    storageSuffix: 'core.usgovcloudapi.net',
    storageScope: STORAGE_SCOPE,
    oidcAudience: 'api://AzureADTokenExchangeUSGov',
    portalUrl: 'https://portal.azure.us',
    disableInstanceDiscovery: false
  },
  AzureChinaCloud: {
    name: 'AzureChinaCloud',
    authorityHost: 'https://login.chinacloudapi.cn',
    resourceManagerEndpoint: 'https://management.chinacloudapi.cn',
    armScope: 'https://management.chinacloudapi.cn/.default',
    storageSuffix: 'core.chinacloudapi.cn',
    storageScope: STORAGE_SCOPE,
    oidcAudience: 'api://AzureADTokenExchangeChina',
    portalUrl: 'https://portal.azure.cn',
    disableInstanceDiscovery: false
  }
}

export function knownCloud(name: Exclude<CloudName, 'AzureStack'>): Cloud {
  return KNOWN[name]
}

/** The part of `<arm>/metadata/endpoints?api-version=2015-01-01` that we use. */
export interface CloudMetadata {
  portalEndpoint?: string
  authentication?: { loginEndpoint?: string; audiences?: string[] }
  /** Newer metadata documents (Azure CLI `az cloud register`'s shape) name the storage suffix. */
  suffixes?: { storage?: string }
}

const trimSlash = (s: string): string => s.replace(/\/+$/, '')

/**
 * Microsoft Entra ID's sign-in hosts (@azure/identity `AzureAuthorityHosts`, plus login.windows.net,
 * the older public-cloud name msal lists among its known authorities). A metadata document naming one
 * of these sends the credential to Microsoft, whatever else the document says.
 */
const ENTRA_HOSTS = new Set([
  'login.microsoftonline.com',
  'login.windows.net',
  'login.microsoftonline.us',
  'login.chinacloudapi.cn'
])

/** Token audiences of the public clouds' ARM: a Stack must not ask for a token it could replay there. */
const PUBLIC_ARM_AUDIENCES = new Set(
  [
    'https://management.azure.com',
    'https://management.core.windows.net',
    'https://management.usgovcloudapi.net',
    'https://management.core.usgovcloudapi.net',
    'https://management.chinacloudapi.cn',
    'https://management.core.chinacloudapi.cn'
  ].map(a => a.toLowerCase())
)

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host)
}

/**
 * Where an Azure Stack Hub's login endpoint may be: Microsoft Entra ID (ENTRA_HOSTS), or the Stack's
 * own domain, as AD FS is (https://adfs.<region>.<fqdn>/adfs beside https://management.<region>.<fqdn>):
 * the ARM host itself, or a host under the ARM host's parent domain. A loopback ARM endpoint (an
 * emulator on the runner) has no domain: there only the ARM host itself qualifies.
 */
export function loginHostAllowed(loginHost: string, armHost: string): boolean {
  const login = loginHost.toLowerCase()
  const arm = armHost.toLowerCase()
  if (ENTRA_HOSTS.has(login) || login === arm) return true
  if (isLoopback(arm) || /^[\d.]+$/.test(arm) || arm.startsWith('[')) return false
  const labels = arm.split('.')
  // management.contoso.com → contoso.com; never a bare top-level domain.
  if (labels.length < 3) return false
  const domain = labels.slice(1).join('.')
  return login === domain || login.endsWith(`.${domain}`)
}

function metadataError(armEndpoint: string, problem: string): Error {
  return new Error(
    `${armEndpoint}/metadata/endpoints ${problem}: is 'resource-manager-endpoint' the cloud's ARM endpoint?`
  )
}

/**
 * The cloud an Azure Stack Hub's metadata document describes, checked before anything is sent to
 * the endpoints it names (issue 14): the login endpoint is https and on an allowed host (see
 * loginHostAllowed), and the ARM token audience is not a public cloud's.
 */
export function cloudFromMetadata(armEndpoint: string, metadata: CloudMetadata): Cloud {
  const login = metadata.authentication?.loginEndpoint
  const audience = metadata.authentication?.audiences?.[0]
  if (!login || !audience) {
    throw metadataError(
      armEndpoint,
      'did not name authentication.loginEndpoint and authentication.audiences'
    )
  }
  const host = new URL(armEndpoint).hostname
  let loginUrl: URL
  try {
    loginUrl = new URL(login)
  } catch {
    throw metadataError(armEndpoint, `names a login endpoint that is not a URL`)
  }
  if (loginUrl.protocol !== 'https:') {
    throw metadataError(
      armEndpoint,
      `names a login endpoint that is not https (${loginUrl.protocol}//${loginUrl.host}): the credential is not sent there`
    )
  }
  if (!loginHostAllowed(loginUrl.hostname, host)) {
    throw metadataError(
      armEndpoint,
      `names the login host ${loginUrl.hostname}, which is neither Microsoft Entra ID nor on ${host}'s domain: the credential is not sent there`
    )
  }
  if (PUBLIC_ARM_AUDIENCES.has(trimSlash(audience).toLowerCase())) {
    throw metadataError(
      armEndpoint,
      `asks for a token for ${trimSlash(audience)}, a public cloud's Resource Manager`
    )
  }
  const portal =
    metadata.portalEndpoint !== undefined && /^https:\/\//i.test(metadata.portalEndpoint)
      ? metadata.portalEndpoint
      : armEndpoint.replace('//management.', '//portal.')
  const entraLogin = ENTRA_HOSTS.has(loginUrl.hostname.toLowerCase())
  return {
    name: 'AzureStack',
    // The tenant is appended by the credential; an AD FS login endpoint keeps its /adfs path.
    authorityHost: trimSlash(login),
    resourceManagerEndpoint: trimSlash(armEndpoint),
    armScope: `${trimSlash(audience)}/.default`,
    storageSuffix: storageSuffixOf(metadata, host),
    // A token Microsoft Entra ID issues for https://storage.azure.com opens every public-cloud
    // storage account the identity may use: it is never sent to a Stack's own blob endpoint
    // (security review finding 6), which then gets the account key (Azure Stack Hub storage does
    // not take Entra ID tokens anyway: "Azure Stack Hub storage: Differences and considerations").
    // A Stack signing in with its own login service (AD FS, an air-gapped cloud's) issues tokens
    // only it accepts: there the storage token is asked of that service.
    storageScope: entraLogin ? undefined : STORAGE_SCOPE,
    // The contract's default for AzureStack, kept where the assertion goes to Microsoft Entra ID.
    oidcAudience: entraLogin ? 'api://AzureADTokenExchange' : undefined,
    portalUrl: trimSlash(portal),
    disableInstanceDiscovery: true
  }
}

/**
 * The storage suffix of an Azure Stack Hub: the metadata document's `suffixes.storage` where it has
 * one; otherwise beside ARM, as Azure Stack Hub places it (management.<region>.<fqdn> → blob
 * endpoints <account>.blob.<region>.<fqdn>).
 */
function storageSuffixOf(metadata: CloudMetadata, armHost: string): string {
  const named = metadata.suffixes?.storage?.trim().replace(/^\.+/, '').toLowerCase()
  if (named && /^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(named)) return named
  return armHost.replace(/^management\./, '')
}

/**
 * Why a blob endpoint ARM returned for a storage account is not one the action sends a credential
 * to, or undefined when it is: `https://<account>.blob.<cloud's storage suffix>/` (security review
 * finding 6). The one exception is a cloud whose ARM endpoint is on this machine (an emulator, as in
 * the tests): its blob service may be on this machine too, path-style as Azurite serves it, and
 * plain http there never leaves the machine.
 */
export function blobEndpointProblem(
  cloud: Cloud,
  accountName: string,
  endpoint: string
): string | undefined {
  let url: URL
  try {
    url = new URL(endpoint)
  } catch {
    return `'${endpoint}' is not a URL`
  }
  const host = url.hostname.toLowerCase()
  if (cloud.name === 'AzureStack' && isLoopback(new URL(cloud.resourceManagerEndpoint).hostname)) {
    if (isLoopback(host)) return undefined
  }
  if (url.protocol !== 'https:') return `${url.protocol}//${url.host} is not https`
  const account = accountName.toLowerCase()
  const expected = `${account}.blob.${cloud.storageSuffix}`
  // Public-cloud accounts made with dnsEndpointType AzureDnsZone answer at
  // <account>.z<00-99>.blob.storage.azure.net (Microsoft Learn "Storage account overview",
  // "Azure DNS zone endpoints").
  const dnsZone =
    cloud.name === 'AzureCloud' &&
    host.startsWith(`${account}.z`) &&
    /^\.z\d{2}\.blob\.storage\.azure\.net$/.test(host.slice(account.length))
  if (host !== expected && !dnsZone)
    return `${url.host} is not ${expected}, the blob endpoint of '${accountName}' in ${cloud.name}`
  return undefined
}

export type FetchJson = (url: string, signal?: AbortSignal) => Promise<unknown>

export async function resolveCloud(
  connection: ConnectionPlan,
  fetchJson: FetchJson,
  signal?: AbortSignal
): Promise<Cloud> {
  const base =
    connection.environment === 'AzureStack'
      ? cloudFromMetadata(
          connection.resourceManagerEndpoint,
          (await fetchJson(
            `${connection.resourceManagerEndpoint}/metadata/endpoints?api-version=2015-01-01`,
            signal
          )) as CloudMetadata
        )
      : knownCloud(connection.environment)
  return connection.audience ? { ...base, oidcAudience: connection.audience } : base
}

/** A link to a resource in the portal of its cloud. */
export function portalLink(cloud: Cloud, resourceId: string): string {
  return `${cloud.portalUrl}/#@/resource${resourceId}`
}
