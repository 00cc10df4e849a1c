/**
 * The main step, as the sequence it is: read the plan → inspect upload files → connect → read-only
 * preflight and permissions → execute (or stop at the plan in a dry run) → outputs and summary.
 * A failure is described once (failure.ts), what the ledger lists is cleaned up, and the summary
 * says what happened. The run's signal and step tracking are in run-tracker.ts.
 */
import { randomBytes } from 'node:crypto'
import { Outputs, State } from './constants.js'
import type { AzureClients } from './azure/clients.js'
import {
  checkPermissions,
  customRoleDefinition,
  describeDoubtful,
  describeMissing,
  splitMissing
} from './azure/permissions.js'
import { cleanUp } from './cleanup.js'
import { connect, type ConnectOptions } from './connect.js'
import { untilAborted } from './sleep.js'
import { execute } from './execute.js'
import { errorMessage } from './error-message.js'
import { describeFailure } from './failure.js'
import { InputError, readPlan } from './inputs.js'
import { createLedger, sealLedger, type Ledger } from './ledger.js'
import { formatDuration } from './log.js'
import { describePlan, type Plan } from './plan.js'
import { decidedPlan, planLines, preflight, type Inspected, type Preflight } from './preflight.js'
import { readCustomizeScripts } from './build/customize-scripts.js'
import { withBaseImageTag } from './execute-build.js'
import { emptyReport, type Report } from './report.js'
import { StepFailure, type RunContext } from './run-context.js'
import { trackRun, type RunTracker } from './run-tracker.js'
import type { Runner } from './runner.js'
import { renderSummary } from './summary.js'
import { inspectUploadSource } from './upload/upload-image.js'
import { outputProblems } from './output-checks.js'
import { oneLine, printUntrusted } from './untrusted.js'

/** What main reaches Azure through; tests pass their own `connect`. */
export interface MainDeps {
  connect: (runner: Runner, plan: Plan, options: ConnectOptions) => Promise<AzureClients>
}

/** Runs the main step; returns the process exit code. */
export async function runMain(runner: Runner, deps: MainDeps = { connect }): Promise<number> {
  runner.saveState(State.IsPost, 'true')
  // Written through the state file before anything the action runs can print: the runner applies
  // the file at the end of the step, over any `::save-state` a guest's output carried (issue 14).
  const nonce = randomBytes(16).toString('hex')
  runner.saveState(State.Nonce, nonce)
  runner.saveState(State.Succeeded, 'false')
  runner.saveState(State.Ledger, sealLedger(nonce, '[]'))
  const plan = readPlanOrReport(runner)
  if (plan === undefined) return 1
  const report = emptyReport()
  // The time limit and cancellation start before the first read of a file: reading an input
  // must not outlast timeout-minutes, whatever the path names.
  const tracker = trackRun(runner, plan, report)
  // Upload files and customization scripts are checked before any call to Azure: a bad file costs nothing.
  const inspected = await inspectOrReport(runner, plan, tracker)
  if (inspected === false) {
    tracker.dispose()
    return 1
  }
  tracker.enter('Connect to Azure')

  const ledger = createLedger(json => runner.saveState(State.Ledger, sealLedger(nonce, json)))
  const started = Date.now()
  let clients: AzureClients | undefined
  try {
    clients = await deps.connect(runner, plan, { signal: tracker.signal })
    runner.saveState(
      State.Connection,
      JSON.stringify({ runId: plan.run.runId, ownerKey: plan.owner.key })
    )
    let ctx = runContext(plan, clients, tracker, ledger, report)
    const checked = ctx
    const pre = await ctx.step('Check source and targets (read-only)', () =>
      preflight(checked, inspected)
    )
    // What a build creates carries the base image it was made from, resolved (`base-image` tag).
    if (pre.mode === 'build') {
      ctx = { ...ctx, plan: withBaseImageTag(plan, pre.build.image.provenance) }
      report.outputs[Outputs.BaseImageVersion] =
        pre.build.image.version || pre.build.image.provenance
    }
    tracker.enter('Check permissions')
    const decided = decidedPlan(plan, pre.mode === 'capture' && pre.deprovision)
    await refuseMissingPermissions(runner, clients, decided, tracker)
    const planned = planLines(plan, pre)
    runner.log.info('Plan:')
    planned.forEach((l, i) => runner.log.info(oneLine(`  ${i + 1}. ${l}`)))
    if (plan.dryRun) {
      reportDryRun(runner, report, { planned, decided, pre })
      return await finishSuccess(
        runner,
        plan,
        report,
        clients,
        'Dry run: nothing was created or changed.',
        nonce
      )
    }
    await execute(ctx, pre)
    const done = `Done in ${formatDuration(Date.now() - started)}: ${report.outputs[Outputs.ImageId] ?? ''}`
    return await finishSuccess(runner, plan, report, clients, done, nonce)
  } catch (e) {
    return await finishFailure(runner, { plan, report, ledger, tracker, clients }, e)
  } finally {
    tracker.dispose()
  }
}

