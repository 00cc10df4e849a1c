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
 * Without those settings it says so and exits 0. The plan is `smoke-plan.ts`, the flow
 * `smoke-run.ts` (also run against the ARM emulator by __tests__/e2e/smoke-emulator.test.ts).
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runAction } from '../__tests__/support/action-runner.js'
import { readSmokeConfig, redact, skipMessage, smokeNames, type SmokeConfig } from './smoke-plan.js'
import { runSmoke, type Az } from './smoke-run.js'

/** The real Azure CLI; what it prints on failure is redacted and cut to its last lines. */
function realAz(env: NodeJS.ProcessEnv, config: SmokeConfig): Az {
  return args =>
    new Promise(resolve => {
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
  try {
    const { text, ok } = await runSmoke(config, names, {
      az: realAz(env, config),
      runAction,
      actionEnv: { AZURE_CONFIG_DIR: env.AZURE_CONFIG_DIR },
      workDir: work,
      print: text => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
    })
    console.log(text)
    process.exitCode = ok ? 0 : 1
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

await main()
