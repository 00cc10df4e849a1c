/**
 * Overlapping runs (issue 12 item 3), as workflow runs overlap: two nightly runs publishing into one
 * definition with `gallery-image-version: auto` and `keep-versions: 2` (other run numbers, then the
 * same one), two runs asking for the same `image-name`, and a re-run attempt started while the
 * first attempt's post step still cleans up. Neither may delete, overwrite or block the other's
 * result; a loser fails with one clear error (README "Gallery version numbering", "Ownership").
 */
import type { Body } from '../emulator/index.js'
import { runAction, type ActionRun, type RunOptions } from '../support/action-runner.js'
import { runnerCommands } from '../support/workflow-commands.js'
import {
  GALLERY,
  LOCATION,
  RG,
  seedGallery,
  seedVersions,
  startRunCloud,
  type RunCloud,
  type Shared
} from './chaos-run.js'

export interface CaseResult {
  name: string
  violations: string[]
  /** one line per run: outcome and error */
  runs: string[]
}

interface Leg {
  label: string
  vm: string
  runId: string
  run: ActionRun
}

const vmId = (cloud: RunCloud, name: string): string =>
  `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/${name}`

function seed(cloud: RunCloud, vms: string[], versions = 0): void {
  const { emu } = cloud
  emu.addResourceGroup(RG, LOCATION)
  for (const name of vms)
    emu.addVm({
      resourceGroup: RG,
      name,
      location: LOCATION,
      osType: 'Linux',
      hyperVGeneration: 'V2'
    })
  seedGallery(emu)
  seedVersions(emu, 'golden', versions)
}

const errors = (r: ActionRun): string[] =>
  runnerCommands(r.main.stdout)
    .filter(c => c.command === 'error')
    .map(c => c.data)

/** What holds for every leg: post exits 0, one error on failure, a success names its own result. */
function legViolations(cloud: RunCloud, legs: Leg[]): string[] {
  const v: string[] = []
  const resources = new Map(cloud.emu.resources.list().map(b => [String(b.id).toLowerCase(), b]))
  for (const leg of legs) {
    const { run, label } = leg
    if (run.post && run.post.code !== 0) v.push(`${label}: post exited ${run.post.code}`)
    if (run.main.code === 0) {
      const id = run.outputs['image-id'] ?? ''
      const r: Body | undefined = resources.get(id.toLowerCase())
      if (!r) v.push(`${label}: its image-id ${id} does not exist`)
      else {
        if (r.properties?.provisioningState !== 'Succeeded')
          v.push(`${label}: its image-id is ${r.properties?.provisioningState}`)
        if (r.tags?.['github-run-id'] !== leg.runId)
          v.push(`${label}: its image-id ${id} is run ${r.tags?.['github-run-id']}'s`)
        const sp = r.properties?.storageProfile ?? {}
        const source =
          r.properties?.sourceVirtualMachine?.id ?? sp.source?.virtualMachineId ?? sp.source?.id
        if (String(source).toLowerCase() !== vmId(cloud, leg.vm).toLowerCase())
          v.push(`${label}: its image-id was made from ${source}`)
      }
    } else if (errors(run).length !== 1) {
      v.push(`${label}: failed with ${errors(run).length} ::error:: lines`)
    }
  }
  for (const r of resources.values()) {
    const type = String(r.type).toLowerCase()
    const state = r.properties?.provisioningState
    if (
      (type === 'microsoft.compute/images' ||
        type === 'microsoft.compute/galleries/images/versions') &&
      state !== 'Succeeded'
    )
      v.push(`left behind: ${r.name} (${state})`)
    if (type === 'microsoft.compute/disks' && /-upload-/.test(String(r.name)))
      v.push(`left behind: disk ${r.name}`)
  }
  return v
}

function describe(legs: Leg[]): string[] {
  return legs.map(
    l =>
      `${l.label}: ${l.run.main.code === 0 ? `succeeded → ${l.run.outputs['image-id']?.split('/').slice(-3).join('/')}` : `failed: ${errors(l.run)[0] ?? l.run.main.signal}`}`
  )
}

async function twoRuns(
  cloud: RunCloud,
  legs: Array<{
    label: string
    vm: string
    runId: string
    runNumber: number
    inputs: Record<string, string>
  }>
): Promise<Leg[]> {
  const runs = await Promise.all(
    legs.map(l =>
      runAction({
        inputs: { ...cloud.inputs, 'source-vm': l.vm, deprovision: 'false', ...l.inputs },
        env: cloud.env,
        runId: l.runId,
        runNumber: l.runNumber
      })
    )
  )
  return legs.map((l, i) => ({ label: l.label, vm: l.vm, runId: l.runId, run: runs[i] }))
}

