/** The test-support parser against the runner's documented and source-level behaviour. */
import { describe, expect, it } from '@jest/globals'
import { commandEffects, runnerCommands } from '../support/workflow-commands.js'

describe('runnerCommands (the runner parser, rebuilt for tests)', () => {
  it('parses the v2 form after leading white space, with properties and escaped data', () => {
    const [c] = runnerCommands('  ::error file=a%2Cb.ts,line=3::one%0Atwo %25')
    expect(c.command).toBe('error')
    expect(c.properties).toEqual({ file: 'a,b.ts', line: '3' })
    expect(c.data).toBe('one\ntwo %')
  })

  it('parses the legacy ##[ form anywhere in a line', () => {
    const [c] = runnerCommands('build log says ##[set-output name=x;]value')
    expect(c).toMatchObject({ command: 'set-output', properties: { name: 'x' }, data: 'value' })
  })

  it('ignores unknown commands and lines without a second ::', () => {
    expect(runnerCommands('::not-a-command::x\n::error no end\nC::error::mid-line')).toEqual([])
  })

  it('matches command names case-insensitively', () => {
    expect(runnerCommands('::Set-Output name=a::b')[0].command).toBe('set-output')
  })

  it('pauses on stop-commands until the token, which then stops being a command', () => {
    const text = [
      '::stop-commands::tok',
      '::error::inside',
      '##[warning]inside',
      '::TOK::',
      '::error::after',
      '::tok::'
    ].join('\n')
    const effects = commandEffects(text)
    expect(effects.annotations).toEqual([{ level: 'error', message: 'after' }])
    expect(effects.stillStopped).toBe(false)
    expect(runnerCommands(text).map(c => c.lineNumber)).toEqual([1, 4, 5])
  })

  it('never resumes after an empty token', () => {
    const effects = commandEffects('::stop-commands::\n::error::x\n::::')
    expect(effects.commands).toEqual([])
    expect(effects.stillStopped).toBe(true)
  })

  it('collects outputs, state and masks', () => {
    const effects = commandEffects(
      '::set-output name=image-id::/x\n::save-state name=ledger::[]\n::add-mask::s3cret'
    )
    expect(effects.outputs).toEqual({ 'image-id': '/x' })
    expect(effects.state).toEqual({ ledger: '[]' })
    expect(effects.masks).toEqual(['s3cret'])
  })

  it('splits lines on CR as well as LF', () => {
    expect(runnerCommands('progress\r::error::x')).toHaveLength(1)
  })
})
