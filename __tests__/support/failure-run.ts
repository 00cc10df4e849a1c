/**
 * Shared by the failure-path e2e files (__tests__/e2e/failures-*.test.ts): one emulator per file
 * with a resource group and a gallery, faults cleared after each test, and helpers that seed it,
 * run the bundled action and read the request log. `cloud` is a live binding, set by the hooks
 * `useFailureCloud()` registers.
 */
import { afterAll, afterEach, beforeAll } from '@jest/globals'
import { runAction, type ActionRun, type RunOptions } from './action-runner.js'
import { startLocalCloud, type LocalCloud } from './cloud.js'

export const RG = 'build-rg'
export const LOCATION = 'westeurope'
export const GALLERY = 'fail_gallery'

export let cloud: LocalCloud

export function useFailureCloud(): void {
  beforeAll(async () => {
    cloud = await startLocalCloud({
      lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 },
      home: { resourceGroup: RG, location: LOCATION }
    })
    cloud.emu.addResourceGroup(RG, LOCATION)
    cloud.emu.addGallery(RG, GALLERY, LOCATION)
  })
  afterEach(() => cloud.emu.faults.clear())
  afterAll(async () => cloud.close())
}

export const DEBUG = { ACTIONS_STEP_DEBUG: 'true', RUNNER_DEBUG: '1' }

export function imageId(name: string, rg = RG): string {
  return `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Compute/images/${name}`
}

export function versionId(definition: string, version: string): string {
  return `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/galleries/${GALLERY}/images/${definition}/versions/${version}`
}

export function run(
  inputs: Record<string, string>,
  options: Partial<RunOptions> = {}
): Promise<ActionRun> {
  return runAction({
    ...options,
    // These VMs stand for ones generalized inside already: 'auto' would deprovision them first.
    inputs: { ...cloud.inputs, 'resource-group': RG, deprovision: 'false', ...inputs },
    env: { ...cloud.env, ...(options.env ?? {}) }
  })
}

/** The post step's log and what it sent. */
export function postLines(r: ActionRun): string {
  return `${r.post?.stdout ?? ''}${r.post?.stderr ?? ''}`
}
