/**
 * Issue 13: nothing the VM or Azure prints can become a workflow command. The emulator's test
 * faults put workflow-command lines into the guest's Run Command output (stdout and stderr, Linux
 * and Windows line endings), into ARM error messages, targets and details (at the request and in a
 * failed long-running operation), into tag values, and into a workspace file name. Each run's
 * stdout and stderr are then read as the runner reads them (support/workflow-commands.ts, built
 * from actions/runner's parser): no injected command may execute, and outputs, state and
 * annotations must be the action's own. Build mode does not exist yet, so it has no case here.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runAction, type ActionRun, type StepResult } from '../support/action-runner.js'
import { startLocalCloud, type LocalCloud } from '../support/cloud.js'
import { commandEffects, type WorkflowCommand } from '../support/workflow-commands.js'
import { MiB, writeRawImage } from '../upload-it/fixtures.js'

const RG = 'build-rg'
const LOCATION = 'westeurope'
const MARK = 'INJECTED'
let cloud: LocalCloud
let dir: string

beforeAll(async () => {
  cloud = await startLocalCloud({ lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 } })
  cloud.emu.addResourceGroup(RG, LOCATION)
  dir = mkdtempSync(join(tmpdir(), 'untrusted-output-'))
})
afterEach(() => cloud.emu.faults.clear())
afterAll(async () => {
  await cloud.close()
  rmSync(dir, { recursive: true, force: true })
})

/**
 * Lines in every shape the runner accepts as a command: the v2 form (also indented, upper case,
 * after a zero-width space), the legacy `##[` form mid-line, an attempt to open and close a
 * stop-commands block of its own, and the finding-5 state that would steer the post step.
 */
function hostile(where: string): string[] {
  return [
    `::error::${MARK} annotation from ${where}`,
    `::warning file=README.md,line=1::${MARK} warning from ${where}`,
    `  ::notice::${MARK} indented notice from ${where}`,
    `::ERROR::${MARK} upper-case error from ${where}`,
    `\u200b::error::${MARK} after a zero-width space from ${where}`,
    `progress 50% ##[error]${MARK} legacy form from ${where}`,
    `::set-output name=image-id::/subscriptions/evil/${MARK}-${where}`,
    `::save-state name=succeeded::true`,
    `::save-state name=ledger::[{"kind":"upload-blob","url":"https://x/evilcontainer/b","storageAccountId":"/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Storage/storageAccounts/evilacct"}]`,
    `::add-mask::the`,
    `::group::${MARK} group from ${where}`,
    `::stop-commands::${MARK}token`,
    `::${MARK}token::`,
    `::error::${MARK} after a forged resume from ${where}`
  ]
}

const OWN_STATE = new Set(['isPost', 'ledger', 'succeeded', 'connection', 'nonce'])

/** Commands the action itself issues; anything else on its output came from somewhere else. */
const OWN_COMMANDS = new Set(['error', 'warning', 'debug', 'group', 'endgroup', 'add-mask'])

/**
 * Whether the runner would execute `c` as one of the injected lines: every injected line's data
 * starts with MARK, or it is a command the action never issues (set-output, save-state, notice,
 * stop-commands …), a group named by the injection, or a mask of something other than the secret.
 * The action's own lines may quote Azure's or the guest's words (defused) further in.
 */
function isInjected(c: WorkflowCommand): boolean {
  if (!OWN_COMMANDS.has(c.command)) return true
  if (c.data.trimStart().startsWith(MARK)) return true
  if (c.command === 'group' && c.data.includes(MARK)) return true
  return c.command === 'add-mask' && c.data !== cloud.emu.clientSecret
}

/** The runner's view of one step's stdout and stderr (each read on its own, as the worst case). */
function expectOnlyOwnCommands(step: StepResult | undefined, label: string): void {
  expect(step).toBeDefined()
  for (const stream of [step!.stdout, step!.stderr]) {
    const effects = commandEffects(stream)
    const injected = effects.commands.filter(isInjected).map(c => c.line)
    expect({ label, injected }).toEqual({ label, injected: [] })
    expect(effects.stillStopped).toBe(false)
    // No step of the action sets outputs or state on stdout, and the only mask is the secret.
    expect(effects.outputs).toEqual({})
    expect(effects.state).toEqual({})
    expect(effects.masks.filter(m => m !== cloud.emu.clientSecret)).toEqual([])
  }
}

