/**
 * Build mode's customization step, end to end (issue 9 item 3): the bundled action builds from a
 * Marketplace image in the emulator, whose guest does with each script what the test registered
 * for a marker in its text (emulator README, "Build mode: what a test seeds and reads"). Each case
 * reads what happened from the emulator's request log and the runner's view of the output
 * (support/workflow-commands.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runAction, type ActionRun, type StepResult } from '../support/action-runner.js'
import { startBuildCloud, UBUNTU_URN, WINDOWS_SERVER_2022 } from '../support/build-cloud.js'
import type { LocalCloud } from '../support/cloud.js'
import { commandEffects } from '../support/workflow-commands.js'

const RG = 'customize-rg'
const LOCATION = 'westeurope'
const RUN_COMMANDS = /\/virtualMachines\/[^/]+\/runCommands\/[^/?]+$/i
let cloud: LocalCloud
let workspace: string

beforeAll(async () => {
  cloud = await startBuildCloud(RG, LOCATION)
  cloud.emu.addMarketplaceImage(WINDOWS_SERVER_2022)
  workspace = mkdtempSync(join(tmpdir(), 'customize-ws-'))
  mkdirSync(join(workspace, 'scripts'))
})
afterAll(async () => {
  await cloud.close()
  rmSync(workspace, { recursive: true, force: true })
})
afterEach(() => cloud.emu.faults.clear())

/** A script file in the workspace; its marker comment selects the guest's behaviour. */
function script(path: string, marker: string, body = 'true'): string {
  writeFileSync(join(workspace, path), `# ${marker}\n${body}\n`)
  return path
}

function build(
  image: string,
  extra: Record<string, string>,
  os: 'Linux' | 'Windows' = 'Linux'
): Promise<ActionRun> {
  return runAction({
    inputs: {
      ...cloud.inputs,
      'resource-group': RG,
      location: LOCATION,
      'base-image':
        os === 'Linux'
          ? UBUNTU_URN
          : 'MicrosoftWindowsServer:WindowsServer:2022-datacenter-g2:latest',
      'image-name': image,
      ...extra
    },
    env: { ...cloud.env, GITHUB_WORKSPACE: workspace }
  })
}

function imageId(name: string): string {
  return `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/images/${name}`
}

/** The run commands PUT since `from` in the request log, with the marker of the script each sent. */
function runCommandPuts(from: number): Array<{ path: string; script: string; index: number }> {
  return cloud.emu.requests
    .map((r, index) => ({ r, index }))
    .filter(({ r, index }) => index >= from && r.method === 'PUT' && RUN_COMMANDS.test(r.path))
    .map(({ r, index }) => ({
      path: r.path,
      index,
      script: String(
        (r.body as { properties?: { source?: { script?: string } } })?.properties?.source?.script ??
          ''
      )
    }))
}

function restarts(from: number): number[] {
  return cloud.emu.requests
    .map((r, index) => ({ r, index }))
    .filter(
      ({ r, index }) =>
        index >= from && r.method === 'POST' && /\/virtualMachines\/[^/]+\/restart$/i.test(r.path)
    )
    .map(({ index }) => index)
}

function errorAnnotations(step: StepResult): string[] {
  return commandEffects(step.stdout)
    .annotations.filter(a => a.level === 'error')
    .map(a => a.message)
}

/**
 * Whether `line` is printed only inside stop-commands blocks: every occurrence lies between a
 * `::stop-commands::<token>` line and the `::<token>::` line that ends it.
 */
function onlyInsideStopCommands(stdout: string, line: string): boolean {
  let open: string | undefined
  let seen = 0
  for (const l of stdout.split(/\r?\n/)) {
    if (open === undefined) {
      const start = /^::stop-commands::(.+)$/.exec(l)
      if (start) open = start[1]
      else if (l.includes(line)) return false
    } else if (l === `::${open}::`) open = undefined
    else if (l.includes(line)) seen++
  }
  return seen > 0
}

/** No command the guest printed was executed; outputs and state are the action's own. */
function expectNoGuestCommands(run: ActionRun, mark: string): void {
  for (const stream of [run.main.stdout, run.main.stderr]) {
    const effects = commandEffects(stream)
    expect(effects.commands.filter(c => c.line.includes(mark)).map(c => c.line)).toEqual([])
    expect(effects.outputs).toEqual({})
    expect(effects.state).toEqual({})
    expect(effects.stillStopped).toBe(false)
  }
  for (const value of Object.values(run.outputs)) expect(value).not.toContain(mark)
}

