/** Everything the steps need from the GitHub runner, bound to @actions/core only in index.ts. */
import type { Logger } from './log.js'
import type { PlanContext } from './inputs.js'

/** Everything main needs from the runner, so tests and the post step can supply their own. */
export interface Runner {
  getInput(name: string): string
  setOutput(name: string, value: string): void
  saveState(name: string, value: string): void
  writeSummary(markdown: string): Promise<void>
  error(message: string): void
  log: Logger
  getIDToken(audience: string): Promise<string>
  env: NodeJS.ProcessEnv
  /** Registers SIGINT/SIGTERM handling; returns a function that removes it. */
  onCancel(handler: () => void): () => void
  /** GET of a JSON document over https; `signal` cancels it (the run's cancellation). */
  fetchJson(url: string, signal?: AbortSignal): Promise<unknown>
  hasAzureCli(): boolean
  planContext(): PlanContext
}
