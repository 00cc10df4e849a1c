import { describe, expect, it } from '@jest/globals'
import {
  SKIPPED_MARK,
  TAIL_BYTES,
  followStream,
  lastLines,
  newSince
} from '../../../src/build/customize-output.js'
import { failureMessage, judgeScript } from '../../../src/build/customize-outcome.js'
import { runningWithReadyAgent } from '../../../src/build/customize-restart.js'

/** What Azure shows of a stream that has printed `full` so far: its last 4 KB. */
const tail = (full: string): string => full.slice(-TAIL_BYTES)
const numbered = (from: number, to: number): string =>
  Array.from({ length: to - from + 1 }, (_, i) => `line ${String(from + i).padStart(5, '0')}\n`).join('')

describe('newSince', () => {
  it('returns what was appended while the stream is shorter than the window', () => {
    expect(newSince('', 'a\n')).toEqual({ text: 'a\n', skipped: false })
    expect(newSince('a\n', 'a\nb\n')).toEqual({ text: 'b\n', skipped: false })
    expect(newSince('a\nb\n', 'a\nb\n')).toEqual({ text: '', skipped: false })
  })

  it('finds the new text after the window moved', () => {
    const before = numbered(1, 400)
    const after = numbered(1, 430)
    expect(tail(before)).not.toBe(before)
    expect(newSince(tail(before), tail(after))).toEqual({ text: numbered(401, 430), skipped: false })
  })

  it('says so when more than a window arrived between two reads', () => {
    const before = numbered(1, 400)
    const after = numbered(1, 1000)
    const result = newSince(tail(before), tail(after))
    expect(result.skipped).toBe(true)
    expect(result.text).toBe(tail(after))
  })

  it('ignores a character cut in half at the start of the window', () => {
    expect(newSince('€ 1\n€ 2\n', '\uFFFD 2\n€ 3\n')).toEqual({ text: '€ 3\n', skipped: false })
  })
})

describe('followStream', () => {
  it('prints every line once, complete, across a moving window, and the rest at the end', () => {
    const follower = followStream()
    let full = ''
    let printed = ''
    for (let i = 1; i <= 2000; i += 37) {
      full += numbered(i, i + 36)
      full += i % 2 ? 'partial' : '' // an unfinished line, finished by the next write
      printed += follower.update(tail(full)).lines
      full = full.replace(/partial$/, 'partial done\n')
    }
    full += 'last line without newline'
    printed += follower.update(tail(full)).lines + follower.end()
    expect(printed).toBe(full)
  })

  it('marks where lines were lost and keeps the partial line it had', () => {
    const follower = followStream()
    expect(follower.update('start\nhalf').lines).toBe('start\n')
    const jumped = numbered(1, 1000)
    const { lines, skipped } = follower.update(tail(jumped))
    expect(skipped).toBe(true)
    expect(lines.startsWith(`half\n${SKIPPED_MARK}\n`)).toBe(true)
    expect(lines.endsWith(numbered(1000, 1000))).toBe(true)
  })

  it('keeps Windows line endings inside the lines it prints', () => {
    const follower = followStream()
    expect(follower.update('a\r\nb').lines).toBe('a\r\n')
    expect(follower.update('a\r\nb\r\n').lines).toBe('b\r\n')
  })
})

describe('lastLines', () => {
  it('takes the last lines, skipping trailing blank ones, in any line ending', () => {
    expect(lastLines('1\n2\n3\n4\n\n\n', 2)).toBe('3\n4')
    expect(lastLines('1\r\n2\r\n3\r\n', 5)).toBe('1\n2\n3')
    expect(lastLines('', 5)).toBe('')
  })
})

