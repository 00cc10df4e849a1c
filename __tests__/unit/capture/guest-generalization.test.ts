import { describe, expect, it } from '@jest/globals'
import { spawnSync } from 'node:child_process'
import { LINUX_DEPROVISION, WINDOWS_SYSPREP } from '../../../src/capture/guest-generalization.js'

/** `sh -n`: parse only. The emulator does not run these scripts, so their syntax is checked here. */
function shellSyntaxErrors(script: string): string {
  const result = spawnSync('sh', ['-n'], { input: script, encoding: 'utf8' })
  return result.status === 0 ? '' : result.stderr
}

describe('the Linux deprovision script', () => {
  const script = LINUX_DEPROVISION.join('\n')

  it('is valid shell, and so is the command it runs in the background', () => {
    expect(shellSyntaxErrors(script)).toBe('')
    const inner = /nohup sh -c '([^']+)'/.exec(script)?.[1]
    expect(inner).toBeDefined()
    expect(shellSyntaxErrors(inner as string)).toBe('')
  })

  it('deprovisions with waagent and then shuts down, in the background', () => {
    const inner = /nohup sh -c '([^']+)'/.exec(script)?.[1] ?? ''
    expect(inner).toMatch(/\/usr\/sbin\/waagent -force -deprovision\+user && .*shutdown -h now$/)
    // The run command must return while the agent can still report it: backgrounded, after a pause.
    expect(inner.startsWith('sleep ')).toBe(true)
    expect(script).toMatch(/nohup sh -c '[^']+' > \S+ 2>&1 &$/m)
  })

  it('fails at once, with a message, when the agent is missing', () => {
    const check = LINUX_DEPROVISION[0].replaceAll('/usr/sbin/waagent', '/nonexistent/waagent')
    const result = spawnSync('sh', ['-c', check], { encoding: 'utf8' })
    expect(result.status).toBe(1)
    expect(result.stderr).toContain('deprovision: /nonexistent/waagent not found')
  })
})

describe('the Windows Sysprep script', () => {
  it('generalizes for a VM, out of the box experience, and shuts down', () => {
    const sysprep = WINDOWS_SYSPREP.at(-1) as string
    expect(sysprep).toMatch(/Sysprep\.exe" \/generalize \/oobe \/mode:vm \/quiet \/shutdown$/)
  })
})
