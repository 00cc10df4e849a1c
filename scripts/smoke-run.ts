/**
 * The flow of `npm run smoke:azure`, with its two doors to the world passed in: `az` (the Azure
 * CLI for real Azure; a stand-in when the flow runs against the ARM emulator) and the bundled
 * action's runner. Setup, both runs of the action, the cleanup in `finally` and the report are the
 * same whichever `az` answers. The plan (names, commands, inputs, report) is `smoke-plan.ts`.
 */
import { truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { errorLines, type ActionRun, type RunOptions } from '../__tests__/support/action-runner.js'
import {
  RAW_IMAGE_BYTES,
  actionSteps,
  cleanupCommands,
  redact,
  report,
  setupCommands,
  type AzCommand,
  type CommandOutcome,
  type SmokeConfig,
  type SmokeNames,
  type StepOutcome
} from './smoke-plan.js'

export type Az = (args: AzCommand) => Promise<CommandOutcome & { stdout: string }>

export interface SmokeDeps {
  az: Az
  runAction: (options: RunOptions) => Promise<ActionRun>
  /** Environment for the action's process (beside what the runner sets). */
  actionEnv: Record<string, string | undefined>
  /** A folder of the run's own, for the raw image. */
  workDir: string
  /** Every line the smoke run prints (already redacted). */
  print: (text: string) => void
}

export async function runSmoke(
  config: SmokeConfig,
  names: SmokeNames,
  deps: SmokeDeps
): Promise<{ text: string; ok: boolean; steps: StepOutcome[] }> {
  const { az, print } = deps
  const setupOutcomes: CommandOutcome[] = []
  const cleanupOutcomes: CommandOutcome[] = []
  const steps: StepOutcome[] = []
  // Setup and the two runs; a failed setup command ends them early (the cleanup still runs).
  const setupAndRun = async (): Promise<void> => {
    if (config.clientSecret) {
      const login = await az([
        'login',
        '--service-principal',
        '--username',
        config.clientId,
        '--password',
        config.clientSecret,
        '--tenant',
        config.tenantId
      ])
      // Only the verb is reported: the command line holds the secret.
      setupOutcomes.push({ ...login, command: ['login', '--service-principal'] })
      if (!login.ok) return
    }
    let location = config.location
    if (!location) {
      const group = await az([
        'group',
        'show',
        '--name',
        config.resourceGroup,
        '--subscription',
        config.subscriptionId,
        '--query',
        'location',
        '-o',
        'tsv'
      ])
      setupOutcomes.push(group)
      if (!group.ok) return
      location = group.stdout.trim()
    }
    print(`smoke:azure: ${config.resourceGroup} in ${location}, everything tagged ${names.tag}`)
    for (const command of setupCommands(config, names, location)) {
      print(`az ${command.slice(0, 2).join(' ')} …`)
      const outcome = await az(command)
      setupOutcomes.push(outcome)
      if (!outcome.ok) return
    }
    // A sparse 1 GiB raw image: the upload path sizes, converts and uploads it like any other.
    const raw = join(deps.workDir, 'smoke.raw')
    writeFileSync(raw, '')
    truncateSync(raw, RAW_IMAGE_BYTES)
    for (const step of actionSteps(config, names, location, raw)) {
      print(`\n──── action: ${step.name} ────`)
      const run = await deps.runAction({
        inputs: step.inputs,
        env: deps.actionEnv,
        runId: names.runId
      })
      print(redact(run.main.stdout + run.main.stderr, config))
      print(redact((run.post?.stdout ?? '') + (run.post?.stderr ?? ''), config))
      steps.push({
        name: step.name,
        exitCode: run.main.code,
        outputs: run.outputs,
        errors: [...errorLines(run.main), ...(run.post ? errorLines(run.post) : [])].map(e =>
          redact(e, config)
        ),
        postExitCode: run.post?.code
      })
    }
  }
  try {
    await setupAndRun()
  } catch (error) {
    // Still reported (and failed), after the cleanup below.
    setupOutcomes.push({
      command: ['(smoke run)'],
      ok: false,
      detail: redact(error instanceof Error ? error.message : String(error), config)
    })
  } finally {
    for (const command of cleanupCommands(config, names)) cleanupOutcomes.push(await az(command))
    // Whatever else carries the tag (the action's own upload disk or snapshot, should its post step have failed).
    const rest = await az([
      'resource',
      'list',
      '--resource-group',
      config.resourceGroup,
      '--subscription',
      config.subscriptionId,
      '--tag',
      names.tag,
      '--query',
      '[].id',
      '-o',
      'tsv'
    ])
    if (!rest.ok) cleanupOutcomes.push(rest)
    for (const id of rest.stdout.split('\n').filter(Boolean)) {
      cleanupOutcomes.push(await az(['resource', 'delete', '--ids', id]))
    }
  }
  return { ...report(config, names, steps, setupOutcomes, cleanupOutcomes), steps }
}
