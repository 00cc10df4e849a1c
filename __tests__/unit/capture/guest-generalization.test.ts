import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  DEPROVISION_LOG,
  RESEAL,
  WINDOWS_IMAGE_STATE,
  deprovisionJob,
  deprovisionUnit,
  linuxDeprovisionScript,
  windowsSysprepScript
} from '../../../src/capture/guest-generalization.js'
import { parseRunCommandOutput } from '../../../src/capture/run-command-output.js'

/** `sh -n`: parse only. */
function shellSyntaxErrors(script: string): string {
  const result = spawnSync('sh', ['-n'], { input: script, encoding: 'utf8' })
  return result.status === 0 ? '' : result.stderr
}

/**
 * A stand-in guest: a folder of stub commands that record their arguments (NUL-separated, one
 * record per line of the calls file) instead of doing anything. PATH holds only these stubs.
 */
let dir: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'guest-'))
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function guest(
  name: string,
  stubs: Record<string, number>,
  systemdRunning = true
): { bin: string; calls: () => string[][]; run: string } {
  const root = join(dir, name)
  const bin = join(root, 'bin')
  mkdirSync(bin, { recursive: true })
  const callsFile = join(root, 'calls')
  writeFileSync(callsFile, '')
  const run = join(root, 'run-systemd-system')
  if (systemdRunning) mkdirSync(run)
  for (const [cmd, code] of Object.entries(stubs)) {
    const file = join(bin, cmd)
    writeFileSync(
      file,
      `#!/bin/sh\nprintf '%s\\0' "${cmd}" "$@" >> '${callsFile}'\nprintf '\\n' >> '${callsFile}'\nexit ${code}\n`
    )
    chmodSync(file, 0o755)
  }
  return {
    bin,
    run,
    calls: () =>
      readFileSync(callsFile, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map(l => l.split('\0').filter(Boolean))
  }
}

function runScript(
  script: string,
  g: { bin: string; run: string }
): { status: number | null; stderr: string } {
  const local = script.replaceAll('/run/systemd/system', g.run)
  const r = spawnSync('/bin/sh', ['-c', local], { env: { PATH: g.bin }, encoding: 'utf8' })
  return { status: r.status, stderr: r.stderr }
}

describe('the Linux deprovision', () => {
  const unit = deprovisionUnit('9000001', 2)
  const script = linuxDeprovisionScript(unit).join('\n')

  it('is valid shell, and so is the job it hands to systemd-run', () => {
    expect(shellSyntaxErrors(script)).toBe('')
    expect(shellSyntaxErrors(deprovisionJob())).toBe('')
    expect(unit).toBe('azure-vm-image-deprovision-9000001-2')
  })

  it('starts the job in its own transient unit, outside the agent service, and nothing else', () => {
    const g = guest('systemd', { waagent: 0, 'systemd-run': 0, nohup: 0, setsid: 0 })
    const r = runScript(script, g)
    expect(r.status).toBe(0)
    expect(g.calls()).toEqual([
      [
        'systemd-run',
        `--unit=${unit}`,
        '--collect',
        '--description=azure-vm-image deprovision',
        '/bin/sh',
        '-c',
        deprovisionJob()
      ]
    ])
  })

  it.each([
    ['systemd-run is missing', { waagent: 0 }, true],
    ['systemd is not running', { waagent: 0, 'systemd-run': 0 }, false]
  ])('starts nothing and says why when %s', (_name, stubs, running) => {
    const g = guest(`no-systemd-${String(running)}`, stubs, running)
    const r = runScript(script, g)
    expect(r.status).toBe(1)
    expect(r.stderr).toMatch(/systemd-run is not available.*nothing was started/)
    expect(g.calls()).toEqual([])
  })

  it('fails at once, with a message, when the agent is missing', () => {
    const g = guest('no-agent', { 'systemd-run': 0 })
    const r = runScript(script, g)
    expect(r.status).toBe(1)
    expect(r.stderr).toContain('deprovision: waagent (the Azure Linux Agent) not found')
    expect(g.calls()).toEqual([])
  })

  it.each([
    [0, true],
    [1, false]
  ])('in the job, shuts down only after waagent succeeded (waagent exit %d)', (code, shutsDown) => {
    const g = guest(`job-${code}`, { waagent: code, sleep: 0, sync: 0, shutdown: 0 })
    const job = deprovisionJob().replace(DEPROVISION_LOG, join(dir, `job-${code}`, 'log'))
    runScript(job, g)
    const names = g.calls().map(c => c[0])
    expect(g.calls()[1]).toEqual(['waagent', '-force', '-deprovision+user'])
    expect(names.includes('shutdown')).toBe(shutsDown)
    expect(existsSync(join(dir, `job-${code}`, 'log'))).toBe(true)
  })
})

describe('the Windows Sysprep', () => {
  const script = windowsSysprepScript().join('\n')

  it('runs Sysprep with /quit, never /shutdown, after clearing C:\\Windows\\Panther', () => {
    expect(script).toContain(
      '& "$env:SystemRoot\\System32\\Sysprep\\Sysprep.exe" /generalize /oobe /mode:vm /quiet /quit'
    )
    expect(script).not.toMatch(/\/shutdown/)
    expect(script).toContain('Remove-Item -Recurse -Force "$env:SystemRoot\\Panther"')
    expect(script).not.toContain('System32\\Sysprep\\Panther')
  })

  it('polls the ImageState registry value until the reseal state, bounded', () => {
    expect(script).toContain(
      "(Get-ItemProperty 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Setup\\State').ImageState"
    )
    expect(script).toContain(`$state -eq '${RESEAL}'`)
    expect(script).toMatch(/\(Get-Date\) -gt \$deadline/)
    expect(WINDOWS_IMAGE_STATE).toEqual([
      "(Get-ItemProperty 'HKLM:\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Setup\\State').ImageState"
    ])
  })
})

describe('parseRunCommandOutput', () => {
  it('splits the Linux message into stdout and stderr (shape of test_vm_run_command_e2e.yaml)', () => {
    expect(
      parseRunCommandOutput([
        {
          code: 'ProvisioningState/succeeded',
          level: 'Info',
          displayStatus: 'Provisioning succeeded',
          message:
            'Enable succeeded: \n[stdout]\nSetting up nginx ...\r\nProcessing triggers ...\r\n\n[stderr]\ndebconf: unable to initialize frontend: Dialog\n'
        }
      ])
    ).toEqual({
      stdout: 'Setting up nginx ...\r\nProcessing triggers ...\r\n',
      stderr: 'debconf: unable to initialize frontend: Dialog\n'
    })
  })

  it('keeps a non-zero exit visible only through its output (the status still says succeeded)', () => {
    const out = parseRunCommandOutput([
      {
        code: 'ProvisioningState/succeeded',
        message:
          'Enable succeeded: \n[stdout]\n\n[stderr]\ndeprovision: waagent (the Azure Linux Agent) not found\n'
      }
    ])
    expect(out).toEqual({
      stdout: '',
      stderr: 'deprovision: waagent (the Azure Linux Agent) not found\n'
    })
  })

  it('reads the Windows StdOut/StdErr pair', () => {
    expect(
      parseRunCommandOutput([
        { code: 'ComponentStatus/StdOut/succeeded', message: `${RESEAL}\r\n` },
        { code: 'ComponentStatus/StdErr/succeeded', message: '' }
      ])
    ).toEqual({ stdout: `${RESEAL}\r\n`, stderr: '' })
  })

  it('keeps an unknown shape as stderr rather than losing it', () => {
    expect(parseRunCommandOutput([{ code: 'X/y', message: 'something' }])).toEqual({
      stdout: '',
      stderr: 'something'
    })
    expect(parseRunCommandOutput(undefined)).toEqual({ stdout: '', stderr: '' })
  })
})