/**
 * The permissions preflight: refuses when an action is missing where the resource's own permissions
 * were read; warns when it is missing only as far as its resource group shows (the resource could
 * not be read); goes on when the permissions cannot be read at all.
 */
async function refuseMissingPermissions(
  runner: Runner,
  clients: AzureClients,
  decided: Plan,
  tracker: RunTracker
): Promise<void> {
  const permissions = await checkPermissions(clients, decided, tracker.log, tracker.signal)
  if (permissions === 'unknown') return
  const { certain, doubtful } = splitMissing(permissions)
  if (certain.length > 0)
    throw new StepFailure(describeMissing(certain, decided, decided.connection.clientId))
  // One warning a scope; the scopes carry names from the inputs.
  for (const line of doubtful.length > 0 ? describeDoubtful(doubtful).split('\n') : [])
    runner.log.warning(oneLine(line))
}

/** A dry run's report: the plan, the least-privilege role for it, the version it would publish. */
function reportDryRun(
  runner: Runner,
  report: Report,
  run: { planned: string[]; decided: Plan; pre: Preflight }
): void {
  const { planned, decided, pre } = run
  report.sections.push({
    title: 'Plan',
    markdown: planned.map((l, i) => `${i + 1}. ${l}`).join('\n')
  })
  // The least-privilege role for exactly this run, from the table the preflight checked.
  const role = JSON.stringify(customRoleDefinition(decided), null, 2)
  runner.log.info('Least-privilege custom role for this run (az role definition create):')
  // Its scopes carry resource group names from the inputs: printed inside a stop-commands block.
  printUntrusted(runner.log, role)
  report.sections.push({
    title: 'Least-privilege role for this run',
    markdown: `Create it with \`az role definition create --role-definition role.json\` and assign it on the scopes it lists:\n\n\`\`\`json\n${role}\n\`\`\``
  })
  // The version a real run would publish, as an output too (the summary lists it under Outputs).
  if (pre.gallery) report.outputs[Outputs.GalleryImageVersion] = pre.gallery.version
}

function readPlanOrReport(runner: Runner): Plan | undefined {
  let plan: Plan
  try {
    plan = readPlan(name => runner.getInput(name), runner.planContext())
  } catch (e) {
    if (!(e instanceof InputError)) throw e
    runner.error(e.message)
    return undefined
  }
  if (plan.connection.clientSecret) runner.log.secret(plan.connection.clientSecret)
  runner.log.debug(oneLine(`Plan: ${JSON.stringify(describePlan(plan))}`))
  return plan
}

/**
 * The inspected upload files or customization scripts (nothing in capture mode), or false after
 * reporting a bad file, or a timeout or cancellation while reading them.
 */
