/**
 * `npm run chaos -- --runs N --seed S`: N seeded runs of the bundled action (dist/index.js: main,
 * post, and a re-run attempt where the scenario kills main) against a fresh ARM emulator each, with
 * faults and an interruption drawn from the seed, then the invariants of issue 12 and a table per
 * flow and fault kind (printed, and written to chaos-report.md). `--replay <run seed>` runs exactly
 * one run again; `--concurrency` adds the overlapping-runs cases. Test support, not product: it
 * imports the emulator and __tests__/support, never src/. `--only build` keeps the build runs.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startAzurite } from '../__tests__/support/azurite.js'
import { runSeed } from '../__tests__/chaos/prng.js'
import { describeScenario, scenarioFor } from '../__tests__/chaos/scenario.js'
import { runScenario, type RunRecord } from '../__tests__/chaos/chaos-run.js'
import { campaignReport } from '../__tests__/chaos/report.js'
import { runConcurrencyCases, type CaseResult } from '../__tests__/chaos/concurrency.js'

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}

const replay = arg('replay')
const seed = Number(arg('seed') ?? 1)
const runs = replay ? 1 : Number(arg('runs') ?? 20)
const parallel = Math.max(1, Number(arg('parallel') ?? 1))
const out = arg('out') ?? 'chaos-report.md'
const withConcurrency = process.argv.includes('--concurrency')
const verbose = process.argv.includes('--verbose')
/** Logs of the runs that broke an invariant (git-ignored). */
const logDir = arg('logs') ?? 'chaos-logs'
if (!Number.isInteger(seed) || !Number.isInteger(runs) || runs < 1)
  throw new Error(
    'usage: npm run chaos -- [--runs N] [--seed S] [--only FLOW] [--replay RUNSEED] [--parallel P]'
  )

/**
 * `--only build` (a flow or the start of one): the campaign's run seeds in order, keeping those
 * whose scenario takes such a flow, until there are N. Each still replays on its own.
 */
const only = arg('only')
function campaignSeeds(): number[] {
  if (replay) return [Number(replay)]
  const picked: number[] = []
  for (let i = 0; picked.length < runs && i < runs * 1000; i++) {
    const s = runSeed(seed, i)
    if (!only || scenarioFor(s).flow.startsWith(only)) picked.push(s)
  }
  return picked
}
const seeds = campaignSeeds()
const t0 = Date.now()
const azurite = await startAzurite()
const dir = await mkdtemp(join(tmpdir(), 'chaos-'))
const records: RunRecord[] = []
const cases: CaseResult[] = []
let failed = 0
try {
  let next = 0
  // Ctrl-C (SIGINT) ends the campaign early: runs in flight finish, the table covers those done.
  let stopping = false
  process.once('SIGINT', () => {
    stopping = true
    console.log('Stopping: waiting for the runs in flight, then the report of the runs done.')
  })
  const worker = async (): Promise<void> => {
    for (let i = next++; i < seeds.length && !stopping; i = next++) {
      const scenario = scenarioFor(seeds[i])
      const record = await runScenario(scenario, { azurite, dir })
      records[i] = record
      const mark = record.outcome === 'violation' ? 'VIOLATION' : record.outcome
      console.log(
        `[${i + 1}/${seeds.length}] seed ${scenario.seed} ${mark} (${(record.ms / 1000).toFixed(1)} s) ${describeScenario(scenario)}`
      )
      if (verbose) console.log(`    ${record.armRequests ?? '?'} ARM requests`)
      if (record.error && (verbose || record.outcome === 'violation'))
        console.log(`    ::error:: ${record.error}`)
      if (record.outcome === 'violation') {
        failed++
        for (const v of record.violations) console.log(`    ✗ ${v.split('\n')[0]}`)
        console.log(`    replay: npm run chaos -- --replay ${scenario.seed}`)
        if (record.logs) {
          await mkdir(logDir, { recursive: true })
          await writeFile(join(logDir, `${scenario.seed}.log`), record.logs)
          console.log(`    log: ${join(logDir, `${scenario.seed}.log`)}`)
        }
      }
    }
  }
  await Promise.all(Array.from({ length: parallel }, worker))
  if (withConcurrency && !stopping) {
    cases.push(...(await runConcurrencyCases({ azurite, dir })))
    for (const c of cases) {
      console.log(`concurrency: ${c.name}: ${c.violations.length ? 'VIOLATION' : 'ok'}`)
      for (const r of c.runs) console.log(`    ${r}`)
      for (const v of c.violations) console.log(`    ✗ ${v}`)
      if (c.violations.length) failed++
    }
  }
} finally {
  await azurite.stop()
  await rm(dir, { recursive: true, force: true })
}
const command = replay
  ? `npm run chaos -- --replay ${replay}`
  : `npm run chaos -- --runs ${runs} --seed ${seed}${only ? ` --only ${only}` : ''}`
const done = records.filter(Boolean)
const report = campaignReport(done, cases, {
  seed,
  runs: done.length,
  seconds: (Date.now() - t0) / 1000,
  command
})
console.log('\n' + report)
await writeFile(out, report)
process.exitCode = failed > 0 ? 1 : 0
