/** What every step receives: the plan, Azure clients, the logger, the run's one AbortSignal, ledger and report. */
import type { AzureClients } from './azure/clients.js'
import type { Ledger } from './ledger.js'
import type { Logger } from './log.js'
import type { Plan } from './plan.js'
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

/** A refusal whose message is already what the user needs (no Azure error to describe). */
export class StepFailure extends Error {}
