/**
 * Release helpers for .github/workflows/release.yml, run directly by Node 24 (type stripping; no
 * local imports, erasable syntax only):
 *   node scripts/release.ts notes v1.2.3 [CHANGELOG.md]   prints the version's changelog section
 *   node scripts/release.ts check-dist                     fails when dist/ differs from a rebuild
 *   node scripts/release.ts major v1.2.3                   prints the major tag to move (v1)
 * The pure functions are unit-tested in __tests__/unit/release.test.ts.
 */
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

export interface ReleaseTag {
  tag: string
  version: string
  major: string
}

/** `v1.2.3` → version 1.2.3, major tag v1. Pre-releases (`v1.2.3-rc.1`) move no major tag. */
export function parseTag(tag: string): ReleaseTag {
  const m = /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/.exec(tag.trim())
  if (!m)
    throw new Error(`'${tag}' is not a release tag: expected vMAJOR.MINOR.PATCH, e.g. v1.2.3.`)
  return { tag: tag.trim(), version: `${m[1]}.${m[2]}.${m[3]}`, major: `v${m[1]}` }
}

/**
 * The body of `## [1.2.3] - 2026-12-01` (Keep a Changelog) up to the next `## ` heading or the
 * link references at the end. Throws when the version has no section or the section is empty.
 */
export function releaseNotes(changelog: string, version: string): string {
  const lines = changelog.replace(/\r\n/g, '\n').split('\n')
  const escaped = version.replace(/\./g, '\\.')
  const heading = new RegExp(`^## \\[?v?${escaped}\\]?(\\s|$)`)
  const start = lines.findIndex(l => heading.test(l))
  if (start < 0) {
    throw new Error(
      `CHANGELOG.md has no section for ${version}: add '## [${version}] - YYYY-MM-DD' with the changes.`
    )
  }
  const body: string[] = []
  for (const line of lines.slice(start + 1)) {
    if (/^## /.test(line) || /^\[[^\]]+\]:\s/.test(line)) break
    body.push(line)
  }
  const notes = body.join('\n').trim()
  if (notes === '') throw new Error(`The CHANGELOG.md section for ${version} is empty.`)
  return `${notes}\n`
}

/** Paths under dist/ that `git status --porcelain` reports as changed after a rebuild. */
export function distDifferences(porcelain: string): string[] {
  return porcelain
    .split('\n')
    .map(l => l.slice(3).trim())
    .filter(path => path === 'dist' || path.startsWith('dist/'))
}

function main(argv: string[]): void {
  const [command, arg, file] = argv
  if (command === 'notes') {
    const { version } = parseTag(arg ?? '')
    process.stdout.write(releaseNotes(readFileSync(file ?? 'CHANGELOG.md', 'utf8'), version))
  } else if (command === 'major') {
    process.stdout.write(`${parseTag(arg ?? '').major}\n`)
  } else if (command === 'check-dist') {
    // Files the build added but git does not track count as differences too.
    execFileSync('git', ['add', '--intent-to-add', '--all', '--', 'dist'])
    const changed = distDifferences(
      execFileSync('git', ['status', '--porcelain', '--', 'dist'], { encoding: 'utf8' })
    )
    if (changed.length > 0) {
      throw new Error(
        `dist/ does not match the sources (${changed.join(', ')}): run 'npm run build' and commit dist/.`
      )
    }
    process.stdout.write('dist/ matches the sources.\n')
  } else {
    throw new Error('usage: release.ts notes <tag> [CHANGELOG.md] | major <tag> | check-dist')
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  try {
    main(process.argv.slice(2))
  } catch (e) {
    process.stdout.write(`::error::${(e as Error).message}\n`)
    process.exit(1)
  }
}
