/** Per-cloud endpoints: login authority, ARM endpoint and token scope, storage suffix, OIDC audience. */
import type { CloudName, ConnectionPlan } from '../plan.js'

export interface Cloud {
  name: CloudName
  authorityHost: string
  /** Without a trailing slash. */
  resourceManagerEndpoint: string
  /** The ARM token scope, passed explicitly to every client (arm-compute defaults to the public cloud's). */
  armScope: string
  storageSuffix: string
  oidcAudience: string
  portalUrl: string
  /** Instance discovery asks the public cloud's authority; a private cloud must skip it. */
  disableInstanceDiscovery: boolean
}

const KNOWN: Record<Exclude<CloudName, 'AzureStack'>, Cloud> = {
  AzureCloud: {
    name: 'AzureCloud',
    authorityHost: 'https://login.microsoftonline.com',
    resourceManagerEndpoint: 'https://management.azure.com',
    armScope: 'https://management.azure.com/.default',
    storageSuffix: 'core.windows.net',
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
}

const trimSlash = (s: string): string => s.replace(/\/+$/, '')

export function cloudFromMetadata(armEndpoint: string, metadata: CloudMetadata): Cloud {
  const login = metadata.authentication?.loginEndpoint
  const audience = metadata.authentication?.audiences?.[0]
  if (!login || !audience) {
    throw new Error(
      `${armEndpoint}/metadata/endpoints did not name authentication.loginEndpoint and authentication.audiences: is 'resource-manager-endpoint' the cloud's ARM endpoint?`
    )
  }
  const host = new URL(armEndpoint).hostname
  return {
    name: 'AzureStack',
    // The tenant is appended by the credential; an ADFS login endpoint keeps its /adfs path.
    authorityHost: trimSlash(login),
    resourceManagerEndpoint: trimSlash(armEndpoint),
    armScope: `${trimSlash(audience)}/.default`,
    // Azure Stack Hub's storage endpoints sit beside ARM: management.<region>.<fqdn> → <region>.<fqdn>.
    storageSuffix: host.replace(/^management\./, ''),
    oidcAudience: 'api://AzureADTokenExchange',
    portalUrl: trimSlash(
      metadata.portalEndpoint ?? armEndpoint.replace('//management.', '//portal.')
    ),
    disableInstanceDiscovery: true
  }
}

export type FetchJson = (url: string) => Promise<unknown>

export async function resolveCloud(
  connection: ConnectionPlan,
  fetchJson: FetchJson
): Promise<Cloud> {
  const base =
    connection.environment === 'AzureStack'
      ? cloudFromMetadata(
          connection.resourceManagerEndpoint,
          (await fetchJson(
            `${connection.resourceManagerEndpoint}/metadata/endpoints?api-version=2015-01-01`
          )) as CloudMetadata
        )
      : knownCloud(connection.environment)
  return connection.audience ? { ...base, oidcAudience: connection.audience } : base
}

/** A link to a resource in the portal of its cloud. */
export function portalLink(cloud: Cloud, resourceId: string): string {
  return `${cloud.portalUrl}/#@/resource${resourceId}`
}
