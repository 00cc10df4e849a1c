/**
 * The subscription of the Azure CLI session `azure/login` leaves behind, as `az account show`
 * reports it: users of azure/login expect the subscription it selected to be the default, as
 * `Azure/arm-deploy` does ("override the subscription ID set by Azure Login").
 *
 * Field names are the Azure CLI's profile keys (azure-cli-core `_profile.py`: `id`, `name`,
 * `tenantId`, `state`, `isDefault`, `environmentName`, `user`). A login with
 * `--allow-no-subscriptions` selects a tenant-level account whose `id` is the tenant's and whose
 * name is `N/A(tenant level account)`: that is not a subscription, so it gives none.
 */
import { execFileSync } from 'node:child_process'

const TENANT_LEVEL_ACCOUNT_NAME = 'N/A(tenant level account)'
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** Runs `az` with arguments and returns its stdout; throws when it exits non-zero. */
export type AzRunner = (args: string[]) => string

export const runAz: AzRunner = args =>
  execFileSync('az', args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
    // `az` is a script on Windows runners (az.cmd).
    shell: process.platform === 'win32'
  })

/** The session's subscription ID, or undefined when there is no session or no subscription in it. */
export function cliSessionSubscription(az: AzRunner = runAz): string | undefined {
  let account: { id?: unknown; name?: unknown }
  try {
    account = JSON.parse(az(['account', 'show', '--output', 'json'])) as typeof account
  } catch {
    // Not installed, not logged in ("Please run 'az login' to setup account."), or not JSON.
    return undefined
  }
  if (account.name === TENANT_LEVEL_ACCOUNT_NAME) return undefined
  return typeof account.id === 'string' && GUID.test(account.id) ? account.id : undefined
}
