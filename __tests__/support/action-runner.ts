/**
 * Runs the bundled action (dist/index.js) the way the GitHub runner does: INPUT_* variables with
 * hyphens kept and defaults from action.yml, GITHUB_OUTPUT / GITHUB_STATE / GITHUB_STEP_SUMMARY files,
 * then the post step with the main step's state as STATE_* variables. Outputs and state also honour
 * `::set-output`/`::save-state` lines on stdout and stderr as the runner does (workflow-commands.ts),
 * so a line that slips through shows up where it would do harm.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse } from 'yaml'
import { commandEffects } from './workflow-commands.js'

/** The project root: the nearest folder up from here with action.yml (also from the demo's bundle). */
function findRoot(start: string): string {
  let dir = start
  while (!existsSync(join(dir, 'action.yml'))) {
    const up = dirname(dir)
    if (up === dir) throw new Error(`no action.yml above ${start}`)
    dir = up
  }
  return dir
}

export const ROOT = findRoot(dirname(fileURLToPath(import.meta.url)))
const ACTION = join(ROOT, 'dist', 'index.js')

interface ActionYaml {
  inputs: Record<string, { default?: string }>
}

export function actionDefaults(): Record<string, string> {
  const doc = parse(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as ActionYaml
  const defaults: Record<string, string> = {}
  for (const [name, spec] of Object.entries(doc.inputs)) {
    if (spec.default !== undefined) defaults[name] = String(spec.default)
  }
  return defaults
}

/**
 * The owner key (issue 14) a run with these inputs carries, computed here from the contract's
 * recipe rather than by the product's code: sha256 of the JSON of [repository, run id, GITHUB_JOB,
 * every action.yml input but client-secret as [name, trimmed value] sorted by name], first 32 hex
 * characters. For seeding what an earlier attempt of a job left behind.
 */
export function ownerKeyOf(
  inputs: Record<string, string>,
  run: { runId?: string; job?: string; repository?: string } = {}
): string {
  const all: Record<string, string> = { ...actionDefaults(), ...inputs }
  const doc = parse(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as ActionYaml
  const entries = Object.keys(doc.inputs)
    .filter(name => name !== 'client-secret')
    .sort()
    .map(name => [name, (all[name] ?? '').trim()])
  const material = JSON.stringify([
    run.repository ?? 'contoso/golden-images',
    run.runId ?? '9000001',
    run.job ?? 'build',
    entries
  ])
  return createHash('sha256').update(material).digest('hex').slice(0, 32)
}

export interface StepResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface ActionRun {
  main: StepResult
  post?: StepResult
  outputs: Record<string, string>
  state: Record<string, string>
  summary: string
  /** Everything either step printed, for secret scans. */
  allText: string
  dir: string
}

/** Parses the runner's key=value / heredoc file format (what core.setOutput and saveState write). */
export function parseCommandFile(text: string): Record<string, string> {
  const result: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line)
    if (heredoc) {
      const [, name, delimiter] = heredoc
      const value: string[] = []
      for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i])
      result[name] = value.join('\n')
    } else if (line.includes('=')) {
      result[line.slice(0, line.indexOf('='))] = line.slice(line.indexOf('=') + 1)
    }
  }
  return result
}

export interface RunOptions {
  inputs: Record<string, string>
  env?: Record<string, string | undefined>
  /** Run the post step after main (the runner always does). Default true. */
  post?: boolean
  /**
   * Send a signal to the main step (cancellation tests) once its output matches `output` or, better,
   * once `when()` holds (checked every 20 ms: e.g. a count of page writes the proxy has seen).
   */
  signalWhen?: {
    output?: RegExp
    when?: () => boolean
    signal: NodeJS.Signals
    delayMs?: number
    /**
     * After SIGINT, go on as the runner cancels a step: SIGTERM if the process still runs 7.5 s
     * later, SIGKILL 2.5 s after that (actions/runner src/Runner.Sdk/ProcessInvoker.cs,
     * `_sigintTimeout` 7500 ms, `_sigtermTimeout` 2500 ms).
     */
    escalate?: boolean
  }
  runId?: string
  runAttempt?: number
  runNumber?: number
  /** Changes the state the post step is given (state set by something other than the main step). */
  postState?: (state: Record<string, string>) => Record<string, string>
  /** GITHUB_JOB (default 'build'): matrix legs of one job share it. */
  job?: string
  /** Called with each step's process id once it starts (the bench samples its peak RSS). */
  onSpawn?: (pid: number, step: 'main' | 'post') => void
}

