/**
 * `npm run smoke:azure`: the bundled action (dist/index.js) against a real subscription, the check
 * a maintainer runs before a release (CI does not: it needs an Azure account and costs money).
 *
 * With AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_SUBSCRIPTION_ID and SMOKE_RESOURCE_GROUP set it:
 *  1. creates a gallery and a small Linux VM in that group with `az` (tagged smoke-azure=<suffix>),
 *  2. runs the action twice as the runner would (main step, then post step): an upload of a 1 GiB
 *     raw image it writes to a temp folder, and a capture of the VM (deprovision), each into a
 *     managed image and a gallery version,
 *  3. deletes everything it made, whatever happened (finally), then lists anything still tagged,
 *  4. prints what Azure answered: outputs, errors, and each `az` command's result.
 * Without those settings it says so and exits 0. The plan itself is `smoke-plan.ts`.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { errorLines, runAction } from '../__tests__/support/action-runner.js'
import {
  RAW_IMAGE_BYTES,
  actionSteps,
  cleanupCommands,
  readSmokeConfig,
  redact,
  report,
  setupCommands,
  skipMessage,
  smokeNames,
  type AzCommand,
  type CommandOutcome,
  type SmokeConfig,
  type StepOutcome
} from './smoke-plan.js'

function az(
  args: AzCommand,
  env: NodeJS.ProcessEnv,
  config?: SmokeConfig
): Promise<CommandOutcome & { stdout: string }> {
  return new Promise(resolve => {
    execFile(
      'az',
      [...args, '--only-show-errors'],
      { env, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const detail = redact(
          (stderr || error?.message || '').trim().split('\n').slice(-3).join(' '),
          config
        )
        resolve({ command: args, ok: !error, detail, stdout })
      }
    )
  })
}

async function main(): Promise<void> {
  const setup = readSmokeConfig(process.env)
  if (setup.kind === 'skip') {
    console.log(skipMessage(setup.missing))
    return
  }
  const config = setup.config
  const names = smokeNames(Date.now().toString(36).slice(-8))
  const work = mkdtempSync(join(tmpdir(), 'smoke-azure-'))
  // A private az configuration when signing in with a secret: the maintainer's own session is left alone.
  const env: NodeJS.ProcessEnv = { ...process.env }
  if (config.clientSecret) env.AZURE_CONFIG_DIR = join(work, 'az')
  const setupOutcomes: CommandOutcome[] = []
  const cleanupOutcomes: CommandOutcome[] = []
  const steps: StepOutcome[] = []
  try {
    if (config.clientSecret) {
      const login = await az(
        [
          'login',
          '--service-principal',
          '--username',
          config.clientId,
          '--password',
          config.clientSecret,
          '--tenant',
          config.tenantId
        ],
        env,
        config
      )
      setupOutcomes.push({ ...login, command: ['login', '--service-principal'] })
      if (!login.ok) return
    }
    let location = config.location
    if (!location) {
      const group = await az(
        [
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
        ],
        env,
        config
      )
      setupOutcomes.push(group)
      if (!group.ok) return
      location = group.stdout.trim()
    }
    console.log(
      `smoke:azure: ${config.resourceGroup} in ${location}, everything tagged ${names.tag}`
    )
    for (const command of setupCommands(config, names, location)) {
      console.log(`az ${command.slice(0, 2).join(' ')} …`)
      const outcome = await az(command, env, config)
      setupOutcomes.push(outcome)
      if (!outcome.ok) return
    }
    // A sparse 1 GiB raw image: the upload path sizes, converts and uploads it like any other.
    const raw = join(work, 'smoke.raw')
    writeFileSync(raw, '')
    truncateSync(raw, RAW_IMAGE_BYTES)
    for (const step of actionSteps(config, names, location, raw)) {
      console.log(`\n──── action: ${step.name} ────`)
      const run = await runAction({
        inputs: step.inputs,
        env: { AZURE_CONFIG_DIR: env.AZURE_CONFIG_DIR },
        runId: `smoke${names.suffix}`
      })
      process.stdout.write(redact(run.main.stdout + run.main.stderr, config))
      process.stdout.write(redact((run.post?.stdout ?? '') + (run.post?.stderr ?? ''), config))
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
    return
  } finally {
    for (const command of cleanupCommands(config, names)) {
      cleanupOutcomes.push(await az(command, env, config))
    }
    // Whatever else carries the tag (the action's own upload disk or snapshot, should its post step have failed).
    const rest = await az(
      [
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
      ],
      env,
      config
    )
    for (const id of rest.stdout.split('\n').filter(Boolean)) {
      cleanupOutcomes.push(await az(['resource', 'delete', '--ids', id], env, config))
    }
    const { text, ok } = report(config, names, steps, setupOutcomes, cleanupOutcomes)
    console.log(text)
    process.exitCode = ok ? 0 : 1
    rmSync(work, { recursive: true, force: true })
  }
}

await main()
