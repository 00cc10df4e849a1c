/**
 * Shared by the gallery e2e files (__tests__/e2e/gallery-*.test.ts): one emulator per file with a
 * resource group and a gallery, and helpers that seed it and run the bundled action against it.
 * `cloud` is a live binding: set by the hooks `useGalleryCloud()` registers.
 */
import { afterAll, beforeAll, expect } from '@jest/globals'
import {
  errorLines,
  ownerKeyOf,
  runAction,
  type ActionRun,
  type RunOptions
} from './action-runner.js'
import { startLocalCloud, type LocalCloud } from './cloud.js'
import type { Body, RecordedRequest } from '../emulator/index.js'

export const RG = 'build-rg'
export const GALLERY = 'golden_gallery'
export const LOCATION = 'westeurope'

export let cloud: LocalCloud

/** Starts the file's emulator before its tests (list pages of 2, fast LROs) and stops it after. */
export function useGalleryCloud(): void {
  beforeAll(async () => {
    cloud = await startLocalCloud({
      lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 },
      pageSize: 2,
      home: { resourceGroup: RG, location: LOCATION }
    })
    cloud.emu.addResourceGroup(RG, LOCATION)
    cloud.emu.addGallery(RG, GALLERY, LOCATION)
  })
  afterAll(async () => cloud.close())
}

/** `auto`: <UTC yyyy>.<UTC month*100+day>.<run number>, computed here independently of the product. */
export function autoVersion(runNumber: number, now = new Date()): string {
  return `${now.getUTCFullYear()}.${(now.getUTCMonth() + 1) * 100 + now.getUTCDate()}.${runNumber}`
}

export function definitionId(definition: string, gallery = GALLERY): string {
  return `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/galleries/${gallery}/images/${definition}`
}

export function versionId(definition: string, version: string, gallery = GALLERY): string {
  return `${definitionId(definition, gallery)}/versions/${version}`
}

export function body(r: RecordedRequest | undefined): Body {
  expect(r).toBeDefined()
  return (r as RecordedRequest).body as Body
}

export function seedDefinition(
  name: string,
  props: Partial<
    Omit<Parameters<LocalCloud['emu']['addGalleryImage']>[0], 'name' | 'resourceGroup' | 'gallery'>
  > = {}
): Body {
  return cloud.emu.addGalleryImage({
    resourceGroup: RG,
    gallery: GALLERY,
    name,
    osType: 'Linux',
    osState: 'Generalized',
    hyperVGeneration: 'V2',
    ...props
  })
}

export function seedVersion(
  definition: string,
  name: string,
  extra: Partial<Parameters<LocalCloud['emu']['addGalleryImageVersion']>[0]> = {}
): Body {
  return cloud.emu.addGalleryImageVersion({
    resourceGroup: RG,
    gallery: GALLERY,
    image: definition,
    name,
    ...extra
  })
}

export async function publish(
  vm: string,
  definition: string,
  inputs: Record<string, string> = {},
  options: Omit<RunOptions, 'inputs'> = {}
): Promise<ActionRun> {
  return runAction({
    ...options,
    inputs: publishInputs(vm, definition, inputs),
    env: { ...cloud.env, ...(options.env ?? {}) }
  })
}

/** What `publish` passes to the action. */
function publishInputs(
  vm: string,
  definition: string,
  inputs: Record<string, string>
): Record<string, string> {
  return {
    ...cloud.inputs,
    'resource-group': RG,
    'source-vm': vm,
    // These VMs stand for ones generalized inside already: 'auto' would deprovision them first.
    deprovision: 'false',
    gallery: GALLERY,
    'gallery-image': definition,
    ...inputs
  }
}

/**
 * The tags an earlier attempt of the same job (same inputs as `publish` gets) left on what it made:
 * the run id and the owner key (issue 14); a bare run id is another job's.
 */
export function earlierAttemptTags(
  vm: string,
  definition: string,
  inputs: Record<string, string>,
  runId: string
): Record<string, string> {
  const all = publishInputs(vm, definition, inputs)
  return { 'github-run-id': runId, 'github-owner-key': ownerKeyOf(all, { runId }) }
}

/**
 * The same job run again (attempt 2 of run `runId`, same inputs): `seedVersion` puts in place a
 * version attempt 1 left (its tags: this job's, `tags` added), `rerun` publishes it again.
 */
export function sameJob(
  vm: string,
  definition: string,
  inputs: Record<string, string>,
  runId: string
): {
  seedVersion(name: string, extra?: Parameters<typeof seedVersion>[2]): Body
  rerun(options?: Omit<RunOptions, 'inputs'>): Promise<ActionRun>
} {
  return {
    seedVersion: (name, extra = {}) =>
      seedVersion(definition, name, {
        ...extra,
        tags: { ...earlierAttemptTags(vm, definition, inputs, runId), ...extra.tags }
      }),
    rerun: (options = {}) => publish(vm, definition, inputs, { runId, runAttempt: 2, ...options })
  }
}

export function expectSuccess(run: ActionRun): void {
  expect(errorLines(run.main)).toEqual([])
  expect(run.main.code).toBe(0)
  expect(run.post?.code).toBe(0)
}

export function versionPuts(writes: RecordedRequest[]): RecordedRequest[] {
  return writes.filter(w => w.method === 'PUT' && /\/versions\/[^/]+$/.test(w.path))
}
