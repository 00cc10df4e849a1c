/**
 * The main step: inputs → plan → read-only preflight → steps → outputs and summary. It owns the
 * run's one AbortSignal (timeout-minutes, SIGINT/SIGTERM) and the ledger of what must not outlive a
 * failure.
 */
import { Outputs, State } from './constants.js'
import type { AzureClients } from './azure/clients.js'
import { describeAzureError } from './azure/errors.js'
import {
  checkPermissions,
  customRoleDefinition,
  describeDoubtful,
  describeMissing,
  splitMissing
} from './azure/permissions.js'
import { cleanUp } from './cleanup.js'
import { connect } from './connect.js'
import { execute } from './execute.js'
import { InputError, readPlan } from './inputs.js'
import { createLedger } from './ledger.js'
import { formatDuration, type Logger } from './log.js'
import { describePlan, type Plan } from './plan.js'
import { decidedPlan, planLines, preflight } from './preflight.js'
import { emptyReport, type Report } from './report.js'
import { StepFailure, type RunContext } from './run-context.js'
import type { Runner } from './runner.js'
import { renderSummary } from './summary.js'
import { inspectUploadSource, type InspectedUpload } from './upload/upload-image.js'
import { outputProblems } from './output-checks.js'
import { oneLine, printUntrusted } from './untrusted.js'

/**
 * Sets the outputs only when every one is this run's own (output-checks.ts); otherwise the run
 * fails naming them, and none is set.
 */
function setCheckedOutputs(runner: Runner, plan: Plan, outputs: Record<string, string>): void {
  const problems = outputProblems(plan, outputs)
  if (problems.length > 0) {
    throw new StepFailure(
      `Refusing to set outputs that are not this run's resources:\n${problems.join('\n')}`
    )
  }
  for (const [name, value] of Object.entries(outputs)) runner.setOutput(name, value)
}