async function inspectOrReport(
  runner: Runner,
  plan: Plan,
  tracker: RunTracker
): Promise<Inspected | false> {
  const source = plan.source
  if (source.mode === 'capture') return {}
  tracker.enter(
    source.mode === 'upload' ? 'Inspect the disk image files' : 'Read the customization scripts'
  )
  try {
    if (source.mode === 'build') {
      const scripts = await untilAborted(
        readCustomizeScripts({
          paths: source.customizeScripts,
          inline: source.customize,
          workspace: runner.env.GITHUB_WORKSPACE || process.cwd()
        }),
        tracker.signal
      )
      return { scripts }
    }
    return { upload: await untilAborted(inspectUploadSource(source), tracker.signal) }
  } catch (e) {
    const why = tracker.stopReason()
    runner.error(
      why !== undefined
        ? `${why === 'timeout' ? `Timed out after ${plan.timeoutMinutes} minute(s)` : 'Cancelled'} while reading the ${source.mode === 'upload' ? 'disk image files' : 'customization scripts'}.`
        : errorMessage(e)
    )
    return false
  }
}

function runContext(
  plan: Plan,
  clients: AzureClients,
  tracker: RunTracker,
  ledger: Ledger,
  report: Report
): RunContext {
  return {
    plan,
    clients,
    log: tracker.log,
    signal: tracker.signal,
    ledger,
    report,
    step: tracker.step
  }
}

function title(plan: Plan): string {
  if (plan.dryRun) return 'Dry run'
  switch (plan.source.mode) {
    case 'capture':
      return `Capture of VM '${plan.source.vm.name}'`
    case 'build':
      return 'Build'
    case 'upload':
      return 'Upload'
  }
}

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

/** Outputs, the closing log line, the summary, and the state that tells post there is nothing to do. */
async function finishSuccess(
  runner: Runner,
  plan: Plan,
  report: Report,
  clients: AzureClients,
  closing: string,
  nonce: string
): Promise<number> {
  setCheckedOutputs(runner, plan, report.outputs)
  runner.log.info(oneLine(closing))
  const heading = plan.dryRun ? `${title(plan)}: the run would be attempted` : title(plan)
  await runner.writeSummary(renderSummary(report, clients.cloud, { ok: true, title: heading }))
  runner.saveState(State.Succeeded, nonce)
  return 0
}

interface FailedRun {
  plan: Plan
  report: Report
  ledger: Ledger
  tracker: RunTracker
  /** Undefined when signing in failed. */
  clients: AzureClients | undefined
}

/** One `::error::`, the details, cleanup of what the ledger lists (unless cancelled), the summary. */
async function finishFailure(runner: Runner, run: FailedRun, error: unknown): Promise<number> {
  const { plan, report, ledger, tracker, clients } = run
  const { log } = runner
  const stopReason = tracker.stopReason()
  const { message, details } = describeFailure(error, {
    stopReason,
    step: tracker.currentStep(),
    lastLine: tracker.lastLine(),
    plan,
    env: runner.env
  })
  const [first, ...rest] = message.split('\n')
  runner.error(first)
  for (const line of [...rest, ...details]) log.info(oneLine(line))
  if (clients && stopReason !== 'cancelled' && ledger.entries().length > 0) {
    // Clean up now while we can; the post step finishes whatever this leaves.
    const result = await log.group('Cleanup', () =>
      cleanUp({
        clients,
        ledger,
        ownerKey: plan.owner.key,
        log,
        signal: AbortSignal.timeout(10 * 60_000)
      })
    )
    report.notes.push(...result.done, ...result.failed)
  }
  // Snapshots taken before the failure are the user's way back: their IDs are still an output.
  const backups = report.outputs[Outputs.BackupSnapshotIds]
  if (backups !== undefined) {
    const only = { [Outputs.BackupSnapshotIds]: backups }
    const problems = outputProblems(plan, only)
    if (problems.length === 0) runner.setOutput(Outputs.BackupSnapshotIds, backups)
    else for (const p of problems) log.warning(oneLine(`Not set: ${p}`))
  }
  await runner.writeSummary(
    renderSummary(report, clients?.cloud, { ok: false, title: title(plan), error: first })
  )
  return 1
}
