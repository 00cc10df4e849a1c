/**
 * An in-memory Runner (src/runner.ts) for driving runMain and runPost without a process: inputs
 * from a map, outputs, state, summaries, errors and log lines recorded, and a cancel() that fires
 * the handlers main registered, as SIGINT would. Test support: it imports only types from src/.
 */
import type { Logger } from '../../src/log.js'
import type { Runner } from '../../src/runner.js'

export interface FakeRunner extends Runner {
  outputs: Record<string, string>
  state: Record<string, string>
  summaries: string[]
  /** `::error::` messages, in order. */
  errors: string[]
  /** Every log line, prefixed 'info: ', 'warning: ', 'debug: ' or 'group: '. */
  lines: string[]
  secrets: string[]
  /** Fires the registered cancel handlers (SIGINT/SIGTERM). */
  cancel(): void
  /** The post step's view of this runner's saved state. */
  getState(name: string): string
}

export const RUN = {
  repository: 'octo/images',
  sha: '0123456789abcdef0123456789abcdef01234567',
  ref: 'refs/heads/main',
  workflow: 'build',
  runId: '4242',
  runAttempt: 1,
  runNumber: 7
}

export function fakeRunner(inputs: Record<string, string>): FakeRunner {
  const lines: string[] = []
  const handlers = new Set<() => void>()
  const log: Logger = {
    info: m => lines.push(`info: ${m}`),
    warning: m => lines.push(`warning: ${m}`),
    debug: m => lines.push(`debug: ${m}`),
    group: async (name, fn) => {
      lines.push(`group: ${name}`)
      return fn()
    },
    secret: v => runner.secrets.push(v)
  }
  const runner: FakeRunner = {
    outputs: {},
    state: {},
    summaries: [],
    errors: [],
    lines,
    secrets: [],
    getInput: name => inputs[name] ?? '',
    setOutput: (name, value) => {
      runner.outputs[name] = value
    },
    saveState: (name, value) => {
      runner.state[name] = value
    },
    writeSummary: async markdown => {
      runner.summaries.push(markdown)
    },
    error: message => runner.errors.push(message),
    log,
    getIDToken: async () => {
      throw new Error('no ID token in unit tests')
    },
    env: {},
    onCancel: handler => {
      handlers.add(handler)
      return () => handlers.delete(handler)
    },
    fetchJson: async url => {
      throw new Error(`no network in unit tests (${url})`)
    },
    hasAzureCli: () => false,
    planContext: () => ({ run: RUN, now: new Date('2026-12-01T12:00:00Z') }),
    cancel: () => {
      for (const handler of [...handlers]) handler()
    },
    getState: name => runner.state[name] ?? ''
  }
  return runner
}