function expectOwnOutputsAndState(run: ActionRun): void {
  for (const [name, value] of Object.entries(run.outputs)) {
    expect(`${name}=${value}`).not.toContain(MARK)
    expect(`${name}=${value}`).not.toContain('evil')
  }
  for (const name of Object.keys(run.state)) expect(OWN_STATE).toContain(name)
  expect(run.state.ledger ?? '').not.toContain('evil')
  expectOnlyOwnCommands(run.main, 'main')
  expectOnlyOwnCommands(run.post, 'post')
  // The post step never went near what the injected ledger names.
  expect(cloud.emu.requests.filter(r => /evil/.test(r.path))).toEqual([])
}

function errorAnnotations(step: StepResult): string[] {
  return commandEffects(step.stdout)
    .annotations.filter(a => a.level === 'error')
    .map(a => a.message)
}

function imageId(name: string): string {
  return `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/images/${name}`
}

function capture(vm: string, image: string, extra: Record<string, string> = {}) {
  return runAction({
    inputs: {
      ...cloud.inputs,
      'resource-group': RG,
      'source-vm': vm,
      'image-name': image,
      ...extra
    },
    env: cloud.env
  })
}

describe('guest output (Run Command) cannot issue workflow commands', () => {
  it('Linux deprovisioning: stdout and stderr full of commands, printed but not executed', async () => {
    const vm = cloud.emu.addVm({
      resourceGroup: RG,
      name: 'linux-noisy',
      location: LOCATION,
      osType: 'Linux',
      hyperVGeneration: 'V2'
    })
    cloud.emu.setGuestOutput(vm.id, {
      stdout: hostile('guest stdout').join('\n') + '\n',
      stderr: hostile('guest stderr').join('\n')
    })
    const run = await capture('linux-noisy', 'linux-noisy-img', { deprovision: 'true' })
    expect(errorAnnotations(run.main)).toEqual([])
    expect(run.main.code).toBe(0)
    // The guest's words reached the log verbatim (so the test is not vacuous) …
    expect(run.main.stdout).toContain(`::error::${MARK} annotation from guest stdout`)
    expect(run.main.stdout).toContain(`::save-state name=succeeded::true`)
    expect(run.main.stdout).toContain(`##[error]${MARK} legacy form from guest stderr`)
    // … and none of them did anything.
    expectOwnOutputsAndState(run)
    expect(run.outputs['image-id']).toBe(imageId('linux-noisy-img'))
  })

  it('Linux deprovisioning that fails: the guest-quoting error is one annotation of ours', async () => {
    const vm = cloud.emu.addVm({
      resourceGroup: RG,
      name: 'linux-broken',
      location: LOCATION,
      osType: 'Linux',
      hyperVGeneration: 'V2',
      // No systemd: the deprovision cannot start, and the run command's output says why.
      guest: { systemd: false }
    })
    // Hostile lines after the guest's own failure line.
    cloud.emu.setGuestOutput(vm.id, { stderr: hostile('failing guest').join('\n') })
    const run = await capture('linux-broken', 'linux-broken-img', { deprovision: 'true' })
    expect(run.main.code).toBe(1)
    const errors = errorAnnotations(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/Deprovisioning VM 'linux-broken' did not start/)
    // The error points to the guest's output above it, which was printed (so the test is not
    // vacuous) inside a stop-commands block, where none of its commands runs.
    expect(run.main.stdout).toContain(`::error::${MARK} annotation from failing guest`)
    expectOwnOutputsAndState(run)
    // finding 5: an injected succeeded=true / ledger would have steered the post step.
    expect(run.state.succeeded).toBe('false')
    expect(cloud.emu.resources.get(imageId('linux-broken-img'))).toBeUndefined()
  })

  it('Windows (CRLF output) with Sysprep: nothing the guest prints executes', async () => {
    const vm = cloud.emu.addVm({
      resourceGroup: RG,
      name: 'win-noisy',
      location: LOCATION,
      osType: 'Windows',
      hyperVGeneration: 'V2'
    })
    cloud.emu.setGuestOutput(vm.id, {
      stdout: hostile('windows stdout').join('\r\n') + '\r\n',
      stderr: hostile('windows stderr').join('\r\n')
    })
    const run = await capture('win-noisy', 'win-noisy-img', { deprovision: 'true' })
    expect(errorAnnotations(run.main)).toEqual([])
    expect(run.main.code).toBe(0)
    expectOwnOutputsAndState(run)
    expect(run.outputs['image-id']).toBe(imageId('win-noisy-img'))
  })
})