/** Runs the main step; returns the process exit code. */
export async function runMain(runner: Runner): Promise<number> {
  const { log } = runner
  runner.saveState(State.IsPost, 'true')
  let plan: Plan
  try {
    plan = readPlan(name => runner.getInput(name), runner.planContext())
  } catch (e) {
    if (e instanceof InputError) {
      runner.error(e.message)
      return 1
    }
    throw e
  }
  if (plan.connection.clientSecret) log.secret(plan.connection.clientSecret)
  log.debug(oneLine(`Plan: ${JSON.stringify(describePlan(plan))}`))

  // The time limit and cancellation start before the first read of a file: reading an input
  // must not outlast timeout-minutes, whatever the path names.
  const controller = new AbortController()
  let currentStep = 'Connect to Azure'
  let lastLine = ''
  let why: 'timeout' | 'cancelled' | undefined
  const timer = setTimeout(() => {
    why = 'timeout'
    controller.abort(new Error(`timeout-minutes (${plan.timeoutMinutes}) reached`))
  }, plan.timeoutMinutes * 60_000)
  const removeCancel = runner.onCancel(() => {
    why = 'cancelled'
    log.warning(
      oneLine(
        `Cancelled during '${currentStep}': stopping what is in flight; the post step cleans up.`
      )
    )
    controller.abort(new Error('the job was cancelled'))
  })

  // Upload files are checked before any call to Azure: a bad file costs nothing.
  let upload: InspectedUpload | undefined
  if (plan.source.mode === 'upload') {
    currentStep = 'Inspect the disk image files'
    try {
      upload = await untilAborted(inspectUploadSource(plan.source), controller.signal)
    } catch (e) {
      clearTimeout(timer)
      removeCancel()
      runner.error(
        controller.signal.aborted
          ? `${why === 'timeout' ? `Timed out after ${plan.timeoutMinutes} minute(s)` : 'Cancelled'} while reading the disk image files.`
          : (e as Error).message
      )
      return 1
    }
    currentStep = 'Connect to Azure'
  }

  const trackingLog: Logger = {
    ...log,
    info: (m: string) => {
      // Lines from printUntrusted's stop-commands markers are not progress; the rest are one line.
      if (!m.startsWith('::')) lastLine = oneLine(m)
      // log-sink: callers pass lines made safe with oneLine, or printUntrusted's block.
      log.info(m)
    }
  }
  const report: Report = emptyReport()
  const ledger = createLedger(json => runner.saveState(State.Ledger, json))
  let clients: AzureClients | undefined
  const started = Date.now()
  const title = plan.dryRun
    ? 'Dry run'
    : plan.source.mode === 'capture'
      ? `Capture of VM '${plan.source.vm.name}'`
      : 'Upload'
  try {
    clients = await connect(runner, plan)
    runner.saveState(State.Connection, JSON.stringify({ runId: plan.run.runId }))
    const ctx: RunContext = {
      plan,
      clients,
      log: trackingLog,
      signal: controller.signal,
      ledger,
      report,
      step: async (name, fn) => {
        currentStep = name
        lastLine = ''
        const t0 = Date.now()
        try {
          const result = await log.group(name, fn)
          report.steps.push({ name, ms: Date.now() - t0, outcome: 'ok' })
          return result
        } catch (e) {
          report.steps.push({ name, ms: Date.now() - t0, outcome: 'failed' })
          throw e
        }
      }
    }
    const pre = await ctx.step('Check source and targets (read-only)', () => preflight(ctx, upload))
    currentStep = 'Check permissions'
    const decided = decidedPlan(plan, pre.mode === 'capture' && pre.deprovision)
    const permissions = await checkPermissions(clients, decided, trackingLog, controller.signal)
    const planned = planLines(plan, pre)
    if (permissions !== 'unknown') {
      const { certain, doubtful } = splitMissing(permissions)
      if (certain.length > 0)
        throw new StepFailure(describeMissing(certain, decided, plan.connection.clientId))
      if (doubtful.length > 0) log.warning(describeDoubtful(doubtful))
    }
    log.info('Plan:')
    planned.forEach((l, i) => log.info(oneLine(`  ${i + 1}. ${l}`)))
    if (plan.dryRun) {
      report.sections.push({
        title: 'Plan',
        markdown: planned.map((l, i) => `${i + 1}. ${l}`).join('\n')
      })
      // The least-privilege role for exactly this run, from the table the preflight checked.
      const role = JSON.stringify(customRoleDefinition(decided), null, 2)
      log.info('Least-privilege custom role for this run (az role definition create):')
      // Its scopes carry resource group names from the inputs: printed inside a stop-commands block.
      printUntrusted(log, role)
      report.sections.push({
        title: 'Least-privilege role for this run',
        markdown: `Create it with \`az role definition create --role-definition role.json\` and assign it on the scopes it lists:\n\n\`\`\`json\n${role}\n\`\`\``
      })
      if (pre.gallery) report.outputs[Outputs.GalleryImageVersion] = pre.gallery.version
      // The version a real run would publish, as an output too (the summary lists it under Outputs).
      setCheckedOutputs(runner, plan, report.outputs)
      log.info('Dry run: nothing was created or changed.')
      await runner.writeSummary(
        renderSummary(report, clients.cloud, {
          ok: true,
          title: `${title}: the run would be attempted`
        })
      )
      runner.saveState(State.Succeeded, 'true')
      return 0
    }
    await execute(ctx, pre)
    setCheckedOutputs(runner, plan, report.outputs)
    log.info(
      oneLine(
        `Done in ${formatDuration(Date.now() - started)}: ${report.outputs[Outputs.ImageId] ?? ''}`
      )
    )
    await runner.writeSummary(renderSummary(report, clients.cloud, { ok: true, title }))
    runner.saveState(State.Succeeded, 'true')
    return 0
  } catch (e) {
    const aborted = controller.signal.aborted
    let message: string
    const details: string[] = []
    if (aborted && why === 'timeout') {
      message = `Timed out after ${plan.timeoutMinutes} minute(s) during '${currentStep}'${lastLine ? ` (last progress: ${lastLine})` : ''}. Raise 'timeout-minutes' if Azure needs longer.`
    } else if (aborted && why === 'cancelled') {
      message = `Cancelled during '${currentStep}'.`
    } else if (e instanceof StepFailure) {
      message = e.message
    } else {
      const described = describeAzureError(e, currentStep, {
        github: {
          repository: plan.run.repository,
          ref: plan.run.ref,
          eventName: runner.env.GITHUB_EVENT_NAME
        },
        cloudName: plan.connection.environment
      })
      message = described.summary
      details.push(...described.details)
    }
    const [first, ...rest] = message.split('\n')
    runner.error(first)
    for (const line of [...rest, ...details]) log.info(oneLine(line))
    if (clients && why !== 'cancelled' && ledger.entries().length > 0) {
      // Clean up now while we can; the post step finishes whatever this leaves.
      const result = await log.group('Cleanup', () =>
        cleanUp({
          clients: clients as AzureClients,
          ledger,
          runId: plan.run.runId,
          log,
          signal: AbortSignal.timeout(10 * 60_000)
        })
      )
      report.notes.push(...result.done, ...result.failed)
    }
    const backups = report.outputs[Outputs.BackupSnapshotIds]
    if (backups !== undefined) {
      const only = { [Outputs.BackupSnapshotIds]: backups }
      const problems = outputProblems(plan, only)
      if (problems.length === 0) runner.setOutput(Outputs.BackupSnapshotIds, backups)
      else for (const p of problems) log.warning(oneLine(`Not set: ${p}`))
    }
    await runner.writeSummary(
      renderSummary(report, clients?.cloud, { ok: false, title, error: first })
    )
    return 1
  } finally {
    clearTimeout(timer)
    removeCancel()
  }
}

/** `work`, or the abort reason as soon as `signal` fires (the work itself cannot be interrupted). */
function untilAborted<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    work.then(
      value => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(e)
      }
    )
  })
}
