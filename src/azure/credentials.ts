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

/** What `auto` decided: a credential, or a named identity that cannot sign in and how to fix it. */
export type CredentialDecision = CredentialChoice | { kind: 'none'; problem: string }

export interface CredentialEnvironment {
  /** Mints a GitHub OIDC token for the audience (core.getIDToken). Called for every new assertion. */
  getIDToken(audience: string): Promise<string>
  /** Whether the job was given `permissions: id-token: write` (ACTIONS_ID_TOKEN_REQUEST_URL is set). */
  canMintIdToken: boolean
  /** Whether an `az` executable is on PATH (left there by the runner image and azure/login). */
  hasAzureCli: boolean
}

/**
 * An explicit `auth-type` as given; `auto` resolved in the contract's order, with one rule on top
 * (issue 14): when `client-id` names an identity, `auto` signs in as that identity only (OIDC or its
 * secret). It never falls through to whatever Azure CLI session or managed identity the runner
 * happens to have: a job that lost its ID token (no `id-token: write`, a pull request from a fork)
 * would otherwise act as someone else. Ambient identities are for jobs that name none, or that
 * choose one by `auth-type`.
 */
export function chooseCredentialKind(
  connection: ConnectionPlan,
  env: Pick<CredentialEnvironment, 'canMintIdToken' | 'hasAzureCli'>
): CredentialDecision {
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
  if (clientId !== undefined) {
    const missing =
      tenantId === undefined
        ? `'tenant-id' is not set`
        : `the job cannot mint a GitHub ID token and 'client-secret' is not set`
    return {
      kind: 'none',
      problem:
        `Input 'client-id': auth-type 'auto' signs in as ${clientId} only, but ${missing}. ` +
        `For OIDC add 'permissions: id-token: write' to the job (pull requests from forks get no ID token) and set 'tenant-id'; ` +
        `or set 'client-secret' and 'tenant-id'; or choose another identity on purpose with 'auth-type: azure-cli' or 'auth-type: managed-identity'.`
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

/** Why OIDC cannot go ahead on a cloud whose login service is not Microsoft Entra ID. */
export function oidcAudienceMissing(cloud: Cloud): string {
  return `Input 'audience': is required for OIDC with environment '${cloud.name}' when its login endpoint (${new URL(cloud.authorityHost).host}) is not Microsoft Entra ID: name the audience its federated credential expects (the default api://AzureADTokenExchange is only sent to Microsoft Entra ID).`
}

export function createCredential(
  choice: CredentialChoice,
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
  switch (choice.kind) {
    case 'oidc':
      if (!env.canMintIdToken) {
        throw new Error(
          `auth-type 'oidc' needs a GitHub OIDC token, but the job cannot mint one: add 'permissions: id-token: write' to the job.`
        )
      }
      if (cloud.oidcAudience === undefined) throw new Error(oidcAudienceMissing(cloud))
      // A fresh ID token per assertion: GitHub's tokens live minutes, a capture can take an hour.
      return new ClientAssertionCredential(
        choice.tenantId,
        choice.clientId,
        () => env.getIDToken(cloud.oidcAudience as string),
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
