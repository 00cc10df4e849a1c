/**
 * The invariants every chaos run must keep (issue 12), checked on what the runner would see and
 * what the emulator holds afterwards. Each broken one is a sentence naming what and where.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { ArmEmulator, Body } from '../emulator/index.js'
import type { ActionRun } from '../support/action-runner.js'
import { runnerCommands } from '../support/workflow-commands.js'
import { FATAL_FAULTS, type Scenario } from './scenario.js'

export interface SourceCheck {
  ok: boolean
  why?: string
}

export interface Evidence {
  scenario: Scenario
  emu: ArmEmulator
  /** attempt 1, then the re-run attempt if any */
  attempts: ActionRun[]
  /** a signal was sent or the time limit was set to expire */
  interrupted: boolean
  /** every resource before the run, by lower-cased ID */
  seeded: Map<string, Body>
  seededBlobs: string[]
  blobsAfter: string[]
  /** upload flows: what each image or version PUT was made from, by lower-cased path */
  sources: Map<string, SourceCheck>
  /** the VM the image is made from: the source VM, or the build VM (named from the owner key) */
  vmId: string
  /** values that must never be printed */
  secrets: string[]
  /** build flows */
  build?: BuildEvidence
}

export interface BuildEvidence {
  /** the Marketplace version `latest` must resolve to (the output `base-image-version`) */
  newest: string
  /** the temporary resources' IDs, by the action's naming from the owner key */
  ids: { vm: string; osDisk: string; nic: string; nsg: string; vnet: string }
  /** the given `subnet-id`, if any */
  subnetId?: string
  /** the existing definition a gallery flow publishes into (its older versions may be pruned) */
  definition: string
}

export interface Verdict {
  outcome: 'success' | 'expected-failure' | 'violation'
  violations: string[]
  error?: string
}

const same = (a: string | undefined, b: string | undefined): boolean =>
  (a ?? '').toLowerCase() === (b ?? '').toLowerCase()

/**
 * Token shapes the emulator issues (JWTs; `emu.` tokens), bearer headers, SAS signatures and
 * client secrets in a form body: none may be printed.
 */
