/**
 * The post step: runs after every main step, also after failure and cancellation. After a success
 * it only retries the deletion of a build's temporary resources the main step could not delete;
 * otherwise it finishes the cleanup of what the ledger in the state still lists.
 */
import { State } from './constants.js'
import type { AzureClients } from './azure/clients.js'
import { cleanUp } from './cleanup.js'
import { readPlan } from './inputs.js'
import { createLedger, ledgerScope, openLedger, sealLedger } from './ledger.js'
import { connect, type ConnectOptions } from './connect.js'
import type { Plan } from './plan.js'
import type { Runner } from './runner.js'
import { oneLine } from './untrusted.js'
import { errorMessage } from './error-message.js'

/** What post reaches Azure through; tests pass their own `connect`. */
export interface PostDeps {
  connect: (runner: Runner, plan: Plan, options: ConnectOptions) => Promise<AzureClients>
}

export async function runPost(
  runner: Runner,
  getState: (name: string) => string,
  deps: PostDeps = { connect }
): Promise<number> {
  const { log } = runner
  const nonce = getState(State.Nonce)
  const succeeded = nonce !== '' && getState(State.Succeeded) === nonce
  const saved = getState(State.Ledger)
  // After a success only a build's temporary resources are cleaned: those still listed are ones
  // whose deletion in the main step failed (a warning there), and they get a second try here
  // rather than being left billed. Every other entry, the result among them, is left alone.
  if (saved === '') {
    if (succeeded) log.debug('Post: the main step succeeded; nothing to clean up.')
    else log.info('Post: nothing this run created is left to clean up.')
    return 0
  }
  try {
    // The plan is read only when there is something to clean: a run that failed on its inputs
    // leaves an empty ledger.
    let plan: Plan | undefined
    const opened = openLedger(saved, nonce, () => {
      plan = readPlan(name => runner.getInput(name), runner.planContext())
      return ledgerScope(plan)
    })
    const refused = opened.refused
    const entries = succeeded
      ? opened.entries.filter(e => e.kind === 'build-resource')
      : opened.entries
    for (const r of refused) log.warning(oneLine(`Post: ignored ${r}: it is not cleaned up.`))
    if (entries.length === 0 || plan === undefined) {
      if (succeeded) log.debug('Post: the main step succeeded; nothing to clean up.')
      else if (refused.length === 0) log.info('Post: nothing this run created is left to clean up.')
      return 0
    }
    const run: Plan = plan
    // The key the main step worked with (its state) must be the one these inputs give.
    const connection: unknown = JSON.parse(getState(State.Connection) || '{}')
    const kept =
      typeof connection === 'object' && connection !== null && 'ownerKey' in connection
        ? connection.ownerKey
        : undefined
    if (kept !== undefined && kept !== run.owner.key) {
      log.warning("Post: the saved owner key is not this job's: nothing cleaned up.")
      return 0
    }
    if (run.connection.clientSecret) log.secret(run.connection.clientSecret)
    const clients = await deps.connect(runner, run, { quiet: true })
    const ledger = createLedger(
      json => runner.saveState(State.Ledger, sealLedger(nonce, json)),
      entries
    )
    const result = await log.group('Cleanup of what this run left behind', () =>
      cleanUp({
        clients,
        ledger,
        ownerKey: run.owner.key,
        log,
        signal: AbortSignal.timeout(15 * 60_000)
      })
    )
    const lines = [
      succeeded
        ? '## Cleanup of temporary build resources the main step could not delete'
        : '## Cleanup after a failed or cancelled run',
      '',
      ...result.done.map(d => `- ${d}`),
      ...result.failed.map(f => `- ⚠️ ${f}`)
    ]
    await runner.writeSummary(lines.join('\n') + '\n')
  } catch (e) {
    log.warning(oneLine(`Post: cleanup could not run: ${errorMessage(e)}`))
  }
  return 0
}
