/** Signing in: the cloud's endpoints, the credential `auth-type` picks, and every SDK client. */
import { resolveCloud } from './azure/clouds.js'
import { createClients, type AzureClients } from './azure/clients.js'
import { chooseCredentialKind, createCredential } from './azure/credentials.js'
import { azurePolicies, refreshableCredential } from './azure/policies.js'
import type { Plan } from './plan.js'
import type { Runner } from './runner.js'
import { oneLine } from './untrusted.js'

export async function connect(
  runner: Runner,
  plan: Pick<Plan, 'connection' | 'subscriptionId'>,
  quiet = false
): Promise<AzureClients> {
  const cloud = await resolveCloud(plan.connection, runner.fetchJson)
  const chosen = chooseCredentialKind(plan.connection, {
    canMintIdToken: Boolean(
      runner.env.ACTIONS_ID_TOKEN_REQUEST_URL && runner.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN
    ),
    hasAzureCli: runner.hasAzureCli()
  })
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
  return createClients(cloud, credential, plan.subscriptionId, {
    policies: azurePolicies({ credential, scopes: [cloud.armScope], log: runner.log })
  })
}
