import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  MAX_SCRIPT_BYTES,
  checkScriptSize,
  isInside,
  readCustomizeScripts
} from '../../../src/build/customize-scripts.js'
import { InputError } from '../../../src/input-error.js'

let root: string
let workspace: string

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'customize-scripts-'))
  workspace = join(root, 'repo')
  mkdirSync(join(workspace, 'scripts'), { recursive: true })
  writeFileSync(join(workspace, 'scripts', 'one.sh'), 'echo one\n')
  writeFileSync(join(workspace, 'scripts', 'two.ps1'), 'Write-Output two\r\n')
  writeFileSync(join(workspace, 'scripts', 'empty.sh'), '  \n\n')
  writeFileSync(join(workspace, 'exact.sh'), 'x'.repeat(MAX_SCRIPT_BYTES))
  // 2-byte characters: 131,073 of them are 262,146 bytes, 2 over the limit.
  writeFileSync(join(workspace, 'big.sh'), 'é'.repeat(MAX_SCRIPT_BYTES / 2 + 1))
  writeFileSync(join(root, 'outside.sh'), 'echo outside\n')
  symlinkSync(join(root, 'outside.sh'), join(workspace, 'scripts', 'escape.sh'))
  symlinkSync(join(workspace, 'scripts', 'one.sh'), join(workspace, 'link-to-one.sh'))
  mkdirSync(join(workspace, 'dir.sh'))
})
afterAll(() => rmSync(root, { recursive: true, force: true }))

async function refusal(paths: string[], inline?: string): Promise<InputError> {
  const error = await readCustomizeScripts({ paths, inline, workspace }).then(
    () => undefined,
    (e: unknown) => e
  )
  expect(error).toBeInstanceOf(InputError)
  return error as InputError
}

describe('readCustomizeScripts', () => {
  it('reads the files in the listed order, then the inline script, named as the user wrote them', async () => {
    const scripts = await readCustomizeScripts({
      paths: ['scripts/two.ps1', '', '  scripts/one.sh  ', 'scripts/one.sh'],
      inline: 'echo inline\n',
      workspace
    })
    expect(scripts).toEqual([
      { name: 'scripts/two.ps1', content: 'Write-Output two\r\n' },
      { name: 'scripts/one.sh', content: 'echo one\n' },
      { name: 'scripts/one.sh', content: 'echo one\n' },
      { name: 'customize', content: 'echo inline\n' }
    ])
  })

  it('accepts an absolute path inside the workspace and a link to a file inside it', async () => {
    const scripts = await readCustomizeScripts({
      paths: [join(workspace, 'scripts', 'one.sh'), 'link-to-one.sh'],
      workspace
    })
    expect(scripts.map(s => s.name)).toEqual(['scripts/one.sh', 'link-to-one.sh'])
    expect(scripts[1].content).toBe('echo one\n')
  })

  it('reads nothing when neither input is set (a blank inline script is none)', async () => {
    expect(await readCustomizeScripts({ paths: [], inline: ' \n', workspace })).toEqual([])
    // No workspace needed then.
    expect(
      await readCustomizeScripts({ paths: [], inline: 'ls', workspace: join(root, 'none') })
    ).toEqual([{ name: 'customize', content: 'ls' }])
  })

  it('refuses a missing file, naming the input and the file', async () => {
    const e = await refusal(['scripts/one.sh', 'scripts/missing.sh'])
    expect(e.input).toBe('customize-scripts')
    expect(e.message).toMatch(/^Input 'customize-scripts': 'scripts\/missing\.sh' does not exist/)
  })

  it('refuses a path that leaves the workspace, relative or absolute', async () => {
    expect((await refusal(['../outside.sh'])).message).toMatch(
      /'\.\.\/outside\.sh' is outside the workspace/
    )
    expect((await refusal([join(root, 'outside.sh')])).message).toMatch(/is outside the workspace/)
  })

  it('refuses a link that leads out of the workspace (symlinks resolved)', async () => {
    expect((await refusal(['scripts/escape.sh'])).message).toMatch(
      /'scripts\/escape\.sh' is a link to a file outside the workspace/
    )
  })

  it('refuses a directory and an empty script', async () => {
    expect((await refusal(['dir.sh'])).message).toMatch(/'dir\.sh' is a directory/)
    expect((await refusal(['scripts/empty.sh'])).message).toMatch(/'scripts\/empty\.sh' is empty/)
  })

  it('takes a script of exactly the limit and refuses one over it, saying by how much', async () => {
    expect(await readCustomizeScripts({ paths: ['exact.sh'], workspace })).toHaveLength(1)
    const e = await refusal(['exact.sh', 'big.sh'])
    expect(e.message).toBe(
      "Input 'customize-scripts': 'big.sh' is 262,146 bytes, 2 bytes over the 262,144-byte (256 KiB) limit of a Run Command script. Split it, or let a smaller script download the rest."
    )
  })

  it('refuses an inline script over the limit as the input customize', async () => {
    const e = await refusal([], 'y'.repeat(MAX_SCRIPT_BYTES + 10))
    expect(e.input).toBe('customize')
    expect(e.message).toMatch(/^Input 'customize': the inline script is 262,154 bytes, 10 bytes over/)
  })

  it('defuses a file name that carries workflow commands', async () => {
    const e = await refusal(['::error::evil\n.sh'])
    expect(e.message).not.toContain('::')
    expect(e.message).not.toContain('\n')
  })

  it('refuses everything when the workspace itself is missing', async () => {
    const error = await readCustomizeScripts({
      paths: ['a.sh'],
      workspace: join(root, 'no-such-workspace')
    }).catch((e: unknown) => e)
    expect((error as InputError).message).toMatch(/the workspace directory does not exist/)
  })
})

describe('checkScriptSize and isInside', () => {
  it('counts UTF-8 bytes, not characters', () => {
    expect(() => checkScriptSize('customize', 'customize', '€'.repeat(87_381))).not.toThrow()
    expect(() => checkScriptSize('customize', 'customize', '€'.repeat(87_382))).toThrow(
      /262,146 bytes, 2 bytes over/
    )
  })

  it('tells inside from outside without being fooled by a shared prefix', () => {
    expect(isInside('/w/repo', '/w/repo')).toBe(true)
    expect(isInside('/w/repo', '/w/repo/a/b.sh')).toBe(true)
    expect(isInside('/w/repo', '/w/repo2/b.sh')).toBe(false)
    expect(isInside('/w/repo', '/w/b.sh')).toBe(false)
    expect(isInside('/w/repo', '/w/repo/..foo')).toBe(true)
  })
})
