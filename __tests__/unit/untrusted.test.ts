import { describe, expect, it } from '@jest/globals'
import type { Logger } from '../../src/log.js'
import { guardLines, oneLine, printUntrusted, stopCommandsToken } from '../../src/untrusted.js'
import { commandEffects, runnerCommands } from '../support/workflow-commands.js'

/** A logger that writes as core.info does: the message and a newline, raw. */
function capture(): { log: Logger; text: () => string } {
  let out = ''
  const log: Logger = {
    info: m => (out += `${m}\n`),
    warning: m => (out += `::warning::${m}\n`),
    debug: () => undefined,
    group: (_n, fn) => fn(),
    secret: () => undefined
  }
  return { log, text: () => out }
}

/** Lines a guest or an Azure message could carry, in every shape the runner accepts. */
const HOSTILE = [
  '::error::from the guest',
  '::set-output name=image-id::/subscriptions/evil/x',
  '::save-state name=ledger::[]',
  '::save-state name=succeeded::true',
  '::add-mask::the',
  '::stop-commands::zzz',
  '   ::warning::indented',
  '\u00a0\u2028::notice::after non-breaking space and LS',
  '\u200b::error::after a zero-width space',
  ':\u200b:error::zero-width space inside the prefix',
  ':\u00ad:error::soft hyphen inside the prefix',
  '\ufeff::error::after a BOM',
  'text ##[error]legacy form in the middle',
  'text ##[set-output name=image-id;]legacy output',
  '#\u200b#[error]zero width inside the legacy prefix',
  '::ERROR::upper case',
  '::group::fake group',
  '::echo::on'
]

describe('oneLine', () => {
  it.each(HOSTILE)('leaves no command the runner would run: %j', line => {
    for (const text of [line, `prefix\n${line}`, `prefix\r${line}`, `a\u0085${line}`]) {
      const out = oneLine(text)
      expect(runnerCommands(out)).toEqual([])
      expect(out).not.toMatch(/[\n\r\v\f\u0085\u2028\u2029]/)
    }
  })

  it('the parser does see these lines as commands when printed raw', () => {
    // Guards against a parser that finds nothing: every hostile line is a command as it stands.
    for (const line of HOSTILE) expect(runnerCommands(line)).toHaveLength(1)
  })

  it('shows line breaks and invisible characters visibly and keeps ordinary text', () => {
    expect(oneLine('a\r\nb\nc\rd\u2028e\u2029f\u0085g\vh\fi')).toBe(
      'a ⏎ b ⏎ c ⏎ d ⏎ e ⏎ f ⏎ g ⏎ h ⏎ i'
    )
    expect(oneLine('x\u200by\u0000z\u202e')).toBe('x<U+200B>y<U+0000>z<U+202E>')
    expect(oneLine('::error::x')).toBe(': :error: :x')
    expect(oneLine('a ##[error]b')).toBe('a # #[error]b')
    expect(oneLine('The VM golden-1 (Standard_D2s_v5) is running.\tTab kept')).toBe(
      'The VM golden-1 (Standard_D2s_v5) is running.\tTab kept'
    )
    expect(oneLine('naïve 日本語 файл.vhd')).toBe('naïve 日本語 файл.vhd')
  })
})

describe('printUntrusted', () => {
  it('prints every line verbatim inside a stop-commands block the text cannot end', () => {
    const text = HOSTILE.join('\n')
    const { log, text: out } = capture()
    printUntrusted(log, text)
    const printed = out()
    const lines = printed.trimEnd().split('\n')
    const token = /^::stop-commands::([0-9a-f]{32})$/.exec(lines[0])?.[1]
    expect(token).toBeDefined()
    expect(lines[lines.length - 1]).toBe(`::${token}::`)
    expect(lines.slice(1, -1).join('\n')).toBe(text)
    const effects = commandEffects(printed)
    expect(effects.commands).toEqual([])
    expect(effects.stillStopped).toBe(false)
    // The block really is closed: a command after it runs again.
    expect(commandEffects(`${printed}::error::ours\n`).annotations).toEqual([
      { level: 'error', message: 'ours' }
    ])
  })

  it('uses a fresh token each time', () => {
    const tokens = new Set<string>()
    for (let i = 0; i < 50; i++) {
      const { log, text } = capture()
      printUntrusted(log, 'line')
      tokens.add(text().split('\n')[0])
    }
    expect(tokens.size).toBe(50)
  })

  it('normalises CR and CRLF so no line escapes the block, and prints nothing for empty text', () => {
    const { log, text } = capture()
    printUntrusted(log, 'a\r::error::x\r\nb\n\n')
    expect(text().split('\n').slice(1, 4)).toEqual(['a', '::error::x', 'b'])
    expect(commandEffects(text()).commands).toEqual([])
    const empty = capture()
    printUntrusted(empty.log, ' \n')
    expect(empty.text()).toBe('')
  })
})

describe('stopCommandsToken', () => {
  it('never picks a token that occurs in the text, in any case', () => {
    const queue = ['ABCDEF0123456789ABCDEF0123456789', 'abcdef0123456789abcdef0123456789']
    const fresh = '00112233445566778899aabbccddeeff'
    const token = stopCommandsToken(
      'guest says ::abcdef0123456789abcdef0123456789::',
      () => queue.shift() ?? fresh
    )
    expect(token).toBe(fresh)
  })

  it('refuses short or non-alphanumeric tokens from the source', () => {
    const queue = ['short', 'has space in it 0123456789']
    const token = stopCommandsToken('x', () => queue.shift() ?? 'ffffffffffffffffffffffffffffffff')
    expect(token).toBe('ffffffffffffffffffffffffffffffff')
  })
})

describe('guardLines (the stdout sink in index.ts)', () => {
  function guarded(): { log: Logger; text: () => string } {
    let out = ''
    const info = guardLines(t => (out += `${t}\n`))
    const log: Logger = { ...capture().log, info }
    return { log, text: () => out }
  }

  it("passes the action's own lines unchanged", () => {
    const { log, text } = guarded()
    log.info("Deallocate 'vm-1': done in 3s")
    log.info('Plan:\n  1. Create managed image /subscriptions/x/images/y in westeurope')
    expect(text()).toBe(
      "Deallocate 'vm-1': done in 3s\nPlan:\n  1. Create managed image /subscriptions/x/images/y in westeurope\n"
    )
  })

  it('defuses outside text a caller forgot to pass through oneLine', () => {
    const { log, text } = guarded()
    for (const line of HOSTILE) log.info(`Run Command said:\n${line}`)
    expect(runnerCommands(text())).toEqual([])
  })

  it("keeps printUntrusted's block verbatim and guards again after it", () => {
    const { log, text } = guarded()
    printUntrusted(log, HOSTILE.join('\n'))
    log.info('::error::forgotten after the block')
    const out = text()
    expect(out).toContain(HOSTILE.join('\n'))
    expect(commandEffects(out).commands).toEqual([])
  })

  it('does not let a forged stop-commands line silence later lines', () => {
    const { log, text } = guarded()
    log.info('::stop-commands::00112233445566778899aabbccddeeff')
    expect(runnerCommands(text())).toEqual([])
  })
})
