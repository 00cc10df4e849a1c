/** The job summary: what was created (with portal links), outputs, step durations and notes. */
import { portalLink, type Cloud } from './azure/clouds.js'
import { formatDuration } from './log.js'
import type { Report } from './report.js'

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ')

export function renderSummary(
  report: Report,
  cloud: Cloud | undefined,
  outcome: { ok: boolean; title: string; error?: string }
): string {
  const lines: string[] = [`## ${outcome.ok ? '✅' : '❌'} ${outcome.title}`, '']
  if (outcome.error) lines.push(`> ${cell(outcome.error)}`, '')
  if (report.created.length > 0) {
    lines.push('### Created', '', '| Resource | ID | Location |', '|---|---|---|')
    for (const r of report.created) {
      const id = cloud ? `[\`${cell(r.id)}\`](${portalLink(cloud, r.id)})` : `\`${cell(r.id)}\``
      lines.push(`| ${cell(r.kind)} | ${id} | ${r.location ?? ''} |`)
    }
    lines.push('')
  }
  const outputs = Object.entries(report.outputs)
  if (outputs.length > 0) {
    lines.push('### Outputs', '', '| Output | Value |', '|---|---|')
    for (const [k, v] of outputs) lines.push(`| \`${k}\` | \`${cell(v)}\` |`)
    lines.push('')
  }
  for (const section of report.sections)
    lines.push(`### ${section.title}`, '', section.markdown, '')
  if (report.steps.length > 0) {
    lines.push('### Steps', '', '| Step | Duration | Outcome |', '|---|---|---|')
    for (const s of report.steps)
      lines.push(`| ${cell(s.name)} | ${formatDuration(s.ms)} | ${s.outcome} |`)
    lines.push('')
  }
  if (report.notes.length > 0) {
    lines.push('### State left behind', '')
    for (const n of report.notes) lines.push(`- ${n}`)
    lines.push('')
  }
  return lines.join('\n')
}