describe('build mode customization', () => {
  it('runs the scripts in order, then the inline one, with their output in the log inside stop-commands blocks', async () => {
    cloud.emu.addScriptBehaviour({
      marker: 'order-first',
      stdout: 'first: installing\nfirst: done\n',
      polls: 3,
      progressive: true
    })
    cloud.emu.addScriptBehaviour({
      marker: 'order-second',
      stdout: 'second: configured\n',
      stderr: 'second: a warning\n'
    })
    cloud.emu.addScriptBehaviour({ marker: 'order-inline', stdout: 'inline: hello\n' })
    const from = cloud.emu.requests.length
    const run = await build('order-img', {
      'customize-scripts': `${script('scripts/first.sh', 'order-first')}\n${script('scripts/second.sh', 'order-second')}\n`,
      customize: '# order-inline\necho hello\n'
    })
    expect(errorAnnotations(run.main)).toEqual([])
    expect(run.main.code).toBe(0)
    const sent = runCommandPuts(from)
      .map(p => /# (order-\w+)/.exec(p.script)?.[1])
      .filter(m => m !== undefined)
    expect(sent).toEqual(['order-first', 'order-second', 'order-inline'])
    const out = run.main.stdout
    for (const line of [
      'first: installing',
      'first: done',
      'second: configured',
      'second: a warning',
      'inline: hello'
    ]) {
      expect(onlyInsideStopCommands(out, line)).toBe(true)
    }
    expect(out.indexOf('first: done')).toBeLessThan(out.indexOf('second: configured'))
    expect(out.indexOf('second: configured')).toBeLessThan(out.indexOf('inline: hello'))
    // Each script in its own log group, and no run command left on the VM.
    expect(out).toMatch(/::group::Customize 1\/3: scripts\/first\.sh/)
    expect(out).toMatch(/::group::Customize 3\/3: customize/)
    expect(cloud.emu.resources.list('Microsoft.Compute/virtualMachines/runCommands')).toEqual([])
    expect(run.outputs['image-id']).toBe(imageId('order-img'))
  })

  it('a failing script: one error with its name, exit code and where its last lines are; no image; later scripts never sent', async () => {
    cloud.emu.addScriptBehaviour({
      marker: 'fails-apt',
      exitCode: 100,
      stdout: Array.from({ length: 40 }, (_, i) => `step ${i + 1}`).join('\n') + '\n',
      stderr: 'E: Unable to locate package does-not-exist\n'
    })
    cloud.emu.addScriptBehaviour({ marker: 'never-runs', stdout: 'should not run\n' })
    const from = cloud.emu.requests.length
    const run = await build('failed-img', {
      'customize-scripts': `${script('scripts/apt.sh', 'fails-apt')}\n${script('scripts/later.sh', 'never-runs')}`
    })
    expect(run.main.code).toBe(1)
    expect(errorAnnotations(run.main)).toEqual([
      `Customization script 'scripts/apt.sh' failed with exit code 100; its last lines of output are in the log under "Last output of 'scripts/apt.sh'".`
    ])
    const out = run.main.stdout
    const header = out.indexOf("Last output of 'scripts/apt.sh' (stdout, last 15 lines at most):")
    expect(header).toBeGreaterThan(0)
    expect(out.slice(header)).toContain('step 26\nstep 27')
    expect(out.slice(header)).toContain('E: Unable to locate package does-not-exist')
    expect(onlyInsideStopCommands(out, 'E: Unable to locate package')).toBe(true)
    expect(runCommandPuts(from).some(p => p.script.includes('never-runs'))).toBe(false)
    expect(cloud.emu.resources.get(imageId('failed-img'))).toBeUndefined()
    expect(run.state.succeeded).toBe('false')
  })

  it('Windows: a first script exiting 3010 gets the VM restarted, then the next script runs', async () => {
    cloud.emu.addScriptBehaviour({
      marker: 'win-updates',
      exitCode: 3010,
      stdout: 'Installed 4 updates; a restart is required\r\n'
    })
    cloud.emu.addScriptBehaviour({ marker: 'win-after', stdout: 'second script: configured\r\n' })
    writeFileSync(join(workspace, 'scripts', 'updates.ps1'), '# win-updates\r\nInstall-Updates\r\n')
    writeFileSync(join(workspace, 'scripts', 'after.ps1'), '# win-after\r\nWrite-Output ok\r\n')
    const from = cloud.emu.requests.length
    const run = await build(
      'win-img',
      { 'customize-scripts': 'scripts/updates.ps1\nscripts/after.ps1' },
      'Windows'
    )
    expect(errorAnnotations(run.main)).toEqual([])
    expect(run.main.code).toBe(0)
    const puts = runCommandPuts(from)
    const first = puts.find(p => p.script.includes('win-updates'))
    const second = puts.find(p => p.script.includes('win-after'))
    const restart = restarts(from)
    expect(first && second).toBeTruthy()
    expect(restart).toHaveLength(1)
    expect(first!.index).toBeLessThan(restart[0])
    expect(restart[0]).toBeLessThan(second!.index)
    expect(run.main.stdout).toContain('exited 3010 (success, restart required)')
    expect(onlyInsideStopCommands(run.main.stdout, 'second script: configured')).toBe(true)
  })

  it('Linux: a script that leaves /var/run/reboot-required gets the VM restarted before the next one', async () => {
    cloud.emu.addScriptBehaviour({
      marker: 'kernel-upgrade',
      stdout: 'linux-image upgraded\n',
      leavesRebootRequired: true
    })
    cloud.emu.addScriptBehaviour({ marker: 'after-kernel', stdout: 'running the new kernel\n' })
    const from = cloud.emu.requests.length
    const run = await build('kernel-img', {
      'customize-scripts': `${script('scripts/kernel.sh', 'kernel-upgrade')}\n${script('scripts/next.sh', 'after-kernel')}`
    })
    expect(errorAnnotations(run.main)).toEqual([])
    expect(run.main.code).toBe(0)
    const puts = runCommandPuts(from)
    const first = puts.find(p => p.script.includes('kernel-upgrade'))!
    const second = puts.find(p => p.script.includes('after-kernel'))!
    const restart = restarts(from)
    // One restart, between the two scripts: the second script left no file behind.
    expect(restart).toHaveLength(1)
    expect(first.index).toBeLessThan(restart[0])
    expect(restart[0]).toBeLessThan(second.index)
    expect(run.main.stdout).toContain('left /var/run/reboot-required')
  })

  it('an over-size script is refused before any write, naming the file and how far over it is', async () => {
    writeFileSync(join(workspace, 'scripts', 'huge.sh'), `# huge\n${'x'.repeat(300_000)}\n`)
    const before = cloud.emu.writes().length
    const run = await build('huge-img', {
      'customize-scripts': `${script('scripts/ok.sh', 'fine')}\nscripts/huge.sh`
    })
    expect(run.main.code).toBe(1)
    expect(errorAnnotations(run.main)).toEqual([
      "Input 'customize-scripts': 'scripts/huge.sh' is 300,008 bytes, 37,864 bytes over the 262,144-byte (256 KiB) limit of a Run Command script. Split it, or let a smaller script download the rest."
    ])
    expect(cloud.emu.writes().slice(before)).toEqual([])
  })

  it('guest output full of workflow commands is printed but none of it is executed', async () => {
    const mark = 'GUEST-INJECTED'
    cloud.emu.addScriptBehaviour({
      marker: 'noisy-guest',
      stdout: [
        `::set-output name=image-id::/subscriptions/evil/${mark}`,
        `::error::${mark} annotation`,
        `::save-state name=succeeded::true`,
        `::stop-commands::${mark}tok`,
        `::${mark}tok::`,
        `::error::${mark} after a forged resume`,
        `progress ##[warning]${mark} legacy`
      ].join('\n'),
      stderr: `::add-mask::the\n::warning::${mark} on stderr\n`,
      polls: 2,
      progressive: true
    })
    const run = await build('noisy-img', {
      'customize-scripts': script('scripts/noisy.sh', 'noisy-guest')
    })
    expect(errorAnnotations(run.main)).toEqual([])
    expect(run.main.code).toBe(0)
    // The guest's words reached the log (the test is not vacuous) …
    expect(run.main.stdout).toContain(`::error::${mark} annotation`)
    expect(onlyInsideStopCommands(run.main.stdout, `${mark} after a forged resume`)).toBe(true)
    // … and did nothing.
    expectNoGuestCommands(run, mark)
    expect(run.outputs['image-id']).toBe(imageId('noisy-img'))
  })
})