function runStep(
  env: NodeJS.ProcessEnv,
  signalWhen?: RunOptions['signalWhen'],
  onSpawn?: (pid: number) => void
): Promise<StepResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [ACTION], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    if (child.pid !== undefined) onSpawn?.(child.pid)
    let stdout = ''
    let stderr = ''
    let signalled = false
    const maybeSignal = (): void => {
      if (!signalWhen || signalled) return
      if (signalWhen.output?.test(stdout) || signalWhen.when?.()) {
        signalled = true
        setTimeout(() => {
          child.kill(signalWhen.signal)
          if (!signalWhen.escalate) return
          const term = setTimeout(() => {
            if (child.exitCode !== null || child.signalCode !== null) return
            child.kill('SIGTERM')
            const kill = setTimeout(
              () => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'),
              2500
            )
            child.once('close', () => clearTimeout(kill))
          }, 7500)
          child.once('close', () => clearTimeout(term))
        }, signalWhen.delayMs ?? 0)
      }
    }
    const poll = signalWhen?.when ? setInterval(maybeSignal, 20) : undefined
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString()
      maybeSignal()
    })
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearInterval(poll)
      resolvePromise({ code, signal, stdout, stderr })
    })
  })
}

export async function runAction(options: RunOptions): Promise<ActionRun> {
  const dir = mkdtempSync(join(tmpdir(), 'action-run-'))
  const files = {
    GITHUB_OUTPUT: join(dir, 'output'),
    GITHUB_STATE: join(dir, 'state'),
    GITHUB_STEP_SUMMARY: join(dir, 'summary.md')
  }
  for (const f of Object.values(files)) writeFileSync(f, '')
  const inputs = { ...actionDefaults(), ...options.inputs }
  const inputEnv: Record<string, string> = {}
  for (const [name, value] of Object.entries(inputs)) {
    inputEnv[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value
  }
  const base: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TMPDIR: process.env.TMPDIR,
    RUNNER_TEMP: dir,
    GITHUB_ACTIONS: 'true',
    GITHUB_REPOSITORY: 'contoso/golden-images',
    GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
    GITHUB_REF: 'refs/heads/main',
    GITHUB_WORKFLOW: 'nightly image',
    GITHUB_RUN_ID: options.runId ?? '9000001',
    GITHUB_RUN_ATTEMPT: String(options.runAttempt ?? 1),
    GITHUB_RUN_NUMBER: String(options.runNumber ?? 42),
    GITHUB_JOB: options.job ?? 'build',
    ...files,
    ...inputEnv
  }
  for (const [k, v] of Object.entries(options.env ?? {})) {
    if (v === undefined) delete base[k]
    else base[k] = v
  }
  const main = await runStep(base, options.signalWhen, pid => options.onSpawn?.(pid, 'main'))
  // As the runner: `::save-state` lines on stdout/stderr (SaveStateCommandExtension) set state at
  // once; the GITHUB_STATE file, read at the end of the step, overrides the same names.
  const state = {
    ...commandEffects(main.stdout).state,
    ...commandEffects(main.stderr).state,
    ...parseCommandFile(readFileSync(files.GITHUB_STATE, 'utf8'))
  }
  let post: StepResult | undefined
  if (options.post !== false) {
    const stateEnv: Record<string, string> = {}
    const given = options.postState ? options.postState({ ...state }) : state
    for (const [k, v] of Object.entries(given)) stateEnv[`STATE_${k}`] = v
    writeFileSync(files.GITHUB_STATE, '')
    post = await runStep({ ...base, ...stateEnv }, undefined, pid => options.onSpawn?.(pid, 'post'))
  }
  // Likewise `::set-output` (SetOutputCommandExtension, still in the runner), then GITHUB_OUTPUT.
  const outputs = {
    ...commandEffects(main.stdout).outputs,
    ...commandEffects(main.stderr).outputs,
    ...parseCommandFile(readFileSync(files.GITHUB_OUTPUT, 'utf8'))
  }
  const summary = readFileSync(files.GITHUB_STEP_SUMMARY, 'utf8')
  const allText = [main.stdout, main.stderr, post?.stdout ?? '', post?.stderr ?? ''].join('\n')
  return { main, post, outputs, state, summary, allText, dir }
}

/**
 * Everything either step wrote, for secret scans: logs, outputs, state, summary and the command
 * files themselves. `::add-mask::` lines are left out: the runner consumes them and shows nothing
 * (`maskedValues` reads them).
 */
export function everythingWritten(r: ActionRun): string {
  const files = ['state', 'output', 'summary.md'].map(f => readFileSync(join(r.dir, f), 'utf8'))
  return [r.allText, JSON.stringify(r.outputs), JSON.stringify(r.state), r.summary, ...files]
    .join('\n')
    .split('\n')
    .filter(l => !l.startsWith('::add-mask::'))
    .join('\n')
}

/** The values either step registered with the runner's masker, as the runner reads them. */
export function maskedValues(r: ActionRun): string[] {
  return commandEffects(r.allText).masks
}

/** The `::error::` lines a step printed (workflow commands on stdout). */
export function errorLines(step: StepResult): string[] {
  return step.stdout.split('\n').filter(l => l.startsWith('::error'))
}

export { ledgerEntries } from './ledger-state.js'