describe('Azure error messages, targets and details cannot issue workflow commands', () => {
  const errorFault = (where: string) => ({
    status: 400,
    code: 'InvalidParameter',
    message: [`The request is invalid.`, ...hostile(`${where} message`)].join('\n'),
    target: hostile(`${where} target`).join('\n'),
    details: [
      {
        code: 'InvalidParameter',
        message: hostile(`${where} detail`).join('\n'),
        target: `::error::${MARK} detail target`
      }
    ]
  })

  it('capture: the image PUT refused with a hostile error body', async () => {
    cloud.emu.addVm({ resourceGroup: RG, name: 'err-vm', location: LOCATION, osType: 'Linux' })
    cloud.emu.faults.add({ method: 'PUT', path: /\/images\/err-img\?/, ...errorFault('image') })
    const run = await capture('err-vm', 'err-img')
    expect(run.main.code).toBe(1)
    expect(cloud.emu.faults.pending).toEqual([])
    const errors = errorAnnotations(run.main)
    expect(errors).toHaveLength(1)
    // Azure's message reached the annotation, defused.
    expect(errors[0]).toMatch(
      new RegExp(`^Managed image failed: .*${MARK} annotation from image message`)
    )
    expectOwnOutputsAndState(run)
  })

  it('capture: a read refused with a hostile target and details (printed, defused)', async () => {
    cloud.emu.addVm({ resourceGroup: RG, name: 'err-vm2', location: LOCATION, osType: 'Linux' })
    cloud.emu.faults.add({
      method: 'GET',
      path: /\/virtualMachines\/err-vm2\?/,
      ...errorFault('read'),
      status: 403,
      code: 'AuthorizationFailed'
    })
    const run = await capture('err-vm2', 'err-img2')
    expect(run.main.code).toBe(1)
    expect(cloud.emu.faults.pending).toEqual([])
    expect(errorAnnotations(run.main)).toHaveLength(1)
    // Reads keep ARM's target and details (the SDK deserializes them), and they are printed …
    expect(run.main.stdout).toContain(
      `Target: : :error: :${MARK} annotation from read target : :warning`
    )
    expect(run.main.stdout).toContain(
      `Detail: InvalidParameter: : :error: :${MARK} annotation from read detail`
    )
    // … without executing.
    expectOwnOutputsAndState(run)
  })

  it('upload: the upload disk PUT refused with a hostile error body, from a hostile file name', async () => {
    const path = join(dir, `disk ##[warning]${MARK} file name.raw`)
    await writeRawImage(path, 32 * MiB, [{ offset: 0, length: MiB }])
    cloud.emu.faults.add({ method: 'PUT', path: /\/disks\/up-img-upload/, ...errorFault('disk') })
    const run = await runAction({
      inputs: {
        ...cloud.inputs,
        'resource-group': RG,
        location: LOCATION,
        vhd: path,
        'os-type': 'Linux',
        'image-name': 'up-img'
      },
      env: { ...cloud.env, ACTIONS_STEP_DEBUG: 'true', RUNNER_DEBUG: '1' }
    })
    expect(run.main.code).toBe(1)
    expect(cloud.emu.faults.pending).toEqual([])
    expect(errorAnnotations(run.main)).toHaveLength(1)
    expectOwnOutputsAndState(run)
  })

  it('gallery: a version whose long-running operation fails with hostile words', async () => {
    cloud.emu.addVm({
      resourceGroup: RG,
      name: 'gal-vm',
      location: LOCATION,
      osType: 'Linux',
      hyperVGeneration: 'V2'
    })
    cloud.emu.addGallery(RG, 'noisy_gallery', LOCATION)
    cloud.emu.addGalleryImage({
      resourceGroup: RG,
      gallery: 'noisy_gallery',
      name: 'noisy-def',
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V2'
    })
    cloud.emu.faults.add({
      method: 'PUT',
      path: /\/images\/noisy-def\/versions\/1\.0\.0/,
      failOperation: {
        code: 'ReplicationFailed',
        message: [`Replication failed.`, ...hostile('gallery operation')].join('\n'),
        details: [{ code: 'Internal', message: hostile('gallery detail').join('\n') }]
      }
    })
    const run = await runAction({
      inputs: {
        ...cloud.inputs,
        'resource-group': RG,
        'source-vm': 'gal-vm',
        gallery: 'noisy_gallery',
        'gallery-image': 'noisy-def',
        'gallery-image-version': '1.0.0'
      },
      env: cloud.env
    })
    expect(run.main.code).toBe(1)
    expect(cloud.emu.faults.pending).toEqual([])
    const errors = errorAnnotations(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/gallery image version 1\.0\.0 of 'noisy-def' failed/)
    expectOwnOutputsAndState(run)
  })
})

