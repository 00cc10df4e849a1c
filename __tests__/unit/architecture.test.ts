/**
 * The layering docs/architecture.md describes, checked on the import lines of src/ (type-only
 * imports included): no import cycle, and no import from a lower layer to a higher one.
 */
import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src')

/** Plain data and leaf helpers every layer may use (top-level files of src/). */
const BASE = new Set([
  'constants.ts',
  'error-message.ts',
  'input-error.ts',
  'ledger.ts',
  'log.ts',
  'parallel.ts',
  'plan.ts',
  'report.ts',
  'run-context.ts',
  'secrets.ts',
  'sleep.ts',
  'source-facts.ts',
  'tags.ts',
  'untrusted.ts'
])
const FEATURES = ['build', 'capture', 'targets', 'upload']

type Layer = 'orchestration' | 'feature' | 'azure' | 'base'

function layerOf(file: string): Layer {
  const [first] = file.split('/')
  if (first === 'azure') return 'azure'
  if (FEATURES.includes(first)) return 'feature'
  return BASE.has(file) ? 'base' : 'orchestration'
}

function sourceFiles(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(entry =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith('.ts')
        ? [relative(SRC, join(dir, entry.name)).split('\\').join('/')]
        : []
  )
}

/** file → the src/ files it imports (relative specifiers only). */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>()
  for (const file of sourceFiles()) {
    const text = readFileSync(join(SRC, file), 'utf8')
    const targets = [
      ...text.matchAll(/^(?:import|export)\b[^;]*?\bfrom\s+'(\.{1,2}\/[^']+)'/gms)
    ].map(m =>
      normalize(join(dirname(file), m[1]))
        .split('\\')
        .join('/')
        .replace(/\.js$/, '.ts')
    )
    graph.set(file, [...new Set(targets)])
  }
  return graph
}

/** May a file in layer `from` import one in layer `to` (same folder always may)? */
function allowed(from: string, to: string): boolean {
  const [a, b] = [layerOf(from), layerOf(to)]
  if (dirname(from) === dirname(to) && a !== 'base' && b !== 'orchestration') return true
  switch (a) {
    case 'orchestration':
      return true
    case 'feature':
      return b === 'azure' || b === 'base'
    case 'azure':
      return b === 'base'
    case 'base':
      // Plain types may name the clients and IDs they carry; never a step.
      return b === 'base' || (b === 'azure' && /^azure\/(clients|resource-id)\.ts$/.test(to))
  }
}

describe('src/ layering', () => {
  const graph = importGraph()

  it('reads the import lines of every file', () => {
    expect(graph.size).toBeGreaterThan(40)
    expect(graph.get('main.ts')).toContain('execute.ts')
  })

  it('has no import cycle', () => {
    const cycles: string[] = []
    const state = new Map<string, 'open' | 'done'>()
    const visit = (file: string, path: string[]): void => {
      state.set(file, 'open')
      for (const next of graph.get(file) ?? []) {
        if (state.get(next) === 'open') cycles.push([...path, file, next].join(' → '))
        else if (!state.has(next)) visit(next, [...path, file])
      }
      state.set(file, 'done')
    }
    for (const file of graph.keys()) if (!state.has(file)) visit(file, [])
    expect(cycles).toEqual([])
  })

  it('imports only from its own folder or a lower layer', () => {
    const upward = [...graph].flatMap(([file, targets]) =>
      targets.filter(t => !allowed(file, t)).map(t => `${file} → ${t}`)
    )
    expect(upward).toEqual([])
  })

  it('knows a crossing when it sees one', () => {
    expect(allowed('azure/errors.ts', 'azure/permissions.ts')).toBe(true)
    expect(allowed('azure/errors.ts', 'plan.ts')).toBe(true)
    expect(allowed('azure/permissions.ts', 'preflight.ts')).toBe(false)
    expect(allowed('capture/vm-facts.ts', 'targets/target-regions.ts')).toBe(false)
    expect(allowed('plan.ts', 'inputs.ts')).toBe(false)
  })
})
