/**
 * The main step: inputs → plan → read-only preflight → steps → outputs and summary. It owns the
 * run's one AbortSignal (timeout-minutes, SIGINT/SIGTERM) and the ledger of what must not outlive a
 * failure.
 */
import { Outputs, State } from './constants.js'
import { resolveCloud, type Cloud } from './azure/clouds.js'
import { createClients, type AzureClients } from './azure/clients.js'
import { chooseCredentialKind, createCredential } from './azure/credentials.js'
import { describeAzureError } from './azure/errors.js'
import { checkPermissions, describeMissing } from './azure/permissions.js'
import { azurePolicies, refreshableCredential } from './azure/policies.js'
import { cleanUp } from './cleanup.js'
import { captureProblems } from './capture/capture-checks.js'
import { takeBackupSnapshots } from './capture/backup-snapshots.js'
import { generalizeGuest } from './capture/guest-generalization.js'
import { deallocateVm, deleteVm, markGeneralized } from './capture/generalize-vm.js'
import { readVm, type VmFacts } from './capture/vm-facts.js'
import { InputError, readPlan, type PlanContext } from './inputs.js'
import { createLedger } from './ledger.js'
import { formatDuration, type Logger } from './log.js'
import { describePlan, type Plan } from './plan.js'
import { emptyReport, type Report } from './report.js'
import type { RunContext } from './run-context.js'
import type { ImageContent, SourceFacts } from './source-facts.js'
import { renderSummary } from './summary.js'
import {
  checkManagedImage,
  createManagedImage,
  type ManagedImagePreflight
} from './targets/managed-image.js'
import { checkGalleryTarget, type GalleryPreflight } from './targets/gallery-preflight.js'
import { publishGalleryVersion } from './targets/gallery-version.js'
import { pruneGalleryVersions } from './targets/gallery-retention.js'
import { describeGalleryPlan } from './targets/gallery-preflight.js'
import {
  finishUploads,
  inspectUploadSource,
  uploadImages,
  type InspectedUpload
} from './upload/upload-image.js'

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
  fetchJson(url: string): Promise<unknown>
  hasAzureCli(): boolean
  planContext(): PlanContext
}

export class StepFailure extends Error {}

function which(clients: AzureClients | undefined): Cloud | undefined {
  return clients?.cloud
}

export async function connect(
  runner: Runner,
  plan: Pick<Plan, 'connection' | 'subscriptionId'>,
  quiet = false
): Promise<AzureClients> {
  const cloud = await resolveCloud(plan.connection, runner.fetchJson)
  const chosen = chooseCredentialKind(plan.connection, {
    canMintIdToken: Boolean(
      runner.env.ACTIONS_ID_TOKEN_REQUEST_URL && runner.env.ACTIONS_ID_TOKEN_REQUEST_TOKEN
    ),
    hasAzureCli: runner.hasAzureCli()
  })
  if (!quiet) {
    runner.log.info(
      `Azure: ${cloud.name} (${cloud.resourceManagerEndpoint}), subscription ${plan.subscriptionId}`
    )
    runner.log.info(`Signing in with ${chosen.kind}: ${chosen.reason}`)
  }
  // Refreshable: when Azure rejects a token mid-run, the policy builds a new credential, so OIDC
  // mints a new GitHub ID token instead of replaying a cached one.
  const credential = refreshableCredential(() =>
    createCredential(chosen.kind, plan.connection, cloud, plan.subscriptionId, {
      getIDToken: runner.getIDToken,
      canMintIdToken: Boolean(runner.env.ACTIONS_ID_TOKEN_REQUEST_URL),
      hasAzureCli: runner.hasAzureCli()
    })
  )
  return createClients(cloud, credential, plan.subscriptionId, {
    policies: azurePolicies({ credential, scopes: [cloud.armScope], log: runner.log })
  })
}

interface Preflight {
  vm?: VmFacts
  upload?: InspectedUpload
  source: SourceFacts
  managedImage?: ManagedImagePreflight
  gallery?: GalleryPreflight
}

