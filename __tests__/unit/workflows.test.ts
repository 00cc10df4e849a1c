/**
 * Every workflow in .github/workflows/ and examples/, and action.yml, validated with GitHub's own
 * parser (@actions/workflow-parser: the schema and parser the Actions service and the VS Code
 * extension use), so a file a user copies is a workflow GitHub accepts.
 */
import { describe, expect, it } from '@jest/globals'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser'
import { parseAction } from '@actions/workflow-parser/actions/action-parser'
import { ROOT } from '../support/action-runner.js'

function yamlFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir))
    .filter(f => /\.ya?ml$/.test(f))
    .map(f => join(dir, f))
}

const workflows = [...yamlFiles('.github/workflows'), ...yamlFiles('examples')]

function workflowErrors(name: string, content: string): string[] {
  const result = parseWorkflow({ name, content }, new NoOperationTraceWriter())
  return result.context.errors.getErrors().map(e => e.message)
}

describe("GitHub's workflow parser", () => {
  it('finds the workflows and the examples', () => {
    expect(workflows.filter(f => f.startsWith('examples/')).length).toBeGreaterThanOrEqual(7)
    expect(workflows).toContain(join('.github/workflows', 'release.yml'))
  })

  it.each(workflows)('%s is a valid workflow', file => {
    const content = readFileSync(join(ROOT, file), 'utf8')
    expect(workflowErrors(file, content)).toEqual([])
  })

  it('action.yml is a valid action', () => {
    const content = readFileSync(join(ROOT, 'action.yml'), 'utf8')
    const result = parseAction({ name: 'action.yml', content }, new NoOperationTraceWriter())
    expect(result.context.errors.getErrors().map(e => e.message)).toEqual([])
  })

  it('would catch a broken action.yml (the check can fail)', () => {
    const broken = "name: x\ndescription: y\nruns:\n  usingg: 'node24'\n  main: 'dist/index.js'\n"
    const result = parseAction(
      { name: 'action.yml', content: broken },
      new NoOperationTraceWriter()
    )
    expect(result.context.errors.getErrors().length).toBeGreaterThan(0)
  })

  it('would catch a broken workflow (the check can fail)', () => {
    const broken =
      'on: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    stepz:\n      - run: echo\n'
    expect(workflowErrors('broken.yml', broken).length).toBeGreaterThan(0)
  })
})
