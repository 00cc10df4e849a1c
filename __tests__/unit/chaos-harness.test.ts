/**
 * The chaos harness's own logic (scripts/chaos.ts, __tests__/chaos/): a seed replays the same run,
 * and the byte check of an upload's source tells the file's bytes from anything else.
 */
import { describe, expect, it } from '@jest/globals'
import { rng, runSeed } from '../chaos/prng.js'
import { FLOWS, scenarioFor } from '../chaos/scenario.js'
import { compareUpload } from '../chaos/chaos-run.js'
import { vhdFooter, virtualDisk } from '../chaos/disk-files.js'

describe('seeds', () => {
  it('draw the same numbers, runs and scenarios every time, and different ones for other seeds', () => {
    const draw = (seed: number): number[] => Array.from({ length: 5 }, rng(seed).next)
    expect(draw(7)).toEqual(draw(7))
    expect(draw(7)).not.toEqual(draw(8))
    expect(runSeed(3, 10)).toBe(runSeed(3, 10))
    expect(new Set(Array.from({ length: 50 }, (_, i) => runSeed(3, i))).size).toBe(50)
    expect(scenarioFor(runSeed(3, 4))).toEqual(scenarioFor(runSeed(3, 4)))
  })

  it('cover every flow and at least one fault in a few dozen runs', () => {
    const scenarios = Array.from({ length: 60 }, (_, i) => scenarioFor(runSeed(1, i)))
    expect(new Set(scenarios.map(s => s.flow))).toEqual(new Set(FLOWS))
    expect(scenarios.every(s => s.faults.length >= 1 && s.faults.length <= 3)).toBe(true)
    // Page faults only where there are page writes.
    for (const s of scenarios.filter(x => x.flow.startsWith('capture')))
      expect(s.faults.some(f => f.kind.startsWith('page-') || f.kind === 'blob-drop')).toBe(false)
  })
})

describe('build runs', () => {
  const scenarios = Array.from({ length: 200 }, (_, i) => scenarioFor(runSeed(31, i)))
  const builds = scenarios.filter(s => s.flow.startsWith('build'))

  it('carry their options, and only they do; their faults are ARM faults aimed at a part of the build', () => {
    expect(builds.length).toBeGreaterThan(50)
    for (const s of scenarios) expect(s.build !== undefined).toBe(s.flow.startsWith('build'))
    for (const s of builds) {
      expect(s.faults.some(f => f.kind.startsWith('page-') || f.kind === 'blob-drop')).toBe(false)
      expect(s.faults.every(f => f.target !== undefined)).toBe(true)
    }
    const seen = (pick: (s: (typeof builds)[number]) => unknown): Set<unknown> =>
      new Set(builds.map(pick))
    expect(seen(s => s.build?.os)).toEqual(new Set(['Linux', 'Windows']))
    expect(seen(s => s.build?.subnet)).toEqual(new Set([true, false]))
    expect(seen(s => s.build?.failingScript)).toEqual(new Set([true, false]))
    expect(seen(s => s.build?.keepBuildVm)).toEqual(new Set(['false', 'on-failure', 'true']))
    expect(new Set(builds.flatMap(s => s.faults.map(f => f.target)))).toEqual(
      new Set(['any', 'network', 'vm-create', 'run-command', 'delete'])
    )
  })

  it('leave the other seeds as they were drawn before build mode joined (pinned from that draw)', () => {
    // Run 0 of campaign 31 drew this before the build flows existed; it is not a build run.
    expect(scenarios[0]).toMatchObject({
      seed: 1586713681,
      flow: 'upload-disk',
      format: 'raw',
      uploadTarget: 'image',
      faults: [
        { kind: 'operation-failed', after: 2, times: 1 },
        { kind: 'expired-401', after: 29, times: 1 }
      ]
    })
  })
})

describe('the check of what an image was made from', () => {
  const disk = virtualDisk(42)
  const footer = vhdFooter(disk.length, 'fixed', 42)

  it("accepts the file's bytes with a fixed VHD footer", () => {
    expect(compareUpload(Buffer.concat([disk, footer]), { disk })).toEqual({ ok: true })
    expect(compareUpload(Buffer.concat([disk, footer]), { disk, fixedFooter: footer })).toEqual({
      ok: true
    })
  })

  it('refuses a changed byte, a missing footer, a dynamic footer or another footer', () => {
    const changed = Buffer.concat([disk, footer])
    changed[disk.length - 5000] ^= 1
    expect(compareUpload(changed, { disk }).ok).toBe(false)
    expect(compareUpload(disk, { disk }).ok).toBe(false)
    const dynamic = vhdFooter(disk.length, 'dynamic', 42)
    expect(compareUpload(Buffer.concat([disk, dynamic]), { disk }).ok).toBe(false)
    const other = vhdFooter(disk.length, 'fixed', 43)
    expect(compareUpload(Buffer.concat([disk, other]), { disk, fixedFooter: footer }).ok).toBe(
      false
    )
  })
})
