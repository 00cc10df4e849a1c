import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { distDifferences, parseTag, releaseNotes } from '../../scripts/release.js'
import { ROOT } from '../support/action-runner.js'

const CHANGELOG = `# Changelog

All notable changes are documented here.

## [Unreleased]

### Added
- Something not released yet.

## [1.2.3] - 2026-12-01

### Fixed
- The thing that was broken.

### Added
- A new input.

## [1.2.2] - 2026-11-20

### Fixed
- An older fix.

[Unreleased]: https://github.com/o/r/compare/v1.2.3...HEAD
[1.2.3]: https://github.com/o/r/compare/v1.2.2...v1.2.3
`

describe('parseTag', () => {
  it('reads vMAJOR.MINOR.PATCH and names the major tag to move', () => {
    expect(parseTag('v1.2.3')).toEqual({ tag: 'v1.2.3', version: '1.2.3', major: 'v1' })
    expect(parseTag('v10.0.0').major).toBe('v10')
  })

  it.each(['1.2.3', 'v1.2', 'v1.2.3-rc.1', 'v01.2.3', 'v1', 'latest'])('refuses %s', tag => {
    expect(() => parseTag(tag)).toThrow(/not a release tag/)
  })
})

describe('releaseNotes', () => {
  it("returns the version's section without its heading, up to the next version", () => {
    expect(releaseNotes(CHANGELOG, '1.2.3')).toBe(
      '### Fixed\n- The thing that was broken.\n\n### Added\n- A new input.\n'
    )
  })

  it('stops at the link references after the last section', () => {
    const last = CHANGELOG.replace(/## \[1\.2\.2\][\s\S]*?(?=\[Unreleased\]:)/, '')
    expect(releaseNotes(last, '1.2.3')).toBe(
      '### Fixed\n- The thing that was broken.\n\n### Added\n- A new input.\n'
    )
  })

  it('does not take 1.2.30 for 1.2.3', () => {
    const other = CHANGELOG.replace('## [1.2.3] - 2026-12-01', '## [1.2.30] - 2026-12-01')
    expect(() => releaseNotes(other, '1.2.3')).toThrow(/no section for 1\.2\.3/)
  })

  it('refuses a missing or empty section', () => {
    expect(() => releaseNotes(CHANGELOG, '9.9.9')).toThrow(
      "CHANGELOG.md has no section for 9.9.9: add '## [9.9.9] - YYYY-MM-DD' with the changes."
    )
    expect(() => releaseNotes('## [2.0.0] - 2027-01-01\n\n## [1.0.0]\n- x\n', '2.0.0')).toThrow(
      /section for 2\.0\.0 is empty/
    )
  })

  it("reads this repository's CHANGELOG.md: Keep a Changelog with an Unreleased section", () => {
    const text = readFileSync(join(ROOT, 'CHANGELOG.md'), 'utf8')
    expect(text).toMatch(/keepachangelog\.com/)
    expect(releaseNotes(text, 'Unreleased')).toMatch(/^### /)
  })
})

describe('distDifferences', () => {
  it('lists changed, added and deleted files under dist/ only', () => {
    const porcelain = [
      ' M dist/index.js',
      'A  dist/new.js',
      ' D dist/old.js',
      ' M src/main.ts',
      ''
    ].join('\n')
    expect(distDifferences(porcelain)).toEqual(['dist/index.js', 'dist/new.js', 'dist/old.js'])
    expect(distDifferences('')).toEqual([])
  })
})
