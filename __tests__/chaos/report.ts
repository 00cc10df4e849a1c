/** The campaign's table: per flow and per fault kind, runs, successes, expected failures, violations. */
import { FAULT_KINDS, FLOWS, INTERRUPTIONS } from './scenario.js'
import type { RunRecord } from './chaos-run.js'
import type { CaseResult } from './concurrency.js'

interface Row {
  runs: number
  successes: number
  expected: number
  violations: number
}

function tally(records: RunRecord[]): Row {
  return {
    runs: records.length,
    successes: records.filter(r => r.outcome === 'success').length,
    expected: records.filter(r => r.outcome === 'expected-failure').length,
    violations: records.filter(r => r.outcome === 'violation').length
  }
}

function table(title: string, rows: Array<[string, Row]>): string[] {
  return [
    `| ${title} | runs | successes | expected failures | invariant violations |`,
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows
      .filter(([, r]) => r.runs > 0)
      .map(([k, r]) => `| ${k} | ${r.runs} | ${r.successes} | ${r.expected} | ${r.violations} |`)
  ]
}

export function campaignReport(
  records: RunRecord[],
  cases: CaseResult[],
  meta: { seed: number; runs: number; seconds: number; command: string }
): string {
  const perFlow = FLOWS.map(
    f => [f, tally(records.filter(r => r.scenario.flow === f))] as [string, Row]
  )
  const perFault = FAULT_KINDS.map(
    k => [k, tally(records.filter(r => r.scenario.faults.some(f => f.kind === k)))] as [string, Row]
  )
  const perStop = INTERRUPTIONS.map(
    k => [k, tally(records.filter(r => r.scenario.interruption.kind === k))] as [string, Row]
  )
  const builds = records.filter(r => r.scenario.build)
  const perBuild: Array<[string, Row]> = [
    ['Linux', tally(builds.filter(r => r.scenario.build?.os === 'Linux'))],
    ['Windows', tally(builds.filter(r => r.scenario.build?.os === 'Windows'))],
    ['subnet-id given', tally(builds.filter(r => r.scenario.build?.subnet))],
    ['temporary network', tally(builds.filter(r => !r.scenario.build?.subnet))],
    ['a failing script', tally(builds.filter(r => r.scenario.build?.failingScript))],
    ...(['on-failure', 'true'] as const).map(
      k =>
        [`keep-build-vm: ${k}`, tally(builds.filter(r => r.scenario.build?.keepBuildVm === k))] as [
          string,
          Row
        ]
    )
  ]
  const total = tally(records)
  const failing = records.filter(r => r.outcome === 'violation')
  const perRun = records.length ? meta.seconds / records.length : 0
  return [
    `# Chaos campaign: seed ${meta.seed}, ${meta.runs} runs`,
    '',
    `\`${meta.command}\` — ${total.runs} runs in ${meta.seconds.toFixed(0)} s (${perRun.toFixed(1)} s per run): ` +
      `${total.successes} successes, ${total.expected} expected failures, ${total.violations} with invariant violations.`,
    '',
    ...table('flow', perFlow),
    '',
    ...(builds.length ? [...table('build runs', perBuild), ''] : []),
    ...table('fault kind (runs with at least one)', perFault),
    '',
    ...table('interruption', perStop),
    '',
    ...(cases.length
      ? [
          '| overlapping runs | result |',
          '| --- | --- |',
          ...cases.map(
            c =>
              `| ${c.name} | ${c.violations.length ? `✗ ${c.violations.join('; ')}` : `ok: ${c.runs.join('; ')}`} |`
          ),
          ''
        ]
      : []),
    ...(failing.length
      ? [
          '## Runs that broke an invariant',
          '',
          ...failing.flatMap(r => [
            `- run seed ${r.scenario.seed}: replay with \`npm run chaos -- --replay ${r.scenario.seed}\``,
            ...r.violations.map(x => `  - ${x.split('\n')[0]}`)
          ])
        ]
      : ['No invariant was broken.']),
    ''
  ].join('\n')
}