describe('tag values read from Azure cannot issue workflow commands', () => {
  it('a VM and a same-named image tagged with command lines', async () => {
    cloud.emu.addVm({
      resourceGroup: RG,
      name: 'tagged-vm',
      location: LOCATION,
      osType: 'Linux',
      tags: { note: hostile('vm tag').join('\n') }
    })
    // An image of another run, tagged with hostile values: the action refuses to touch it.
    cloud.emu.addImage({
      resourceGroup: RG,
      name: 'tagged-img',
      location: LOCATION,
      tags: {
        'github-run-id': `1\n::error::${MARK} run id tag`,
        'github-repository': hostile('image tag').join('\n')
      }
    })
    const run = await capture('tagged-vm', 'tagged-img')
    expect(run.main.code).toBe(1)
    expect(errorAnnotations(run.main)).toHaveLength(1)
    expectOwnOutputsAndState(run)
  })

  it('a gallery version of another run whose github-run-id tag carries command lines', async () => {
    cloud.emu.addVm({
      resourceGroup: RG,
      name: 'tagged-gal-vm',
      location: LOCATION,
      osType: 'Linux',
      hyperVGeneration: 'V2'
    })
    cloud.emu.addGallery(RG, 'tagged_gallery', LOCATION)
    cloud.emu.addGalleryImage({
      resourceGroup: RG,
      gallery: 'tagged_gallery',
      name: 'tagged-def',
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V2'
    })
    cloud.emu.addGalleryImageVersion({
      resourceGroup: RG,
      gallery: 'tagged_gallery',
      image: 'tagged-def',
      name: '1.0.0',
      tags: { 'github-run-id': ['42', ...hostile('version tag')].join('\n') }
    })
    const run = await runAction({
      inputs: {
        ...cloud.inputs,
        'resource-group': RG,
        'source-vm': 'tagged-gal-vm',
        gallery: 'tagged_gallery',
        'gallery-image': 'tagged-def',
        'gallery-image-version': '1.0.0'
      },
      env: cloud.env
    })
    expect(run.main.code).toBe(1)
    const errors = errorAnnotations(run.main)
    expect(errors).toHaveLength(1)
    // The refusal quotes the tag (the run that made the version), defused.
    expect(errors[0]).toMatch(new RegExp(`already exists .*made by run 42 : :error: :${MARK}`))
    expectOwnOutputsAndState(run)
  })
})

describe('outputs and state only through the runner files', () => {
  it('refuses to run where GITHUB_OUTPUT is missing rather than print ::set-output', async () => {
    cloud.emu.addVm({ resourceGroup: RG, name: 'nofile-vm', location: LOCATION, osType: 'Linux' })
    const run = await runAction({
      inputs: {
        ...cloud.inputs,
        'resource-group': RG,
        'source-vm': 'nofile-vm',
        'image-name': 'nofile-img',
        'dry-run': 'true'
      },
      env: { ...cloud.env, GITHUB_OUTPUT: undefined },
      post: false
    })
    expect(run.main.code).toBe(1)
    expect(errorAnnotations(run.main)).toEqual([
      expect.stringMatching(/^GITHUB_OUTPUT not set: .*file commands/)
    ])
    const effects = commandEffects(run.main.stdout)
    expect(effects.outputs).toEqual({})
    expect(effects.state).toEqual({})
    // Nothing was asked of Azure.
    expect(cloud.emu.requests.filter(r => /nofile/.test(r.path))).toEqual([])
  })
})
