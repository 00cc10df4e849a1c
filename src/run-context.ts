/** What every step receives: the plan, Azure clients, the logger, the run's one AbortSignal, ledger and report. */
import type { AzureClients } from './azure/clients.js'
import type { Ledger } from './ledger.js'
import type { Logger } from './log.js'
import type { Owner, Plan, RunIdentity } from './plan.js'
import type { Report } from './report.js'

export interface RunContext {
  plan: Plan
  clients: AzureClients
  log: Logger
  signal: AbortSignal
  ledger: Ledger
  report: Report
  /** Runs one named step in its own log group, timing it; the name appears in timeout errors. */
  step<T>(name: string, fn: () => Promise<T>): Promise<T>
}

/** What a helper that works outside the run's steps needs (cleanup, the post step). */
export interface AzureDeps {
  clients: AzureClients
  log: Logger
  signal: AbortSignal
}

/** What every read-only check receives (preflight: nothing here may write). */
export interface PreflightDeps extends AzureDeps {
  run: RunIdentity
  /** Whose versions are reused (an earlier attempt of this job) or refused (another job of the run). */
  owner: Owner
}

/** A refusal whose message is already what the user needs (no Azure error to describe). */
export class StepFailure extends Error {}
