import { describe, expect, it } from '@jest/globals'
import { ProvenanceTag } from '../../src/constants.js'
import type { RunIdentity } from '../../src/plan.js'
import {
  buildTags,
  isFromRun,
  isOwnedBy,
  madeBy,
  parseTags,
  provenanceTags
} from '../../src/tags.js'

const run: RunIdentity = {
  repository: 'contoso/golden-images',
  sha: '0123456789abcdef0123456789abcdef01234567',
  ref: 'refs/heads/main',
  workflow: 'nightly',
  runId: '12345678901',
  runAttempt: 2,
  runNumber: 42
}

const lines = (n: number): string => Array.from({ length: n }, (_, i) => `k${i}=v${i}`).join('\n')

describe('parseTags', () => {
  it('reads key=value lines, trimming around keys and values', () => {
    expect(parseTags('team=infra\n  cost-center = 42  \r\nempty=\n\n')).toEqual({
      team: 'infra',
      'cost-center': '42',
      empty: ''
    })
  })

  it('is empty for an empty input', () => {
    expect(parseTags('')).toEqual({})
    expect(parseTags('\n  \n')).toEqual({})
  })

  it('keeps = signs in values', () => {
    expect(parseTags('query=a=b&c=d')).toEqual({ query: 'a=b&c=d' })
  })

  it('keeps the last value of a repeated key', () => {
    expect(parseTags('a=1\na=2')).toEqual({ a: '2' })
  })

  it.each(['no-equals', '=value', ' = value'])('refuses %j, which is not key=value', line => {
    expect(() => parseTags(line)).toThrow(`expected key=value lines, got '${line.trim()}'.`)
  })

  it.each(['a<b', 'a>b', 'a%b', 'a&b', 'a\\b', 'a?b', 'a/b'])('refuses the tag name %j', key => {
    expect(() => parseTags(`${key}=v`)).toThrow(`tag name '${key}' is over 512 characters`)
  })

  it('accepts a 512-character name and a 256-character value, and no longer', () => {
    const name = 'n'.repeat(512)
    const value = 'v'.repeat(256)
    expect(parseTags(`${name}=${value}`)).toEqual({ [name]: value })
    expect(() => parseTags(`${name}x=v`)).toThrow(/over 512 characters/)
    expect(() => parseTags(`k=${value}x`)).toThrow("the value of tag 'k' is over 256 characters.")
  })

  it('accepts 50 tags and refuses 51', () => {
    expect(Object.keys(parseTags(lines(50)))).toHaveLength(50)
    expect(() => parseTags(lines(51))).toThrow('Azure allows at most 50 tags.')
  })
})

describe('provenanceTags', () => {
  it('records the repository, commit, ref, workflow, run id and attempt', () => {
    expect(provenanceTags(run)).toEqual({
      'github-repository': 'contoso/golden-images',
      'github-sha': '0123456789abcdef0123456789abcdef01234567',
      'github-ref': 'refs/heads/main',
      'github-workflow': 'nightly',
      'github-run-id': '12345678901',
      'github-run-attempt': '2'
    })
  })

  it('cuts a long ref and workflow name to the 256 characters a tag value may hold', () => {
    const tags = provenanceTags({
      ...run,
      ref: `refs/heads/${'b'.repeat(300)}`,
      workflow: 'w'.repeat(300)
    })
    expect(tags[ProvenanceTag.Ref]).toHaveLength(256)
    expect(tags[ProvenanceTag.Ref].startsWith('refs/heads/b')).toBe(true)
    expect(tags[ProvenanceTag.Workflow]).toHaveLength(256)
  })
})

describe('buildTags', () => {
  it('adds the provenance tags to the user’s tags', () => {
    expect(buildTags({ team: 'infra' }, run)).toEqual({ team: 'infra', ...provenanceTags(run) })
  })

  it('lets provenance tags win over a user tag of the same name', () => {
    expect(buildTags({ 'github-run-id': 'forged' }, run)['github-run-id']).toBe('12345678901')
  })

  it('keeps only github-run-id of the provenance tags when they are turned off', () => {
    expect(buildTags({ a: '1' }, run, { provenance: false })).toEqual({
      a: '1',
      'github-run-id': '12345678901'
    })
  })

  it('keeps room for the tags a resource adds of its own', () => {
    const tags = (n: number): Record<string, string> => parseTags(lines(n))
    expect(Object.keys(buildTags(tags(40), run, { provenance: true, reserved: 4 }))).toHaveLength(
      46
    )
    expect(() => buildTags(tags(41), run, { provenance: true, reserved: 4 })).toThrow(
      "Azure allows at most 50 tags on a resource; with the action's own tags there would be 51."
    )
  })

  it('allows 44 user tags with the 6 provenance tags, and refuses 45', () => {
    const tags = (n: number): Record<string, string> => parseTags(lines(n))
    expect(Object.keys(buildTags(tags(44), run))).toHaveLength(50)
    expect(() => buildTags(tags(45), run)).toThrow(
      "Azure allows at most 50 tags on a resource; with the action's own tags there would be 51."
    )
    expect(Object.keys(buildTags(tags(49), run, { provenance: false }))).toHaveLength(50)
  })

  it('does not change the user’s tags', () => {
    const user = { a: '1' }
    buildTags(user, run)
    expect(user).toEqual({ a: '1' })
  })
})

describe('isFromRun', () => {
  it('matches on the github-run-id tag only', () => {
    expect(isFromRun(provenanceTags(run), '12345678901')).toBe(true)
    expect(isFromRun({ ...provenanceTags(run), 'github-run-attempt': '9' }, '12345678901')).toBe(
      true
    )
    expect(isFromRun(provenanceTags(run), '12345678902')).toBe(false)
    expect(isFromRun({ 'github-run-id': '1234567890' }, '12345678901')).toBe(false)
    expect(isFromRun({}, '12345678901')).toBe(false)
    expect(isFromRun(undefined, '12345678901')).toBe(false)
  })
})

describe('madeBy (issue 14)', () => {
  const owner = { runId: '42', key: 'k', attempt: 2 }
  it('an earlier attempt of this job only by the exact owner key, in a later attempt', () => {
    expect(madeBy({ 'github-run-id': '42', 'github-owner-key': 'k' }, owner)).toBe(
      'earlier-attempt'
    )
    expect(madeBy({ 'github-owner-key': 'k' }, { ...owner, attempt: 1 })).toBe('same-run')
  })
  it('another job of this run by the run id alone: a bare run-id match is never ours', () => {
    expect(madeBy({ 'github-run-id': '42' }, owner)).toBe('same-run')
    expect(madeBy({ 'github-run-id': '42', 'github-owner-key': 'other' }, owner)).toBe('same-run')
    expect(isOwnedBy({ 'github-run-id': '42' }, 'k')).toBe(false)
  })
  it('anyone else otherwise', () => {
    expect(madeBy({ 'github-run-id': '7', 'github-owner-key': 'x' }, owner)).toBe('other')
    expect(madeBy(undefined, owner)).toBe('other')
  })
})