async function galleryRace(shared: Shared, sameNumber: boolean): Promise<CaseResult> {
  const cloud = await startRunCloud(shared, false)
  try {
    seed(cloud, ['nightly-a', 'nightly-b'], 3)
    const gallery = {
      gallery: GALLERY,
      'gallery-image': 'golden',
      'gallery-image-version': 'auto',
      'keep-versions': '2'
    }
    const legs = await twoRuns(cloud, [
      { label: 'run A', vm: 'nightly-a', runId: '9100001', runNumber: 101, inputs: gallery },
      {
        label: 'run B',
        vm: 'nightly-b',
        runId: '9100002',
        runNumber: sameNumber ? 101 : 102,
        inputs: gallery
      }
    ])
    const v = legViolations(cloud, legs)
    const ok = legs.filter(l => l.run.main.code === 0)
    if (!sameNumber && ok.length !== 2)
      v.push('two runs with their own version numbers did not both succeed')
    if (sameNumber && ok.length !== 1) v.push(`${ok.length} runs succeeded with one version number`)
    // Each success's version is still there after the other's keep-versions pruning.
    for (const l of ok)
      if (!cloud.emu.resources.get(l.run.outputs['image-id']))
        v.push(`${l.label}'s version was deleted by the other run`)
    for (const l of legs.filter(x => x.run.main.code !== 0))
      if (
        sameNumber &&
        !/gallery-image-version|already|another run|PropertyChangeNotAllowed/i.test(
          errors(l.run)[0] ?? ''
        )
      )
        v.push(`${l.label} lost without naming the version clash: ${errors(l.run)[0]}`)
    return {
      name: `two runs into one definition, auto, keep-versions 2, ${sameNumber ? 'the same' : 'other'} run number`,
      violations: v,
      runs: describe(legs)
    }
  } finally {
    await cloud.close()
  }
}

async function imageNameRace(shared: Shared): Promise<CaseResult> {
  const cloud = await startRunCloud(shared, false)
  try {
    seed(cloud, ['nightly-a', 'nightly-b'])
    const inputs = { 'image-name': 'golden-image' }
    const legs = await twoRuns(cloud, [
      { label: 'run A', vm: 'nightly-a', runId: '9200001', runNumber: 201, inputs },
      { label: 'run B', vm: 'nightly-b', runId: '9200002', runNumber: 202, inputs }
    ])
    const v = legViolations(cloud, legs)
    const ok = legs.filter(l => l.run.main.code === 0)
    if (ok.length !== 1) v.push(`${ok.length} runs succeeded with one image-name`)
    for (const l of legs.filter(x => x.run.main.code !== 0))
      if (
        !/image-name|already exists|another run|PropertyChangeNotAllowed/i.test(
          errors(l.run)[0] ?? ''
        )
      )
        v.push(`${l.label} lost without naming the image clash: ${errors(l.run)[0]}`)
    return { name: 'two runs asking for the same image-name', violations: v, runs: describe(legs) }
  } finally {
    await cloud.close()
  }
}

/**
 * Attempt 1 is cancelled while its image is being created; its post step (which deletes the
 * unfinished image) and attempt 2 then run at the same time.
 */
async function rerunDuringPost(shared: Shared): Promise<CaseResult> {
  const cloud = await startRunCloud(shared, false)
  try {
    seed(cloud, ['nightly-a'])
    const inputs = {
      ...cloud.inputs,
      'source-vm': 'nightly-a',
      deprovision: 'false',
      'image-name': 'rerun-image'
    }
    // The image takes a while, so the cancel lands while it is being created.
    cloud.emu.faults.add({ method: 'PUT', path: /\/images\/rerun-image\?/, extraPolls: 4 })
    let sawImagePut = false
    cloud.emu.faults.add({
      method: 'GET',
      path: /\/operations\//,
      observe: true,
      onMatch: () =>
        void (sawImagePut ||= cloud.emu.requests.some(
          r => r.method === 'PUT' && /\/images\/rerun-image$/.test(r.path)
        ))
    })
    let second: Promise<ActionRun> | undefined
    const base: RunOptions = { inputs, env: cloud.env, runId: '9300001', runNumber: 301 }
    const first = await runAction({
      ...base,
      signalWhen: { when: () => sawImagePut, signal: 'SIGINT', escalate: true },
      postState: state => {
        second = runAction({ ...base, runAttempt: 2 })
        return state
      }
    })
    const retry = await (second ?? runAction({ ...base, runAttempt: 2 }))
    const legs: Leg[] = [
      { label: 'attempt 1', vm: 'nightly-a', runId: '9300001', run: first },
      { label: 'attempt 2', vm: 'nightly-a', runId: '9300001', run: retry }
    ]
    const v = legViolations(cloud, legs)
    if (first.main.code === 0) v.push('attempt 1 was not cancelled (the case did not happen)')
    return {
      name: "a re-run attempt while the first attempt's post step cleans up",
      violations: v,
      runs: describe(legs)
    }
  } finally {
    await cloud.close()
  }
}

export async function runConcurrencyCases(shared: Shared): Promise<CaseResult[]> {
  return [
    await galleryRace(shared, false),
    await galleryRace(shared, true),
    await imageNameRace(shared),
    await rerunDuringPost(shared)
  ]
}