const SECRET_PATTERNS: RegExp[] = [
  /emu\.[A-Za-z0-9_-]{32}/,
  /eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{20,}/,
  /Bearer\s+[A-Za-z0-9._-]{8,}/i,
  /\bsig(?:=|%3D|%253D)(?!\*\*\*)[^&\s"'<>]+/i,
  /client_secret=(?!\*\*\*)/i,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----/
]

/** Everything a run left where a person or a later step could read it (add-mask lines aside). */
function everything(run: ActionRun): string {
  const files = ['state', 'output', 'summary.md'].map(f => {
    try {
      return readFileSync(join(run.dir, f), 'utf8')
    } catch {
      return ''
    }
  })
  return [
    run.allText,
    JSON.stringify(run.outputs),
    JSON.stringify(run.state),
    run.summary,
    ...files
  ]
    .join('\n')
    .split('\n')
    .filter(l => !l.startsWith('::add-mask::'))
    .join('\n')
}

/** The values a step registered with `::add-mask::` (the SAS URL and its parts, tokens, …). */
function maskedValues(run: ActionRun): string[] {
  return run.allText
    .split('\n')
    .filter(l => l.startsWith('::add-mask::'))
    .map(l =>
      l
        .slice('::add-mask::'.length)
        .replace(/%0D/g, '\r')
        .replace(/%0A/g, '\n')
        .replace(/%25/g, '%')
    )
    .filter(v => v.length >= 8)
}

function secretLeaks(run: ActionRun, secrets: string[], label: string): string[] {
  const text = everything(run)
  const found: string[] = []
  for (const s of [...secrets, ...maskedValues(run)])
    if (s && text.includes(s)) found.push(`${label}: a secret value is printed (${s.slice(0, 4)}…)`)
  for (const p of SECRET_PATTERNS) {
    const m = p.exec(text)
    if (m) found.push(`${label}: secret-shaped text printed: ${m[0].slice(0, 12)}…`)
  }
  return found
}

/** The error annotations the runner would show, and the step group open when the first was printed. */
function errorsOf(stdout: string): { errors: string[]; step?: string } {
  let step: string | undefined
  let stepAtError: string | undefined
  const errors: string[] = []
  for (const c of runnerCommands(stdout)) {
    if (c.command === 'group') step = c.data
    if (c.command === 'endgroup') step = undefined
    if (c.command === 'error') {
      if (errors.length === 0) stepAtError = step
      errors.push(c.data)
    }
  }
  return { errors, step: stepAtError }
}

/**
 * Refusals the README documents, right after what the scenario did: they end a run on purpose.
 * - A re-run attempt after main was killed while the guest deprovisioned: the VM is stopped but
 *   not generalized, and `deprovision: true` on a stopped VM is refused (README "Capture sequence").
 * - A Run Command whose result Azure reports only after the VM stopped: the deprovision cannot be
 *   verified, so the VM is not generalized (README "Capture sequence", step 5).
 */
const EXPECTED_REFUSALS: Array<{
  pattern: RegExp
  when: (s: Scenario, e: Evidence) => boolean
}> = [
  {
    // The killed attempt may have left the VM stopping, stopped, deallocating or deallocated
    // (its deprovision shut the guest down, or its deallocate had begun): an explicit
    // `deprovision: true` then refuses, naming 'deprovision: false' (capture-checks.ts).
    pattern: /^'deprovision: true' .* but it is (stopped|stopping|deallocating|deallocated)\./,
    when: s => s.interruption.kind === 'sigkill-rerun' && s.deprovision
  },
  {
    pattern:
      /^Generalize the OS \(Run Command\) failed: .* so the deprovision cannot be verified\./,
    when: s =>
      s.deprovision && s.faults.some(f => f.kind === 'slow-operation' && f.method === 'POST')
  },
  {
    // The answer to the run command that starts the deprovision was lost (carried out, connection
    // closed) and the request sent again met Azure's 409 for the command in progress: its output,
    // the only proof the deprovision started, is lost, so the action stops before generalize.
    pattern:
      /^Generalize the OS \(Run Command\) failed: Azure answered 409 Conflict .* so the deprovision cannot be verified\./,
    when: (s, e) =>
      s.deprovision &&
      e.emu.requests.some(
        q => q.method === 'POST' && /\/runCommand$/.test(q.path) && q.responseDropped === true
      )
  },
  // The build's failing script (exit 3): one error naming it (docs/build.md section 4).
  {
    pattern: /^Customization script 'scripts\/broken\.(sh|ps1)' failed with exit code 3;/,
    when: s => s.build?.failingScript === true
  }
]

const CANCEL_OR_TIMEOUT =
  /^(Cancelled during '[^']+'|Timed out after \d+ minute\(s\) during '[^']+')/

export function checkInvariants(e: Evidence): Verdict {
  const v: string[] = []
  const final = e.attempts[e.attempts.length - 1]
  e.attempts.forEach((a, i) => {
    const label = `attempt ${i + 1}`
    if (a.post && a.post.code !== 0) v.push(`${label}: the post step exited ${a.post.code}`)
    v.push(...secretLeaks(a, e.secrets, label))
  })
  const success = final.main.code === 0
  const { errors, step } = errorsOf(final.main.stdout)
  const resources = new Map(e.emu.resources.list().map(b => [String(b.id).toLowerCase(), b]))
  const outputId = final.outputs['image-id']
  let error: string | undefined

  if (outputId) {
    const r = resources.get(outputId.toLowerCase())
    if (!r) v.push(`image-id names a resource that does not exist: ${outputId}`)
    else if (r.properties?.provisioningState !== 'Succeeded')
      v.push(`image-id names a resource in state ${r.properties?.provisioningState}`)
    else v.push(...sourceViolations(e, r))
  }
  if (success) {
    if (errors.length > 0) v.push(`succeeded with ::error:: ${errors[0]}`)
    if (!outputId) v.push('succeeded without an image-id output')
    const base = final.outputs['base-image-version']
    if (e.build && base !== e.build.newest)
      v.push(`base-image-version is ${base ?? 'not set'}, not the newest ${e.build.newest}`)
    if (e.scenario.build?.failingScript) v.push('succeeded although a script exits 3')
  } else {
    error = errors[0]
    if (errors.length !== 1)
      v.push(
        `failed with ${errors.length} ::error:: lines${errors.length ? `: ${errors.join(' | ')}` : ''}`
      )
    else v.push(...failureViolations(e, errors[0], step))
  }
  const kept = e.build ? keptBuildVm(e, resources, success, errors[0]) : { ids: [], v: [] }
  v.push(...kept.v)
  v.push(...leftovers(e, resources, success, kept.ids))
  v.push(...bystanders(e, resources))

  return {
    outcome: v.length > 0 ? 'violation' : success ? 'success' : 'expected-failure',
    violations: v,
    error
  }
}

function sourceViolations(e: Evidence, r: Body): string[] {
  const s = e.scenario
  const type = String(r.type).toLowerCase()
  if (s.flow.startsWith('upload')) {
    const check = e.sources.get(String(r.id).toLowerCase())
    if (!check) return [`no image or version PUT of ${r.id} was seen with an upload source`]
    return check.ok ? [] : [`${r.id} was made from bytes that are not the file's: ${check.why}`]
  }
  if (type === 'microsoft.compute/images') {
    const source = r.properties?.sourceVirtualMachine?.id
    return same(source, e.vmId) ? [] : [`image made from ${source}, not from the VM`]
  }
  const sp = r.properties?.storageProfile ?? {}
  const source = sp.source?.virtualMachineId ?? sp.source?.id
  return same(source, e.vmId) ? [] : [`version made from ${source}, not from the VM`]
}

function failureViolations(e: Evidence, error: string, step: string | undefined): string[] {
  const s = e.scenario
  if (CANCEL_OR_TIMEOUT.test(error)) {
    return e.interrupted ? [] : [`cancelled or timed out without an interruption: ${error}`]
  }
  const refusal = EXPECTED_REFUSALS.find(r => r.pattern.test(error) && r.when(s, e))
  if (refusal) return []
  const fatal = s.faults.filter(f => FATAL_FAULTS.includes(f.kind))
  if (fatal.length === 0) return [`failed under transient faults only: ${error}`]
  const v: string[] = []
  if (step && !error.includes(step)) v.push(`the error does not name the step '${step}': ${error}`)
  const named =
    (fatal.some(f => f.kind === 'operation-failed') && error.includes('InternalExecutionError')) ||
    (fatal.some(f => f.kind === 'page-lost') && /Upload disk images/.test(error))
  if (!named) v.push(`the error does not name Azure's code of the fault: ${error}`)
  return v
}

/**
 * `keep-build-vm`: the summary says the VM was kept exactly when it was asked to be (`true` after a
 * build that got past generalization, `on-failure` or `true` after a failing script), and then the
 * VM, its OS disk, NIC, NSG and (without `subnet-id`) virtual network are all there, with the
 * commands that delete them. Returns the IDs kept (their nested resources go with them).
 */
function keptBuildVm(
  e: Evidence,
  resources: Map<string, Body>,
  success: boolean,
  error: string | undefined
): { ids: string[]; v: string[] } {
  const build = e.build
  const options = e.scenario.build
  if (!build || !options) return { ids: [], v: [] }
  const final = e.attempts[e.attempts.length - 1]
  const name = build.ids.vm.split('/').pop() ?? ''
  const said = final.summary.includes('Build VM kept') && final.summary.includes(name)
  const v: string[] = []
  const scriptFailed = !success && /^Customization script 'scripts\/broken\./.test(error ?? '')
  const asked =
    (options.keepBuildVm === 'true' && success) ||
    (options.keepBuildVm !== 'false' && scriptFailed && !e.interrupted)
  if (said && options.keepBuildVm === 'false') v.push('the build VM was kept without keep-build-vm')
  if (asked && !said)
    v.push(`keep-build-vm: ${options.keepBuildVm}, but the summary does not say the VM was kept`)
  if (!said) return { ids: [], v }
  const ids = [build.ids.vm, build.ids.osDisk, build.ids.nic, build.ids.nsg]
  if (!build.subnetId) ids.push(build.ids.vnet)
  for (const id of ids)
    if (!resources.has(id.toLowerCase())) v.push(`kept, but ${id.split('/').pop()} is gone`)
  if (!final.summary.includes(`az vm delete --ids ${build.ids.vm}`))
    v.push('the summary of a kept VM does not say how to delete it')
  return { ids: ids.map(i => i.toLowerCase()), v }
}

/** A nested resource (a run command, a subnet) whose parent is gone: ARM deletes it with it. */
function orphaned(id: string, resources: Map<string, Body>): boolean {
  const parts = id.split('/')
  // /subscriptions/s/resourceGroups/g/providers/NS/type/name: 8 segments (leading ''); nested: more.
  return parts.length > 9 && !resources.has(parts.slice(0, -2).join('/'))
}

/** Nothing the run created is left but what it was asked to keep, and no write access granted. */
function leftovers(
  e: Evidence,
  resources: Map<string, Body>,
  success: boolean,
  kept: string[]
): string[] {
  const s = e.scenario
  const v: string[] = []
  const final = e.attempts[e.attempts.length - 1]
  const wanted = [final.outputs['image-id'], final.outputs['managed-image-id']]
  for (const [id, r] of resources) {
    const type = String(r.type).toLowerCase()
    const state = r.properties?.provisioningState
    const diskState = r.properties?.diskState
    if (diskState === 'ActiveUpload' || diskState === 'ActiveSAS')
      v.push(`write access left granted: ${r.name} is ${diskState}`)
    if (e.seeded.has(id)) continue
    if (kept.some(k => id === k || id.startsWith(`${k}/`))) continue
    if (orphaned(id, resources)) continue
    const ours = String(r.name).includes(String(s.seed))
    switch (type) {
      case 'microsoft.compute/images':
      case 'microsoft.compute/galleries/images/versions':
        // What the run was asked to make: kept once it succeeded (also when a later step failed).
        if (state === 'Succeeded' && (wanted.some(w => same(w, id)) || ours || !success)) break
        v.push(`left behind: ${type.split('/').pop()} ${r.name} (${state})`)
        break
      case 'microsoft.compute/galleries/images':
        break // create-gallery-image asked for the definition
      case 'microsoft.compute/snapshots':
        if (s.backupSnapshot && /-backup-/.test(String(r.name))) break
        v.push(`left behind: snapshot ${r.name}`)
        break
      case 'microsoft.compute/disks':
        if (!s.build && s.keepUpload && success) break
        v.push(`left behind: disk ${r.name} (${diskState})`)
        break
      default:
        v.push(`left behind: ${type} ${r.name}`)
    }
  }
  for (const b of e.blobsAfter) {
    if (e.seededBlobs.includes(b)) continue
    if (!(s.keepUpload && success)) v.push(`left behind: blob ${b}`)
  }
  return v
}

/** Other runs' resources: still there, unchanged, never written to (keep-versions aside). */
function bystanders(e: Evidence, resources: Map<string, Body>): string[] {
  const s = e.scenario
  const v: string[] = []
  const vm = e.vmId.toLowerCase()
  const ownSource = (id: string): boolean =>
    id === vm || /\/disks\//.test(id) || /\/galleries\/[^/]+$/.test(id)
  const pruned: Body[] = []
  for (const [id, before] of e.seeded) {
    if (ownSource(id)) continue
    const after = resources.get(id)
    const definition = `/images/${(e.build?.definition ?? 'golden').toLowerCase()}/versions/`
    const prunable = s.keepVersions > 0 && id.includes(definition)
    if (!after) {
      if (prunable) pruned.push(before)
      else v.push(`another run's resource was deleted: ${before.name}`)
      continue
    }
    if (JSON.stringify(after) !== JSON.stringify(before))
      v.push(`another run's resource was changed: ${before.name}`)
  }
  if (pruned.length > 0) {
    const definition = `/images/${(e.build?.definition ?? 'golden').toLowerCase()}/versions/`
    const kept = [...e.seeded.values()].filter(
      b =>
        String(b.id).toLowerCase().includes(definition) && resources.has(String(b.id).toLowerCase())
    )
    const date = (b: Body): string => String(b.properties?.publishingProfile?.publishedDate ?? '')
    for (const p of pruned)
      if (kept.some(k => date(k) < date(p)))
        v.push(
          `keep-versions deleted ${p.name} but kept the older ${kept.map(k => k.name).join(', ')}`
        )
  }
  // Another run's image and definition, another job's build VM and network, and the shared network
  // whose subnet `subnet-id` names: read and joined, never written.
  const isBystander = (path: string): boolean =>
    /\/images\/other-run-image$|\/images\/other-def(\/|$)|\/vmimage-0ther0b1d0-|\/virtualNetworks\/hub(\/|$)/i.test(
      path
    )
  for (const w of e.emu.writes())
    if (isBystander(w.path)) v.push(`wrote to another run's ${w.path}`)
  if (!e.blobsAfter.includes('other-run-os.vhd') && e.seededBlobs.includes('other-run-os.vhd'))
    v.push("another run's blob was deleted")
  return v
}
