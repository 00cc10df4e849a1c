/**
 * The post step: runs after every main step, also after failure and cancellation. After a success
 * it does nothing; otherwise it finishes the cleanup of what the ledger in the state still lists.
 */
import { State } from './constants.js'
import type { AzureClients } from './azure/clients.js'
import { cleanUp } from './cleanup.js'
import { readPlan } from './inputs.js'
import { createLedger, type LedgerEntry } from './ledger.js'
import { connect } from './connect.js'
import type { Plan } from './plan.js'
import type { Runner } from './runner.js'
import { oneLine } from './untrusted.js'

/** What post reaches Azure through; tests pass their own `connect`. */
export interface PostDeps {
  connect: (runner: Runner, plan: Plan, quiet: boolean) => Promise<AzureClients>
}

export async function runPost(
  runner: Runner,
  getState: (name: string) => string,
  deps: PostDeps = { connect }
): Promise<number> {
  const { log } = runner
  if (getState(State.Succeeded) === 'true') {
    log.debug('Post: the main step succeeded; nothing to clean up.')
    return 0
  }
  let entries: LedgerEntry[] = []
  try {
    entries = JSON.parse(getState(State.Ledger) || '[]') as LedgerEntry[]
  } catch {
    log.warning('Post: the saved ledger could not be read; nothing cleaned up.')
    return 0
  }
  if (entries.length === 0) {
    log.info('Post: nothing this run created is left to clean up.')
    return 0
  }
  try {
    const plan = readPlan(name => runner.getInput(name), runner.planContext())
    if (plan.connection.clientSecret) log.secret(plan.connection.clientSecret)
    const clients = await deps.connect(runner, plan, true)
    const ledger = createLedger(json => runner.saveState(State.Ledger, json), entries)
    const result = await log.group('Cleanup of what this run left behind', () =>
      cleanUp({
        clients,
        ledger,
        runId: plan.run.runId,
        log,
        signal: AbortSignal.timeout(15 * 60_000)
      })
    )
    const lines = [
      '## Cleanup after a failed or cancelled run',
      '',
      ...result.done.map(d => `- ${d}`),
      ...result.failed.map(f => `- ⚠️ ${f}`)
    ]
    await runner.writeSummary(lines.join('\n') + '\n')
  } catch (e) {
    log.warning(oneLine(`Post: cleanup could not run: ${(e as Error).message}`))
  }
  return 0
}
