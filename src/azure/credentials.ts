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

export type CredentialChoice =
  | { kind: CredentialKind; reason: string }
  /** `auto` with a named identity that cannot sign in: the message says how to fix it. */
  | { kind: 'none'; problem: string }

/**
 * How `auto` resolves, in the contract's order, with one rule on top (issue 14): when `client-id`
 * names an identity, `auto` signs in as that identity only (OIDC or its secret). It never falls
 * through to whatever Azure CLI session or managed identity the runner happens to have: a job that
 * lost its ID token (no `id-token: write`, a pull request from a fork) would otherwise act as someone
 * else. Ambient identities are for jobs that name none, or that choose one by `auth-type`.
 */
export function chooseCredentialKind(
  connection: ConnectionPlan,
  env: Pick<CredentialEnvironment, 'canMintIdToken' | 'hasAzureCli'>
): CredentialChoice {
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
  if (connection.clientId !== undefined) {
    const missing =
      connection.tenantId === undefined
        ? `'tenant-id' is not set`
        : `the job cannot mint a GitHub ID token and 'client-secret' is not set`
    return {
      kind: 'none',
      problem:
        `Input 'client-id': auth-type 'auto' signs in as ${connection.clientId} only, but ${missing}. ` +
        `For OIDC add 'permissions: id-token: write' to the job (pull requests from forks get no ID token) and set 'tenant-id'; ` +
        `or set 'client-secret' and 'tenant-id'; or choose another identity on purpose with 'auth-type: azure-cli' or 'auth-type: managed-identity'.`
    }
  }
  if (env.hasAzureCli) {
    return {
      kind: 'azure-cli',
      reason: 'an Azure CLI is on PATH (the session azure/login leaves)'
    }
  }
  return { kind: 'managed-identity', reason: 'no other credential is available' }
}

/** Why OIDC cannot go ahead on a cloud whose login service is not Microsoft Entra ID. */
export function oidcAudienceMissing(cloud: Cloud): string {
  return `Input 'audience': is required for OIDC with environment '${cloud.name}' when its login endpoint (${new URL(cloud.authorityHost).host}) is not Microsoft Entra ID: name the audience its federated credential expects (the default api://AzureADTokenExchange is only sent to Microsoft Entra ID).`
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
    disableInstanceDiscovery: cloud.disableInstanceDiscovery,
    // The secret or the ID token goes to the authority named and nowhere else: a redirect answer
    // fails the request instead of being followed (core-rest-pipeline's redirectPolicy).
    redirectOptions: { maxRetries: 0 }
  }
  switch (kind) {
    case 'oidc':
      if (!env.canMintIdToken) {
        throw new Error(
          `auth-type 'oidc' needs a GitHub OIDC token, but the job cannot mint one: add 'permissions: id-token: write' to the job.`
        )
      }
      if (cloud.oidcAudience === undefined) throw new Error(oidcAudienceMissing(cloud))
      // A fresh ID token per assertion: GitHub's tokens live minutes, a capture can take an hour.
      return new ClientAssertionCredential(
        connection.tenantId as string,
        connection.clientId as string,
        () => env.getIDToken(cloud.oidcAudience as string),
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
