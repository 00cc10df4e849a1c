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

/** The credential `auth-type` (or `auto`) chose, with the ids it is built from, and why. */
export type CredentialChoice = { reason: string } & (
  | { kind: 'oidc'; clientId: string; tenantId: string }
  | { kind: 'client-secret'; clientId: string; tenantId: string; clientSecret: string }
  | { kind: 'azure-cli'; tenantId?: string }
  | { kind: 'managed-identity'; clientId?: string }
)

export type CredentialKind = CredentialChoice['kind']

export interface CredentialEnvironment {
  /** Mints a GitHub OIDC token for the audience (core.getIDToken). Called for every new assertion. */
  getIDToken(audience: string): Promise<string>
  /** Whether the job was given `permissions: id-token: write` (ACTIONS_ID_TOKEN_REQUEST_URL is set). */
  canMintIdToken: boolean
  /** Whether an `az` executable is on PATH (left there by the runner image and azure/login). */
  hasAzureCli: boolean
}

/** An explicit `auth-type` as given; `auto` resolved in the contract's order. */
export function chooseCredentialKind(
  connection: ConnectionPlan,
  env: Pick<CredentialEnvironment, 'canMintIdToken' | 'hasAzureCli'>
): CredentialChoice {
  const { clientId, tenantId, clientSecret } = connection
  const reason = `auth-type is '${connection.authType}'`
  switch (connection.authType) {
    case 'oidc':
      return { kind: 'oidc', clientId: connection.clientId, tenantId: connection.tenantId, reason }
    case 'client-secret':
      return {
        kind: 'client-secret',
        clientId: connection.clientId,
        tenantId: connection.tenantId,
        clientSecret: connection.clientSecret,
        reason
      }
    case 'azure-cli':
      return { kind: 'azure-cli', tenantId, reason }
    case 'managed-identity':
      return { kind: 'managed-identity', clientId, reason }
  }
  if (clientId !== undefined && tenantId !== undefined && env.canMintIdToken) {
    return {
      kind: 'oidc',
      clientId,
      tenantId,
      reason: 'client-id and tenant-id are set and the job can mint an ID token'
    }
  }
  if (clientId !== undefined && tenantId !== undefined && clientSecret !== undefined) {
    return {
      kind: 'client-secret',
      clientId,
      tenantId,
      clientSecret,
      reason: 'client-secret is set'
    }
  }
  if (env.hasAzureCli) {
    return {
      kind: 'azure-cli',
      tenantId,
      reason: 'an Azure CLI is on PATH (the session azure/login leaves)'
    }
  }
  return { kind: 'managed-identity', clientId, reason: 'no other credential is available' }
}

export function createCredential(
  choice: CredentialChoice,
  cloud: Cloud,
  subscriptionId: string,
  env: CredentialEnvironment
): TokenCredential {
  const common = {
    authorityHost: cloud.authorityHost,
    disableInstanceDiscovery: cloud.disableInstanceDiscovery
  }
  switch (choice.kind) {
    case 'oidc':
      if (!env.canMintIdToken) {
        throw new Error(
          `auth-type 'oidc' needs a GitHub OIDC token, but the job cannot mint one: add 'permissions: id-token: write' to the job.`
        )
      }
      // A fresh ID token per assertion: GitHub's tokens live minutes, a capture can take an hour.
      return new ClientAssertionCredential(
        choice.tenantId,
        choice.clientId,
        () => env.getIDToken(cloud.oidcAudience),
        common
      )
    case 'client-secret':
      return new ClientSecretCredential(
        choice.tenantId,
        choice.clientId,
        choice.clientSecret,
        common
      )
    case 'azure-cli':
      return new AzureCliCredential({
        tenantId: choice.tenantId,
        subscription: subscriptionId,
        processTimeoutInMs: 60_000
      })
    case 'managed-identity':
      return choice.clientId
        ? new ManagedIdentityCredential({ clientId: choice.clientId })
        : new ManagedIdentityCredential()
  }
}
