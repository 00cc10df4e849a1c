/**
 * The published face of the action agrees with itself: action.yml is listable on the Marketplace,
 * every input and output has a constant in src/constants.ts and a row in the README's tables (and
 * nothing is documented or named that action.yml lacks), and the role files in docs/roles/ are
 * what the permissions table the preflight checks says (`npm run roles` writes them).
 */
import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { Inputs, Outputs } from '../../src/constants.js'
import { requiredActions, type CustomRoleDefinition } from '../../src/azure/permissions.js'
import { ADD_ON_ROLES, CORE_ROLES, corePlan, roleFiles } from '../../src/azure/role-files.js'
import { ROOT } from '../support/action-runner.js'

interface ActionYaml {
  name?: string
  author?: string
  description?: string
  branding?: { icon?: string; color?: string }
  inputs: Record<string, { description?: string; default?: unknown; required?: unknown }>
  outputs: Record<string, { description?: string }>
  runs: { using: string; main: string; post?: string }
}

const action = parse(readFileSync(join(ROOT, 'action.yml'), 'utf8')) as ActionYaml
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')

/** Names in the first column of the tables under a `## <heading>` (up to the next `## `). */
function tableNames(heading: string): string[] {
  const start = readme.search(new RegExp(`^## ${heading}\\s*$`, 'm'))
  expect(start).toBeGreaterThanOrEqual(0)
  const rest = readme.slice(start + 3)
  const end = rest.search(/^## /m)
  const section = end < 0 ? rest : rest.slice(0, end)
  return [...section.matchAll(/^\| `([a-z0-9-]+)`/gm)].map(m => m[1])
}

const sorted = (xs: Iterable<string>): string[] => [...xs].sort()

describe('action.yml for the Marketplace', () => {
  it('has a name, an author and a description under 125 characters', () => {
    // Marketplace refuses 125 or more: "Description must be less than 125 characters".
    expect(action.name?.trim()).toBeTruthy()
    expect(action.author?.trim()).toBeTruthy()
    expect(action.description?.trim()).toBeTruthy()
    expect((action.description ?? '').length).toBeLessThan(125)
  })

  it('has branding with one of the colours GitHub allows and a Feather icon name', () => {
    // docs.github.com "Metadata syntax for GitHub Actions" → branding.color.
    const colours = [
      'white',
      'black',
      'yellow',
      'blue',
      'green',
      'orange',
      'red',
      'purple',
      'gray-dark'
    ]
    expect(colours).toContain(action.branding?.color)
    expect(action.branding?.icon).toMatch(/^[a-z][a-z0-9-]*$/)
  })

  it('runs on node24 with a post step, as the contract says', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'dist/index.js', post: 'dist/index.js' })
  })

  it('describes every input and output', () => {
    for (const [name, spec] of Object.entries({ ...action.inputs, ...action.outputs })) {
      expect([name, (spec.description ?? '').trim().length > 0]).toEqual([name, true])
    }
  })
})

describe('action.yml ↔ src/constants.ts ↔ README', () => {
  it('every input has a constant, and every constant an input', () => {
    expect(sorted(Object.values(Inputs))).toEqual(sorted(Object.keys(action.inputs)))
  })

  it('every output has a constant, and every constant an output', () => {
    expect(sorted(Object.values(Outputs))).toEqual(sorted(Object.keys(action.outputs)))
  })

  it('every input has exactly one README row under "Inputs", and every row an input', () => {
    const rows = tableNames('Inputs')
    expect(rows.length).toBe(new Set(rows).size)
    expect(sorted(rows)).toEqual(sorted(Object.keys(action.inputs)))
  })

  it('every output has exactly one README row under "Outputs", and every row an output', () => {
    const rows = tableNames('Outputs')
    expect(rows.length).toBe(new Set(rows).size)
    expect(sorted(rows)).toEqual(sorted(Object.keys(action.outputs)))
  })

  it("the README's input tables show action.yml's defaults", () => {
    const start = readme.search(/^## Inputs\s*$/m)
    const section = readme.slice(start, start + readme.slice(start + 3).search(/^## /m) + 3)
    for (const [name, spec] of Object.entries(action.inputs)) {
      const row = section.split('\n').find(l => l.startsWith(`| \`${name}\``)) ?? ''
      const cells = row.split(/(?<!\\)\|/).map(c => c.trim())
      // | name | required | default | description |
      const expected = spec.default === undefined ? '' : `\`${String(spec.default)}\``
      expect([name, cells[3]]).toEqual([name, expected])
    }
  })
})

describe('docs/roles/ ↔ the permissions table', () => {
  const dir = join(ROOT, 'docs', 'roles')
  const onDisk = Object.fromEntries(
    readdirSync(dir)
      .filter(f => f.endsWith('.json'))
      .map(f => [f, JSON.parse(readFileSync(join(dir, f), 'utf8')) as CustomRoleDefinition])
  )

  it('holds exactly the generated role files, with the same content (run `npm run roles`)', () => {
    const generated = roleFiles()
    expect(sorted(Object.keys(onDisk))).toEqual(sorted(Object.keys(generated)))
    for (const [name, role] of Object.entries(generated)) {
      expect([name, onDisk[name]]).toEqual([name, role])
    }
  })

  it.each(CORE_ROLES)(
    'the core role %s grants every action a default run of its mode needs',
    mode => {
      const role = onDisk[`${mode}.json`]
      const granted = new Set(role.Actions.map(a => a.toLowerCase()))
      for (const r of requiredActions(corePlan(mode))) {
        for (const a of r.actions) expect([a, granted.has(a.toLowerCase())]).toEqual([a, true])
        for (const a of r.dataActions) expect(role.DataActions).toContain(a)
      }
    }
  )

  it('add-ons are disjoint from the capture core role and not empty', () => {
    const core = new Set(onDisk['capture.json'].Actions)
    for (const name of ADD_ON_ROLES) {
      const actions = onDisk[`add-on-${name}.json`].Actions
      expect([name, actions.length > 0]).toEqual([name, true])
      expect(actions.filter(a => core.has(a))).toEqual([])
    }
  })

  it('the README links every role file', () => {
    for (const name of Object.keys(onDisk)) expect(readme).toContain(`docs/roles/${name}`)
  })
})