async function preflight(ctx: RunContext, upload: InspectedUpload | undefined): Promise<Preflight> {
  const { plan, clients, signal, log } = ctx
  let vm: VmFacts | undefined
  let source: SourceFacts
  if (plan.source.mode === 'capture') {
    vm = await readVm(clients, plan.source.vm, signal)
    log.info(
      `VM '${vm.name}': ${vm.osType}, ${vm.location}, Hyper-V ${vm.hyperVGeneration}, ${vm.architecture}, security ${vm.securityType}, ${vm.powerState}${vm.generalized ? ', generalized' : ''}, ${vm.disks.length - 1} data disk(s)`
    )
    const problems = captureProblems(plan, plan.source, vm)
    if (problems.length > 0) throw new StepFailure(problems.join('\n'))
    source = {
      osType: vm.osType,
      osState: plan.source.generalize ? 'Generalized' : 'Specialized',
      hyperVGeneration: vm.hyperVGeneration,
      architecture: vm.architecture,
      securityType: vm.securityType,
      location: vm.location
    }
  } else {
    const u = plan.source
    let location = plan.location
    if (location === undefined) {
      const group = await clients.resources.resourceGroups.get(plan.resourceGroup, {
        abortSignal: signal
      })
      location = group.location.replace(/\s+/g, '').toLowerCase()
    }
    source = {
      osType: u.osType,
      osState: u.osState,
      hyperVGeneration: u.hyperVGeneration,
      architecture: u.architecture,
      securityType: u.securityType,
      location
    }
  }
  const managedImage = plan.managedImage
    ? await checkManagedImage(clients, plan.managedImage, plan.run.runId, signal)
    : undefined
  // What the version will be made from: the managed image when there is one, else the VM or the uploads.
  const origin =
    plan.source.mode === 'capture'
      ? {
          kind: plan.managedImage ? ('managed-image' as const) : ('vm' as const),
          name: plan.source.vm.name
        }
      : {
          kind: plan.managedImage
            ? ('managed-image' as const)
            : plan.source.destination.kind === 'managed-disk'
              ? ('disks' as const)
              : ('blobs' as const),
          name: plan.source.osDiskPath
        }
  const gallery = plan.gallery
    ? await checkGalleryTarget(
        { clients, log, signal, run: plan.run },
        plan.gallery,
        source,
        origin
      )
    : undefined
  return { vm, upload, source, managedImage, gallery }
}

function planLines(plan: Plan, pre: Preflight): string[] {
  const lines: string[] = []
  if (plan.source.mode === 'capture') {
    const s = plan.source
    if (s.backupSnapshot)
      lines.push(
        `Snapshot the OS disk and ${(pre.vm?.disks.length ?? 1) - 1} data disk(s) of VM '${s.vm.name}'`
      )
    if (s.deprovision && !pre.vm?.generalized)
      lines.push(
        `Run the OS's generalization in VM '${s.vm.name}' (${pre.vm?.osType === 'Windows' ? 'Sysprep' : 'waagent -deprovision+user'})`
      )
    if (s.generalize && !pre.vm?.generalized)
      lines.push(`Deallocate VM '${s.vm.name}' and mark it generalized`)
  } else {
    for (const d of pre.upload?.disks ?? []) {
      lines.push(
        `Upload ${d.path} (${d.description}) to a temporary ${plan.source.destination.kind === 'managed-disk' ? 'managed disk' : 'page blob'}`
      )
    }
  }
  if (plan.managedImage && pre.managedImage) {
    const verb = {
      create: 'Create',
      reuse: 'Reuse (made by an earlier attempt of this run)',
      replace: 'Replace'
    }[pre.managedImage.action]
    lines.push(`${verb} managed image ${pre.managedImage.id} in ${pre.source.location}`)
  }
  if (plan.gallery && pre.gallery) lines.push(...describeGalleryPlan(plan.gallery, pre.gallery))
  if (plan.source.mode === 'capture' && plan.source.deleteSourceVm)
    lines.push(`Delete VM '${plan.source.vm.name}'`)
  if (plan.source.mode === 'upload' && !plan.source.keepUpload)
    lines.push('Delete the temporary upload disk(s)/blob(s)')
  return lines
}

