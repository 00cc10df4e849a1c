/**
 * The one home for printing text the action did not write itself: Run Command output from the
 * guest, Azure error messages and details, tags and names read from Azure, workspace file names.
 *
 * The GitHub runner reads every line a step writes to stdout or stderr as a possible workflow
 * command (actions/runner, src/Runner.Worker/ActionCommandManager.cs, TryProcessCommand, commit
 * 02523b9a60a24fe13364739abefe2255c5a6b758; parsers in src/Runner.Common/ActionCommand.cs, commit
 * 079cdb1d05fe0ec50f8c51de5a4fa51d0eb189b0):
 * - TryParseV2: the line, after TrimStart() (which also drops U+0085, U+00A0, U+2028…), must start
 *   with `::`; the command name runs to the next `::` (or a space).
 * - TryParse (legacy): `##[` ANYWHERE in the line (IndexOf, not StartsWith), name up to `]`.
 * Both use the culture-sensitive string.StartsWith(string)/IndexOf(string) overloads, which under
 * ICU skip "ignorable" characters (zero-width space, soft hyphen, BOM, controls…), so `:\u200B:`
 * can count as `::`. And `stop-commands` pauses all of it until a line whose command is the token.
 *
 * So: a single value interpolated into a log line goes through oneLine (no line breaks, no
 * invisible characters, no `::` or `##[` anywhere), and multi-line output goes through
 * printUntrusted (inside a stop-commands block with a fresh random token the text cannot contain).
 * Annotations need neither: @actions/core's error/warning/debug escape `%`, CR and LF in the
 * message (command.js escapeData), so the whole message is data of one command line.
 */
import { randomBytes } from 'node:crypto'
import type { Logger } from './log.js'

/**
 * Line breaks in any convention: CR, LF, CRLF, NEL (U+0085), LS (U+2028), PS (U+2029), and the
 * vertical tab and form feed that some renderers also break on.
 */
const LINE_BREAK = /\r\n|[\n\r\v\f\u0085\u2028\u2029]/g
/** What a reader sees instead of a line break. */
export const LINE_BREAK_MARK = ' ⏎ '

/**
 * Characters nobody sees and that ICU comparison may skip: controls (tab aside), format characters
 * (zero-width, bidi overrides, BOM, soft hyphen) and every other default-ignorable code point
 * (variation selectors, combining grapheme joiner, Hangul fillers…).
 */
const INVISIBLE = /(?!\t)[\p{Cc}\p{Cf}\p{Default_Ignorable_Code_Point}]/gu

function codePointMark(ch: string): string {
  const cp = ch.codePointAt(0) ?? 0
  return `<U+${cp.toString(16).toUpperCase().padStart(4, '0')}>`
}

/**
 * One harmless log line from outside text: line breaks shown as ⏎, invisible characters shown as
 * <U+XXXX>, every `::` split to `: :` and every `##[` to `# #[`, so no part of it can be read as
 * a workflow command wherever it ends up in the line.
 */
export function oneLine(text: string): string {
  return String(text)
    .replace(LINE_BREAK, LINE_BREAK_MARK)
    .replace(INVISIBLE, codePointMark)
    .replace(/:(?=:)/g, ': ')
    .replace(/#(?=#\[)/g, '# ')
}

function randomToken(): string {
  return randomBytes(16).toString('hex')
}

/**
 * A token for a stop-commands block around `text`: fresh and unguessable (128 random bits), and
 * never one that occurs in the text, compared case-insensitively as the runner does (its command
 * names are matched with OrdinalIgnoreCase). `random` is only replaceable for tests.
 */
export function stopCommandsToken(text: string, random: () => string = randomToken): string {
  const haystack = text.toLowerCase()
  for (;;) {
    const token = random()
    if (/^[0-9a-z]{16,}$/i.test(token) && !haystack.includes(token.toLowerCase())) return token
  }
}

/**
 * Prints multi-line outside text (e.g. a guest's Run Command output) verbatim, but inside
 * `::stop-commands::<token>` … `::<token>::`, so the runner executes none of its lines. Each call
 * uses a new token. Empty text prints nothing.
 */
export function printUntrusted(log: Logger, text: string): void {
  const body = String(text).replace(/\r\n?/g, '\n').replace(/\n+$/, '')
  if (body.trim() === '') return
  const token = stopCommandsToken(body)
  issuedTokens.add(token)
  log.info(`::stop-commands::${token}`)
  for (const line of body.split('\n')) log.info(line)
  log.info(`::${token}::`)
}

/** Tokens printUntrusted has opened blocks with: the only ones guardLines lets through. */
const issuedTokens = new Set<string>()

/**
 * Defence in depth at the one place lines reach stdout (index.ts binds Logger.info through it):
 * outside a stop-commands block that printUntrusted opened, every line goes through oneLine, so a
 * caller that forgot the helper still cannot issue a command, and a forged `::stop-commands::`
 * cannot silence the action's own later lines. The action's own lines pass unchanged (oneLine
 * leaves text without line breaks, invisible characters, `::` or `##[` as it is).
 */
export function guardLines(write: (text: string) => void): (message: string) => void {
  let open: string | undefined
  return message => {
    const lines = String(message)
      .split(/\r\n|\r|\n/)
      .map(line => {
        if (open !== undefined) {
          if (line === `::${open}::`) {
            issuedTokens.delete(open)
            open = undefined
          }
          return line
        }
        const start = /^::stop-commands::([0-9a-z]+)$/i.exec(line)
        if (start && issuedTokens.has(start[1])) {
          open = start[1]
          return line
        }
        return oneLine(line)
      })
    write(lines.join('\n'))
  }
}
