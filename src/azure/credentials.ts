/** Picks and builds the credential for `auth-type`, against the chosen cloud's authority. */
import {
  AzureCliCredential,
  ClientAssertionCredential,
  ClientSecretCredential,
  ManagedIdentityCredential,
  type TokenCredential
} from '@azure/identity'
import type { ConnectionPlan } from '../plan.js'
import type { Cloud } from './clouds.js'

export type CredentialKind = 'oidc' | 'client-secret' | 'azure-cli' | 'managed-identity'

export interface CredentialEnvironment {
  /** Mints a GitHub OIDC token for the audience (core.getIDToken). Called for every new assertion. */
  getIDToken(audience: string): Promise<string>
  /** Whether the job was given `permissions: id-token: write` (ACTIONS_ID_TOKEN_REQUEST_URL is set). */
  canMintIdToken: boolean
  /** Whether an `az` executable is on PATH (left there by the runner image and azure/login). */
  hasAzureCli: boolean
}

/** How `auto` resolves, in the contract's order. */
export function chooseCredentialKind(
  connection: ConnectionPlan,
  env: Pick<CredentialEnvironment, 'canMintIdToken' | 'hasAzureCli'>
): { kind: CredentialKind; reason: string } {
  if (connection.authType !== 'auto') {
    return { kind: connection.authType, reason: `auth-type is '${connection.authType}'` }
  }
  const hasIds = connection.clientId !== undefined && connection.tenantId !== undefined
  if (hasIds && env.canMintIdToken) {
    return {
      kind: 'oidc',
      reason: 'client-id and tenant-id are set and the job can mint an ID token'
    }
  }
  if (hasIds && connection.clientSecret !== undefined) {
    return { kind: 'client-secret', reason: 'client-secret is set' }
  }
  if (env.hasAzureCli) {
    return { kind: 'azure-cli', reason: 'an Azure CLI is on PATH (the session azure/login leaves)' }
  }
  return { kind: 'managed-identity', reason: 'no other credential is available' }
}

export function createCredential(
  kind: CredentialKind,
  connection: ConnectionPlan,
  cloud: Cloud,
  subscriptionId: string,
  env: CredentialEnvironment
): TokenCredential {
  const common = {
    authorityHost: cloud.authorityHost,
    disableInstanceDiscovery: cloud.disableInstanceDiscovery
  }
  switch (kind) {
    case 'oidc':
      if (!env.canMintIdToken) {
        throw new Error(
          `auth-type 'oidc' needs a GitHub OIDC token, but the job cannot mint one: add 'permissions: id-token: write' to the job.`
        )
      }
      // A fresh ID token per assertion: GitHub's tokens live minutes, a capture can take an hour.
      return new ClientAssertionCredential(
        connection.tenantId as string,
        connection.clientId as string,
        () => env.getIDToken(cloud.oidcAudience),
        common
      )
    case 'client-secret':
      return new ClientSecretCredential(
        connection.tenantId as string,
        connection.clientId as string,
        connection.clientSecret as string,
        common
      )
    case 'azure-cli':
      return new AzureCliCredential({
        tenantId: connection.tenantId,
        subscription: subscriptionId,
        processTimeoutInMs: 60_000
      })
    case 'managed-identity':
      return connection.clientId
        ? new ManagedIdentityCredential({ clientId: connection.clientId })
        : new ManagedIdentityCredential()
  }
}
