import { describe, expect, it } from '@jest/globals'
import { knownCloud } from '../../src/azure/clouds.js'
import { emptyReport, type Report } from '../../src/report.js'
import { renderSummary } from '../../src/summary.js'

const IMAGE =
  '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.Compute/images/img'
const SNAP =
  '/subscriptions/11111111-2222-3333-4444-555555555555/resourceGroups/rg/providers/Microsoft.Compute/snapshots/golden-os-backup-1-1'

function report(over: Partial<Report> = {}): Report {
  return { ...emptyReport(), ...over }
}

describe('renderSummary', () => {
  it('renders only the title for an empty successful report', () => {
    expect(renderSummary(emptyReport(), undefined, { ok: true, title: 'Image created' })).toBe(
      '## ✅ Image created\n'
    )
  })

  it('renders a failure title and the error as a quote on one line', () => {
    const md = renderSummary(emptyReport(), undefined, {
      ok: false,
      title: 'Capture failed',
      error: 'first line\nsecond | line'
    })
    expect(md.split('\n').slice(0, 3)).toEqual([
      '## ❌ Capture failed',
      '',
      '> first line second \\| line'
    ])
  })

  it('renders the whole report in order: created, outputs, sections, steps, notes', () => {
    const md = renderSummary(
      report({
        created: [
          { kind: 'Managed image', id: IMAGE, location: 'eastus' },
          { kind: 'Backup snapshot', id: SNAP }
        ],
        outputs: { 'image-id': IMAGE, 'uploaded-bytes': '1024' },
        sections: [{ title: 'Replication', markdown: '| Region | State |\n|---|---|' }],
        steps: [
          { name: 'Read VM', ms: 1500, outcome: 'ok' },
          { name: 'Capture', ms: 61_000, outcome: 'failed' },
          { name: 'Publish', ms: 3_723_000, outcome: 'skipped' }
        ],
        notes: ["VM 'golden' was generalized and can no longer be started."]
      }),
      knownCloud('AzureCloud'),
      { ok: true, title: 'Image created' }
    )
    expect(md).toBe(
      [
        '## ✅ Image created',
        '',
        '### Created',
        '',
        '| Resource | ID | Location |',
        '|---|---|---|',
        `| Managed image | [\`${IMAGE}\`](https://portal.azure.com/#@/resource${IMAGE}) | eastus |`,
        `| Backup snapshot | [\`${SNAP}\`](https://portal.azure.com/#@/resource${SNAP}) |  |`,
        '',
        '### Outputs',
        '',
        '| Output | Value |',
        '|---|---|',
        `| \`image-id\` | \`${IMAGE}\` |`,
        '| `uploaded-bytes` | `1024` |',
        '',
        '### Replication',
        '',
        '| Region | State |\n|---|---|',
        '',
        '### Steps',
        '',
        '| Step | Duration | Outcome |',
        '|---|---|---|',
        '| Read VM | 2s | ok |',
        '| Capture | 1m 01s | failed |',
        '| Publish | 1h 02m | skipped |',
        '',
        '### State left behind',
        '',
        "- VM 'golden' was generalized and can no longer be started.",
        ''
      ].join('\n')
    )
  })

  it('links created resources into the portal of their cloud', () => {
    const md = renderSummary(
      report({ created: [{ kind: 'Managed image', id: IMAGE }] }),
      knownCloud('AzureUSGovernment'),
      { ok: true, title: 't' }
    )
    expect(md).toContain(`(https://portal.azure.us/#@/resource${IMAGE})`)
  })

  it('shows IDs without links when the cloud is unknown', () => {
    const md = renderSummary(
      report({ created: [{ kind: 'Managed image', id: IMAGE }] }),
      undefined,
      {
        ok: false,
        title: 't'
      }
    )
    expect(md).toContain(`| Managed image | \`${IMAGE}\` |  |`)
    expect(md).not.toContain('portal')
  })

  it('escapes pipes and flattens newlines in table cells', () => {
    const md = renderSummary(
      report({
        created: [{ kind: 'Odd|kind', id: 'id|with|pipes' }],
        outputs: { out: 'a|b\nc' },
        steps: [{ name: 'Step | one\ntwo', ms: 0, outcome: 'ok' }]
      }),
      undefined,
      { ok: true, title: 't' }
    )
    expect(md).toContain('| Odd\\|kind | `id\\|with\\|pipes` |  |')
    expect(md).toContain('| `out` | `a\\|b c` |')
    expect(md).toContain('| Step \\| one two | 0s | ok |')
    // Every table row still has exactly its columns' unescaped separators.
    for (const row of md.split('\n').filter(l => l.startsWith('| '))) {
      const separators = row.replace(/\\\|/g, '').match(/\|/g) ?? []
      expect([3, 4]).toContain(separators.length)
    }
  })

  it('leaves out empty parts', () => {
    const md = renderSummary(report({ notes: ['n'] }), undefined, { ok: true, title: 't' })
    expect(md).not.toContain('### Created')
    expect(md).not.toContain('### Outputs')
    expect(md).not.toContain('### Steps')
    expect(md).toContain('### State left behind\n\n- n\n')
  })
})