async function execute(ctx: RunContext, pre: Preflight): Promise<void> {
  const { plan, report } = ctx
  const allReused =
    (pre.managedImage === undefined || pre.managedImage.action === 'reuse') &&
    (pre.gallery === undefined ||
      (pre.gallery.action === 'reuse' && pre.gallery.existingState === 'Succeeded'))
  let content: ImageContent | undefined
  if (allReused) {
    ctx.log.info(
      'Every target was created by an earlier attempt of this run: nothing to capture or upload'
    )
  } else if (plan.source.mode === 'capture') {
    const vm = pre.vm as VmFacts
    const s = plan.source
    if (s.backupSnapshot && vm.generalized) {
      ctx.log.info(
        `Not snapshotting VM '${vm.name}' again: it is already generalized, so the attempt that generalized it took the backups`
      )
    } else if (s.backupSnapshot) {
      const ids = await ctx.step('Backup snapshots', () => takeBackupSnapshots(ctx, vm))
      report.outputs[Outputs.BackupSnapshotIds] = JSON.stringify(ids)
    }
    if (vm.generalized) {
      ctx.log.info(
        `VM '${vm.name}' is already generalized (an earlier attempt got this far): going on to the image`
      )
    } else {
      if (s.deprovision)
        await ctx.step('Generalize the OS (Run Command)', () => generalizeGuest(ctx, vm))
      if (s.generalize) {
        await ctx.step('Deallocate VM', () => deallocateVm(ctx, vm))
        await ctx.step('Mark VM generalized', () => markGeneralized(ctx, vm))
      }
    }
    content = { kind: 'vm', vmId: vm.id }
  } else {
    const result = await uploadImages(ctx, pre.upload as InspectedUpload, pre.source.location)
    report.outputs[Outputs.UploadedBytes] = String(result.uploadedBytes)
    content = result.content
  }

  let managedImageId: string | undefined
  if (plan.managedImage && pre.managedImage) {
    const target = plan.managedImage
    const mi = pre.managedImage
    managedImageId = await ctx.step('Managed image', () =>
      createManagedImage(ctx, target, mi, content as ImageContent, pre.source)
    )
    report.outputs[Outputs.ManagedImageId] = managedImageId
    report.outputs[Outputs.ImageId] = managedImageId
  }
  if (plan.gallery && pre.gallery) {
    const target = plan.gallery
    const gp = pre.gallery
    const versionContent: ImageContent =
      managedImageId !== undefined
        ? { kind: 'managed-image', imageId: managedImageId }
        : (content as ImageContent)
    const version = await ctx.step('Gallery image version', () =>
      publishGalleryVersion(ctx, target, gp, versionContent, pre.source)
    )
    report.outputs[Outputs.GalleryImageVersionId] = version.id
    report.outputs[Outputs.GalleryImageVersion] = version.version
    report.outputs[Outputs.ImageId] = version.id
    if (target.keepVersions > 0) {
      await ctx.step('Prune old versions', () => pruneGalleryVersions(ctx, target, version.version))
    }
  }
  report.outputs[Outputs.Location] = pre.source.location
  if (plan.source.mode === 'upload' && !allReused) {
    await ctx.step('Remove temporary uploads', () => finishUploads(ctx))
  }
  if (plan.source.mode === 'capture' && plan.source.deleteSourceVm && pre.vm && !allReused) {
    const vm = pre.vm
    await ctx.step('Delete source VM', () => deleteVm(ctx, vm))
  }
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
  log.debug(`Plan: ${JSON.stringify(describePlan(plan))}`)

  // Upload files are checked before any call to Azure: a bad file costs nothing.
  let upload: InspectedUpload | undefined
  if (plan.source.mode === 'upload') {
    try {
      upload = await inspectUploadSource(plan.source)
    } catch (e) {
      runner.error((e as Error).message)
      return 1
    }
  }

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
      `Cancelled during '${currentStep}': stopping what is in flight; the post step cleans up.`
    )
    controller.abort(new Error('the job was cancelled'))
  })
  const trackingLog: Logger = {
    ...log,
    info: (m: string) => {
      lastLine = m
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
    const permissions = await checkPermissions(clients, plan, trackingLog)
    const planned = planLines(plan, pre)
    if (permissions !== 'unknown' && permissions.length > 0) {
      throw new StepFailure(describeMissing(permissions, plan, plan.connection.clientId))
    }
    log.info(`Plan:\n${planned.map((l, i) => `  ${i + 1}. ${l}`).join('\n')}`)
    if (plan.dryRun) {
      report.sections.push({
        title: 'Plan',
        markdown: planned.map((l, i) => `${i + 1}. ${l}`).join('\n')
      })
      if (pre.gallery) report.outputs[Outputs.GalleryImageVersion] = pre.gallery.version
      // The version a real run would publish, as an output too (the summary lists it under Outputs).
      for (const [name, value] of Object.entries(report.outputs)) runner.setOutput(name, value)
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
    for (const [name, value] of Object.entries(report.outputs)) runner.setOutput(name, value)
    log.info(
      `Done in ${formatDuration(Date.now() - started)}: ${report.outputs[Outputs.ImageId] ?? ''}`
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
    for (const line of [...rest, ...details]) log.info(line)
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
    for (const [name, value] of Object.entries(report.outputs)) {
      if (name === Outputs.BackupSnapshotIds) runner.setOutput(name, value)
    }
    await runner.writeSummary(
      renderSummary(report, which(clients), { ok: false, title, error: first })
    )
    return 1
  } finally {
    clearTimeout(timer)
    removeCancel()
  }
}
