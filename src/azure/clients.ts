/**
 * The port to Azure: one place builds every SDK client with the cloud's endpoint and token scope,
 * the same retry and policy settings, and the credential. Steps receive these clients.
 */
import { ComputeManagementClient } from '@azure/arm-compute'
import { NetworkManagementClient } from '@azure/arm-network'
import { StorageManagementClient } from '@azure/arm-storage'
import { ResourceManagementClient } from '@azure/arm-resources'
import { AuthorizationManagementClient } from '@azure/arm-authorization'
import type { TokenCredential } from '@azure/identity'
import type { PipelinePolicy } from '@azure/core-rest-pipeline'
import type { Cloud } from './clouds.js'

export interface AzureClients {
  cloud: Cloud
  credential: TokenCredential
  subscriptionId: string
  compute: ComputeManagementClient
  /** Build mode's temporary network and a given subnet. */
  network: NetworkManagementClient
  storage: StorageManagementClient
  resources: ResourceManagementClient
  authorization: AuthorizationManagementClient
}

export interface ClientSettings {
  /** Extra pipeline policies (request ids, fault handling) applied to every client. */
  policies?: Array<{ policy: PipelinePolicy; position: 'perCall' | 'perRetry' }>
  userAgent?: string
}

// Replication and large LROs take an hour; transient faults get several tries with backoff.
const RETRY = { maxRetries: 6, retryDelayInMs: 1000, maxRetryDelayInMs: 60_000 }

export function createClients(
  cloud: Cloud,
  credential: TokenCredential,
  subscriptionId: string,
  settings: ClientSettings = {}
): AzureClients {
  const common = {
    endpoint: cloud.resourceManagerEndpoint,
    retryOptions: RETRY,
    additionalPolicies: settings.policies ?? [],
    userAgentOptions: { userAgentPrefix: settings.userAgent ?? 'azure-vm-image-action' }
  }
  const modular = { ...common, credentials: { scopes: [cloud.armScope] } }
  return {
    cloud,
    credential,
    subscriptionId,
    compute: new ComputeManagementClient(credential, subscriptionId, modular),
    network: new NetworkManagementClient(credential, subscriptionId, modular),
    storage: new StorageManagementClient(credential, subscriptionId, modular),
    resources: new ResourceManagementClient(credential, subscriptionId, modular),
    authorization: new AuthorizationManagementClient(credential, subscriptionId, {
      ...common,
      credentialScopes: [cloud.armScope]
    })
  }
}
