/**
 * Shared by the build failure e2e files (build-failures.test.ts, build-rerun.test.ts): one build
 * cloud per file with a gallery, the script behaviours the cases use and a workspace holding the
 * scripts; `build()` runs one case as its own job (GITHUB_JOB: its own owner key, so its own
 * temporary names), `leftBehind()` reads what is left of the build's temporary kinds. `cloud` is a
 * live binding, set by the hooks `useBuildFailureCloud()` registers.
 */
import { afterAll, beforeAll } from '@jest/globals'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runAction, type ActionRun, type RunOptions } from './action-runner.js'
import { BUILD_TEMPORARY_TYPES, startBuildCloud, UBUNTU_URN } from './build-cloud.js'
import type { LocalCloud } from './cloud.js'

export const RG = 'fail-rg'
const LOCATION = 'westeurope'
export let cloud: LocalCloud
let workspace: string

export function useBuildFailureCloud(): void {
  beforeAll(async () => {
    cloud = await startBuildCloud(RG, LOCATION)
    cloud.emu.addGallery(RG, 'golden', LOCATION)
    cloud.emu.addScriptBehaviour({
      marker: 'breaks',
      exitCode: 7,
      stdout: 'installing\nE: Unable to locate package nosuchpackage\n'
    })
    cloud.emu.addScriptBehaviour({ marker: 'forever', polls: Infinity, stdout: 'still going\n' })
    workspace = mkdtempSync(join(tmpdir(), 'build-fail-ws-'))
    writeFileSync(join(workspace, 'ok.sh'), '# fine\necho ok\n')
    writeFileSync(join(workspace, 'broken.sh'), '# breaks\napt-get install -y nosuchpackage\n')
    writeFileSync(join(workspace, 'forever.sh'), '# forever\nsleep infinity\n')
  })
  afterAll(async () => {
    await cloud.close()
    rmSync(workspace, { recursive: true, force: true })
  })
}

/** Each case its own job (GITHUB_JOB): its own owner key, so its own temporary names. */
export function build(
  job: string,
  inputs: Record<string, string>,
  extra: Partial<RunOptions> = {}
): Promise<ActionRun> {
  return runAction({
    inputs: {
      ...cloud.inputs,
      'resource-group': RG,
      'base-image': UBUNTU_URN,
      gallery: 'golden',
      'gallery-image': 'ubuntu',
      'create-gallery-image': 'true',
      'image-name': `img-${job}`,
      ...inputs
    },
    env: { ...cloud.env, GITHUB_WORKSPACE: workspace },
    job,
    ...extra
  })
}

const KINDS = [
  ...BUILD_TEMPORARY_TYPES,
  'Microsoft.Compute/images',
  'Microsoft.Compute/galleries/images/versions'
]

/** What the run left of its temporary kinds, and any image or version at all. */
export function leftBehind(): Record<string, string[]> {
  const names = (type: string): string[] =>
    cloud.emu.resources.created(type).map(r => String((r as { name?: unknown }).name))
  return Object.fromEntries(KINDS.map(t => [t, names(t)]))
}

export const NOTHING = Object.fromEntries(KINDS.map(t => [t, []]))
