/**
 * runCustomization against an in-memory Run Command API with the SDK's method shapes: the order of
 * the calls, what reaches the log (and that the guest's words stay inside stop-commands blocks),
 * the failure, the restarts and cancellation. The e2e file build-customize.test.ts drives the same
 * through the bundled action and the emulator.
 */
import { describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type {
  VirtualMachineInstanceView,
  VirtualMachineRunCommand,
  VirtualMachineRunCommandInstanceView
} from '@azure/arm-compute'
import type { AzureClients } from '../../../src/azure/clients.js'
import {
  LINUX_REBOOT_CHECK,
  REBOOT_REQUIRED_FILE,
  runCustomization
} from '../../../src/build/customize.js'
import type { CustomizeScript } from '../../../src/build/customize-scripts.js'
import type { OsType, Plan } from '../../../src/plan.js'
import { StepFailure, type RunContext } from '../../../src/run-context.js'
import { emptyReport } from '../../../src/report.js'
import { createLedger } from '../../../src/ledger.js'
import { commandEffects } from '../../support/workflow-commands.js'
import { recordingLogger, type RecordingLogger } from '../targets/gallery-fixtures.js'

const VM = { subscriptionId: 'sub', resourceGroup: 'rg', name: 'build-vm' }

/** What one script does: the instance views its successive reads return (the last one repeats). */
type Behaviour = (script: string) => VirtualMachineRunCommandInstanceView[]

function poller<T>(run: () => T) {
  return {
    operationState: undefined,
    submitted: async () => undefined,
    pollUntilDone: async () => run()
  }
}

class FakeRunCommands {
  calls: string[] = []
  bodies = new Map<string, VirtualMachineRunCommand>()
  private reads = new Map<string, VirtualMachineRunCommandInstanceView[]>()
  rebootRequired = false
  /** Called on each read of a run command; may abort the run. */
  onRead: (name: string) => void = () => undefined

  constructor(private behaviour: Behaviour) {}

  clients(): AzureClients {
    const compute = {
      virtualMachines: {
        get: async () => ({ location: 'westeurope' }),
        restart: () => {
          this.calls.push('restart')
          return poller(() => {
            this.rebootRequired = false
          })
        },
        instanceView: async (): Promise<VirtualMachineInstanceView> => ({
          statuses: [{ code: 'PowerState/running' }],
          vmAgent: { statuses: [{ displayStatus: 'Ready', time: new Date(Date.now() + 1000) }] }
        })
      },
      virtualMachineRunCommands: {
        createOrUpdate: (
          _rg: string,
          _vm: string,
          name: string,
          body: VirtualMachineRunCommand
        ) => {
          this.calls.push(`PUT ${name}`)
          this.bodies.set(name, body)
          const script = body.source?.script ?? ''
          this.reads.set(
            name,
            script === LINUX_REBOOT_CHECK
              ? [
                  this.rebootRequired
                    ? { executionState: 'Succeeded', exitCode: 0 }
                    : { executionState: 'Failed', exitCode: 1 }
                ]
              : this.behaviour(script)
          )
          return poller(() => body)
        },
        getByVirtualMachine: async (
          _rg: string,
          _vm: string,
          name: string,
          options: { expand?: string }
        ) => {
          expect(options.expand).toBe('instanceView')
          this.onRead(name)
          const views = this.reads.get(name)!
          const view = views.length > 1 ? views.shift()! : views[0]
          if (view.output?.includes('leaves reboot-required')) this.rebootRequired = true
          return { provisioningState: 'Succeeded', instanceView: view }
        },
        delete: (_rg: string, _vm: string, name: string) => {
          this.calls.push(`DELETE ${name}`)
          return poller(() => undefined)
        }
      }
    }
    return { compute } as unknown as AzureClients
  }
}

function context(
  fake: FakeRunCommands,
  controller = new AbortController()
): RunContext & { log: RecordingLogger; steps: string[] } {
  const log = recordingLogger()
  const steps: string[] = []
  return {
    plan: { timeoutMinutes: 120 } as unknown as Plan,
    clients: fake.clients(),
    log,
    signal: controller.signal,
    ledger: createLedger(() => undefined),
    report: emptyReport(),
    steps,
    step: async (name, fn) => {
      steps.push(name)
      log.info(`[group] ${name}`)
      return fn()
    }
  }
}

const text = (log: RecordingLogger): string => log.lines.map(l => l.message).join('\n')
const run = (
  ctx: RunContext,
  osType: OsType,
  scripts: CustomizeScript[]
): Promise<void> => runCustomization(ctx, { vm: VM, osType, scripts, pollMs: 1 })

/** Output that grows over three reads, then the end. */
const progressive: Behaviour = script => {
  const id = /# (\w+)/.exec(script)?.[1] ?? 'x'
  return [
    { executionState: 'Running', output: `${id} 1\n${id} 2` },
    { executionState: 'Running', output: `${id} 1\n${id} 2\n${id} 3\n`, error: `${id} warn\n` },
    {
      executionState: 'Succeeded',
      exitCode: 0,
      output: `${id} 1\n${id} 2\n${id} 3\n${id} done\n`,
      error: `${id} warn\n`
    }
  ]
}

describe('runCustomization', () => {
  it('runs each script as its own run command, in order, in its own group, and deletes it', async () => {
    const fake = new FakeRunCommands(progressive)
    const ctx = context(fake)
    await run(ctx, 'Windows', [
      { name: 'scripts/a.ps1', content: '# alpha' },
      { name: 'customize', content: '# beta' }
    ])
    expect(ctx.steps).toEqual(['Customize 1/2: scripts/a.ps1', 'Customize 2/2: customize'])
    expect(fake.calls).toEqual([
      'PUT azure-vm-image-customize-1',
      'DELETE azure-vm-image-customize-1',
      'PUT azure-vm-image-customize-2',
      'DELETE azure-vm-image-customize-2'
    ])
    expect(fake.bodies.get('azure-vm-image-customize-1')).toEqual({
      location: 'westeurope',
      source: { script: '# alpha' },
      asyncExecution: true,
      treatFailureAsDeploymentFailure: false,
      timeoutInSeconds: 7200
    })
    // Every line once, in order, the partial line only once complete.
    const log = text(ctx.log)
    for (const id of ['alpha', 'beta']) {
      const lines = log.split('\n').filter(l => l.startsWith(`${id} `))
      expect(lines).toEqual([`${id} 1`, `${id} 2`, `${id} 3`, `${id} warn`, `${id} done`])
    }
    expect(log).toContain("stderr of 'scripts/a.ps1':")
    expect(log.indexOf('alpha done')).toBeLessThan(log.indexOf('[group] Customize 2/2'))
  })

  it('prints guest output only inside stop-commands blocks', async () => {
    const fake = new FakeRunCommands(() => [
      {
        executionState: 'Succeeded',
        exitCode: 0,
        output: '::set-output name=image-id::evil\n::error::from the guest\n',
        error: '##[warning]legacy\n::stop-commands::abc\n::abc::\n::error::after a forged resume\n'
      }
    ])
    const ctx = context(fake)
    await run(ctx, 'Windows', [{ name: 's.ps1', content: 'x' }])
    const log = text(ctx.log)
    expect(log).toContain('::error::from the guest')
    const effects = commandEffects(log)
    expect(effects.commands.map(c => c.line)).toEqual([])
    expect(effects.outputs).toEqual({})
    expect(effects.stillStopped).toBe(false)
  })

  it('fails on a non-zero exit with one message, the last lines in blocks, and runs nothing after', async () => {
    const fake = new FakeRunCommands(script =>
      script.includes('bad')
        ? [
            {
              executionState: 'Failed',
              exitCode: 7,
              output: Array.from({ length: 30 }, (_, i) => `out ${i + 1}`).join('\n') + '\n',
              error: 'E: Unable to locate package nope\n::error::guest error\n'
            }
          ]
        : progressive(script)
    )
    const ctx = context(fake)
    const error = await run(ctx, 'Linux', [
      { name: 'scripts/bad.sh', content: '# bad' },
      { name: 'scripts/next.sh', content: '# next' }
    ]).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StepFailure)
    expect((error as Error).message).toBe(
      `Customization script 'scripts/bad.sh' failed with exit code 7; its last lines of output are in the log under "Last output of 'scripts/bad.sh'".`
    )
    expect(fake.calls).toEqual([
      'PUT azure-vm-image-customize-1',
      'DELETE azure-vm-image-customize-1'
    ])
    const log = text(ctx.log)
    const header = log.indexOf("Last output of 'scripts/bad.sh' (stdout, last 15 lines at most):")
    expect(header).toBeGreaterThan(0)
    const after = log.slice(header)
    expect(after).toContain('out 16\nout 17')
    expect(after).not.toContain('out 15\n')
    expect(after).toContain("Last output of 'scripts/bad.sh' (stderr, last 15 lines at most):")
    expect(after).toContain('E: Unable to locate package nope')
    expect(commandEffects(log).commands).toEqual([])
  })

  it('restarts a Windows VM after a 3010 and then runs the next script', async () => {
    const fake = new FakeRunCommands(script =>
      script.includes('updates')
        ? [{ executionState: 'Failed', exitCode: 3010, output: 'installed 3 updates\n' }]
        : progressive(script)
    )
    const ctx = context(fake)
    await run(ctx, 'Windows', [
      { name: 'updates.ps1', content: '# updates' },
      { name: 'after.ps1', content: '# after' }
    ])
    expect(fake.calls).toEqual([
      'PUT azure-vm-image-customize-1',
      'DELETE azure-vm-image-customize-1',
      'restart',
      'PUT azure-vm-image-customize-2',
      'DELETE azure-vm-image-customize-2'
    ])
    expect(text(ctx.log)).toContain(
      "Restarting VM 'build-vm': 'updates.ps1' exited 3010 (success, restart required)"
    )
  })

  it('checks /var/run/reboot-required after each Linux script and restarts only when it is there', async () => {
    const fake = new FakeRunCommands(script =>
      script.includes('upgrade')
        ? [{ executionState: 'Succeeded', exitCode: 0, output: 'leaves reboot-required\n' }]
        : progressive(script)
    )
    const ctx = context(fake)
    await run(ctx, 'Linux', [
      { name: 'upgrade.sh', content: '# upgrade' },
      { name: 'plain.sh', content: '# plain' }
    ])
    expect(fake.calls).toEqual([
      'PUT azure-vm-image-customize-1',
      'DELETE azure-vm-image-customize-1',
      'PUT azure-vm-image-customize-1-reboot-check',
      'DELETE azure-vm-image-customize-1-reboot-check',
      'restart',
      'PUT azure-vm-image-customize-2',
      'DELETE azure-vm-image-customize-2',
      'PUT azure-vm-image-customize-2-reboot-check',
      'DELETE azure-vm-image-customize-2-reboot-check'
    ])
    const log = text(ctx.log)
    expect(log).toContain("Restarting VM 'build-vm': 'upgrade.sh' left /var/run/reboot-required")
    expect(log).toContain('/var/run/reboot-required is absent: no restart needed')
  })

  it('stops waiting at once when the run is cancelled, and leaves the command to the VM deletion', async () => {
    const controller = new AbortController()
    const fake = new FakeRunCommands(() => [{ executionState: 'Running', output: 'working\n' }])
    // The first read shows it running; the cancellation comes during the minute-long pause after it.
    fake.onRead = () => void setTimeout(() => controller.abort(new Error('cancelled by the user')), 20)
    const ctx = context(fake, controller)
    const started = Date.now()
    const error = await runCustomization(ctx, {
      vm: VM,
      osType: 'Linux',
      scripts: [{ name: 'forever.sh', content: 'sleep infinity' }],
      pollMs: 60_000
    }).catch((e: unknown) => e)
    expect((error as Error).message).toBe('cancelled by the user')
    expect(Date.now() - started).toBeLessThan(5000)
    expect(fake.calls).toEqual(['PUT azure-vm-image-customize-1'])
  }, 10_000)

  it('does nothing without scripts', async () => {
    const fake = new FakeRunCommands(progressive)
    await run(context(fake), 'Linux', [])
    expect(fake.calls).toEqual([])
  })
})

describe('the Linux reboot check', () => {
  it('exits 0 exactly when the file exists, else 1 (run by sh, with the file moved to a temp dir)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'reboot-check-'))
    try {
      const file = join(dir, 'reboot-required')
      const script = LINUX_REBOOT_CHECK.split(REBOOT_REQUIRED_FILE).join(file)
      expect(script).not.toBe(LINUX_REBOOT_CHECK)
      const check = () => spawnSync('sh', ['-c', script], { encoding: 'utf8' }).status
      expect(check()).toBe(1)
      writeFileSync(file, '*** System restart required ***\n')
      expect(check()).toBe(0)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
