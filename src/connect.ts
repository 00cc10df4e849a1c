/** Signing in: the cloud's endpoints, the credential `auth-type` picks, and every SDK client. */
import { resolveCloud } from './azure/clouds.js'
import { createClients, type AzureClients } from './azure/clients.js'
import { chooseCredentialKind, createCredential, oidcAudienceMissing } from './azure/credentials.js'
import { describeIdentity, tokenIdentity } from './azure/token-identity.js'
import { azurePolicies, refreshableCredential } from './azure/policies.js'
import type { Plan } from './plan.js'
import { StepFailure } from './run-context.js'
import type { Runner } from './runner.js'
import { oneLine } from './untrusted.js'

export interface ConnectOptions {
  /** The post step signs in without saying so again (main said where and as whom). */
  quiet?: boolean
  /** The run's cancellation (timeout-minutes, SIGINT): sign-in stops with it, like every other call. */
  signal?: AbortSignal
}

export async function connect(
  runner: Runner,
  plan: Pick<Plan, 'connection' | 'subscriptionId'>,
  options: ConnectOptions = {}
): Promise<AzureClients> {
  const { quiet = false, signal } = options
  const cloud = await resolveCloud(plan.connection, runner.fetchJson, signal)
  const chosen = chooseCredentialKind(plan.connection, {
    canMintIdToken: Boolean(
      runner.env.ACTIONS_ID_TOKEN_REQUEST_URL && runner.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN
    ),
    hasAzureCli: runner.hasAzureCli()
  })
  if (chosen.kind === 'none') throw new StepFailure(chosen.problem)
  if (chosen.kind === 'oidc' && cloud.oidcAudience === undefined) {
    throw new StepFailure(oidcAudienceMissing(cloud))
  }
  if (!quiet) {
    runner.log.info(
      oneLine(
        `Azure: ${cloud.name} (${cloud.resourceManagerEndpoint}), subscription ${plan.subscriptionId}`
      )
    )
    runner.log.info(oneLine(`Signing in with ${chosen.kind}: ${chosen.reason}`))
  }
  // Refreshable: when Azure rejects a token mid-run, the policy builds a new credential, so OIDC
  // mints a new GitHub ID token instead of replaying a cached one.
  const credential = refreshableCredential(() =>
    createCredential(chosen, cloud, plan.subscriptionId, {
      getIDToken: runner.getIDToken,
      canMintIdToken: Boolean(runner.env.ACTIONS_ID_TOKEN_REQUEST_URL),
      hasAzureCli: runner.hasAzureCli()
    })
  )
  if (!quiet) {
    // Say who acts, from the token itself: the identity `auth-type` chose may not be the one a
    // reader of the workflow expects (an Azure CLI session, a host's managed identity).
    const token = await credential.getToken(cloud.armScope, { abortSignal: signal })
    runner.log.info(
      oneLine(`Signed in as ${describeIdentity(token ? tokenIdentity(token.token) : undefined)}`)
    )
  }
  return createClients(cloud, credential, plan.subscriptionId, {
    policies: azurePolicies({ credential, scopes: [cloud.armScope], log: runner.log })
  })
}
