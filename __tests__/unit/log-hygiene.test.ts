/**
 * Issue 13, "done when": a search of src/ finds no log call that prints text from Azure, the guest
 * or the workspace except through src/untrusted.ts. Rather than guess which values are outside
 * text, this check is strict: every argument of a logger's info/warning/debug call (and of core.*
 * outside the one binding in index.ts) must be a literal, oneLine(…) of something, or a template
 * or concatenation whose every interpolation is oneLine(…), a number literal or one of the few
 * own-number formatters below. Multi-line outside text goes through printUntrusted instead.
 *
 * Not checked here, on purpose: runner.error / core.error, whose message @actions/core escapes
 * (`%`, CR, LF: command.js escapeData), so the whole message is the data of one annotation; the
 * end-to-end tests parse that output as the runner does.
 *
 * console.* and process.stdout/stderr.write are refused outright: output goes through the Logger.
 *
 * A call that only forwards lines other code already made safe says so with a `log-sink:` comment
 * on its line or the line above (index.ts's binding, main's tracking logger).
 */
import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import ts from 'typescript'
import { ROOT } from '../support/action-runner.js'

const LEVELS = new Set(['info', 'warning', 'debug', 'notice'])
/** Writers that bypass the Logger altogether: never used in src/ (only index.ts binds output). */
const RAW_WRITERS = /^(console\.\w+|process\.(stdout|stderr)\.write)$/
/** Expressions that only ever yield the action's own digits and units. */
const OWN_NUMBERS = /^(formatDuration|formatMiB|formatBytes)\(/

function isSafe(node: ts.Expression): boolean {
  if (ts.isParenthesizedExpression(node)) return isSafe(node.expression)
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return true
  if (ts.isNumericLiteral(node)) return true
  if (ts.isCallExpression(node)) {
    return ts.isIdentifier(node.expression) && node.expression.text === 'oneLine'
  }
  if (ts.isTemplateExpression(node)) return node.templateSpans.every(s => isSafeSpan(s.expression))
  if (ts.isBinaryExpression(node) && node.operatorToken.kind === ts.SyntaxKind.PlusToken) {
    return isSafe(node.left) && isSafe(node.right)
  }
  if (ts.isConditionalExpression(node)) return isSafe(node.whenTrue) && isSafe(node.whenFalse)
  return false
}

function isSafeSpan(node: ts.Expression): boolean {
  if (isSafe(node)) return true
  return ts.isCallExpression(node) && OWN_NUMBERS.test(node.getText())
}

function isLogCall(node: ts.CallExpression): boolean {
  const callee = node.expression
  if (!ts.isPropertyAccessExpression(callee) || !LEVELS.has(callee.name.text)) return false
  const target = callee.expression.getText()
  return /(^|\.)log$/i.test(target) || target === 'core'
}

export interface Violation {
  file: string
  line: number
  text: string
}

/** Log calls in `source` whose arguments are not provably harmless. */
export function unsafeLogCalls(file: string, source: string): Violation[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.ES2022, true, ts.ScriptKind.TS)
  const lines = source.split('\n')
  const found: Violation[] = []
  const visit = (node: ts.Node): void => {
    const raw = ts.isCallExpression(node) && RAW_WRITERS.test(node.expression.getText())
    if (ts.isCallExpression(node) && (raw || (isLogCall(node) && !node.arguments.every(isSafe)))) {
      const line = sf.getLineAndCharacterOfPosition(node.getStart()).line
      const sink = /log-sink:/.test(lines[line] ?? '') || /log-sink:/.test(lines[line - 1] ?? '')
      if (!sink) found.push({ file, line: line + 1, text: node.getText().split('\n')[0] })
    }
    ts.forEachChild(node, visit)
  }
  visit(sf)
  return found
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap(name => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return path.endsWith('.ts') ? [path] : []
  })
}

describe('log hygiene of src/', () => {
  it('every log call prints outside text only through src/untrusted.ts', () => {
    const files = sourceFiles(join(ROOT, 'src'))
    expect(files.length).toBeGreaterThan(20)
    const violations = files
      .filter(f => !f.endsWith('untrusted.ts'))
      .flatMap(f => unsafeLogCalls(relative(ROOT, f), readFileSync(f, 'utf8')))
    expect(violations).toEqual([])
  })

  it('the check flags the shapes that leak and accepts the safe ones', () => {
    const bad = [
      'log.info(`Failed: ${e.message}`)',
      'ctx.log.warning(`${status.code}: ${status.message}`)',
      'log.info(line)',
      "deps.log.info('Cleanup: ' + what)",
      'runner.log.debug(String(error))',
      'core.info(output)',
      'log.info(`Took ${formatDuration(ms)} for ${name}`)',
      "console.log('even a literal')",
      'process.stdout.write(text)'
    ]
    for (const code of bad) expect(unsafeLogCalls('x.ts', code)).toHaveLength(1)
    const good = [
      "log.info('plain')",
      'log.info(`Failed: ${oneLine(e.message)}`)',
      'log.info(oneLine(`${status.code}: ${status.message}`))',
      'log.info(`Took ${formatDuration(ms)}`)',
      "log.info(ok ? 'a' : `b ${oneLine(x)}`)",
      '// log-sink: forwards safe lines\nlog.info(m)',
      'runner.error(e.message)'
    ]
    for (const code of good) expect(unsafeLogCalls('x.ts', code)).toEqual([])
  })
})