describe('judgeScript', () => {
  const run = (executionState: string, exitCode?: number, executionMessage?: string) => ({
    executionState,
    exitCode,
    executionMessage,
    timeoutSeconds: 7200
  })

  it('succeeds on exit code 0 and asks for no restart', () => {
    expect(judgeScript('Linux', 's.sh', run('Succeeded', 0))).toEqual({
      ok: true,
      restart: undefined
    })
    expect(judgeScript('Windows', 's.ps1', run('Succeeded'))).toEqual({
      ok: true,
      restart: undefined
    })
  })

  it('counts a Windows 3010 as success with a restart, whatever state Azure gives it', () => {
    for (const state of ['Succeeded', 'Failed']) {
      expect(judgeScript('Windows', 'updates.ps1', run(state, 3010))).toEqual({
        ok: true,
        restart: 'exit-3010'
      })
    }
  })

  it('fails a Linux 3010 and any other non-zero exit, naming the script and the code', () => {
    const linux = judgeScript('Linux', 'a.sh', run('Failed', 3010))
    expect(linux).toMatchObject({ ok: false, exitCode: 3010 })
    const failed = judgeScript(
      'Windows',
      'b.ps1',
      run('Failed', 1, 'Execution failed: command terminated with exit status=1')
    )
    expect(failed).toEqual({
      ok: false,
      exitCode: 1,
      message: `Customization script 'b.ps1' failed with exit code 1; its last lines of output are in the log under "Last output of 'b.ps1'".`
    })
  })

  it('fails a non-zero exit even when the state says Succeeded, and a Failed state with exit 0', () => {
    expect(judgeScript('Linux', 'a.sh', run('Succeeded', 2))).toMatchObject({ ok: false })
    const odd = judgeScript('Linux', 'a.sh', run('Failed', 0, 'Failed to download script'))
    expect(odd).toMatchObject({ ok: false, exitCode: 0 })
    expect(odd.ok || odd.message).toMatch(/ended 'Failed' \(exit code 0\).* Azure says: Failed to download script$/)
  })

  it('says a -1 exit is a killed process, as at the time limit (the Linux handler never reports TimedOut)', () => {
    const killed = judgeScript('Linux', 'slow.sh', run('Failed', -1))
    expect(killed.ok || killed.message).toMatch(
      /^Customization script 'slow\.sh' failed with exit code -1 \(the process was killed, as happens at its time limit of 7200 s\); its last lines/
    )
  })

  it('fails a timed-out or canceled script, saying which', () => {
    const timedOut = judgeScript('Linux', 'long.sh', run('TimedOut', undefined, 'Execution timed out'))
    expect(timedOut.ok || timedOut.message).toBe(
      "Customization script 'long.sh' was stopped in the VM after 7200 s (the run's 'timeout-minutes'). Azure says: Execution timed out"
    )
    const canceled = judgeScript('Windows', 'x.ps1', run('Canceled'))
    expect(canceled.ok || canceled.message).toMatch(/'x\.ps1' was canceled in the VM/)
  })

  it('keeps guest and Azure words on one harmless line', () => {
    const outcome = judgeScript('Linux', '::error::x\n.sh', run('Failed', 1, 'bad\n::warning::y'))
    expect(outcome.ok).toBe(false)
    const message = outcome.ok ? '' : outcome.message
    expect(message).not.toMatch(/::|\n/)
    expect(failureMessage('a.sh', undefined, 'Unknown')).toMatch(/ended 'Unknown' without an exit code/)
  })
})

describe('runningWithReadyAgent', () => {
  const since = new Date('2026-12-01T18:00:00Z')
  const view = (power: string, agent?: { displayStatus: string; time?: string }) => ({
    statuses: [{ code: 'ProvisioningState/succeeded' }, { code: `PowerState/${power}` }],
    vmAgent: agent ? { statuses: [{ code: 'ProvisioningState/succeeded', ...agent }] } : undefined
  })

  it('is ready when running with an agent Ready after the restart', () => {
    expect(runningWithReadyAgent(view('running', { displayStatus: 'Ready', time: '2026-12-01T18:01:00Z' }), since)).toEqual({
      ready: true,
      state: 'VM running, agent Ready'
    })
    // A status without a time is taken as it is.
    expect(runningWithReadyAgent(view('running', { displayStatus: 'Ready' }), since).ready).toBe(true)
  })

  it('waits for a stopped VM, a Not Ready agent, a missing agent, or a Ready from before', () => {
    expect(runningWithReadyAgent(view('starting', { displayStatus: 'Ready' }), since).ready).toBe(false)
    expect(runningWithReadyAgent(view('running', { displayStatus: 'Not Ready' }), since).ready).toBe(false)
    expect(runningWithReadyAgent(view('running'), since)).toEqual({
      ready: false,
      state: 'VM running, agent not reported'
    })
    expect(
      runningWithReadyAgent(view('running', { displayStatus: 'Ready', time: '2026-12-01T17:59:00Z' }), since)
    ).toEqual({ ready: false, state: 'VM running, agent Ready (from before the restart)' })
  })
})
