import { describe, expect, it } from '@jest/globals'
import { readPlan, type PlanContext } from '../../src/inputs.js'
import { outputProblems } from '../../src/output-checks.js'
import { actionDefaults } from '../support/action-runner.js'

const SUB = '11111111-2222-3333-4444-555555555555'
const context: PlanContext = {
  now: new Date('2026-11-26T10:00:00Z'),
  run: {
    repository: 'contoso/golden-images',
    sha: 'abc',
    ref: 'refs/heads/main',
    workflow: 'nightly',
    runId: '777',
    runAttempt: 2,
    runNumber: 42
  }
}

function plan(inputs: Record<string, string>) {
  const all: Record<string, string> = {
    ...actionDefaults(),
    'subscription-id': SUB,
    'resource-group': 'build-rg',
    'source-vm': 'golden',
    ...inputs
  }
  return readPlan(name => all[name] ?? '', context)
}

const IMAGE = `/subscriptions/${SUB}/resourceGroups/build-rg/providers/Microsoft.Compute/images/img`
const GALLERY = `/subscriptions/${SUB}/resourceGroups/gal-rg/providers/Microsoft.Compute/galleries/gal`
const VERSION_ID = `${GALLERY}/images/def/versions/1.2.3`
const SNAP = `/subscriptions/${SUB}/resourceGroups/build-rg/providers/Microsoft.Compute/snapshots`

describe('outputProblems', () => {
  const managed = plan({ 'image-name': 'img' })
  const gallery = plan({
    gallery: 'gal',
    'gallery-resource-group': 'gal-rg',
    'gallery-image': 'def',
    'gallery-image-version': '1.2.3'
  })

  it("accepts the run's own IDs, also in the case ARM returns them", () => {
    expect(
      outputProblems(managed, {
        'image-id': IMAGE.replace('build-rg', 'BUILD-RG'),
        'managed-image-id': IMAGE,
        location: 'westeurope',
        'backup-snapshot-ids': JSON.stringify([
          `${SNAP}/golden-os-backup-777-2`,
          `${SNAP}/golden-lun0-backup-777-2`
        ])
      })
    ).toEqual([])
    expect(
      outputProblems(gallery, {
        'image-id': VERSION_ID,
        'gallery-image-version-id': VERSION_ID,
        'gallery-image-version': '1.2.3'
      })
    ).toEqual([])
  })

  it('refuses IDs of other resources, as Azure or a guest might hand them over', () => {
    const other = `/subscriptions/${SUB}/resourceGroups/build-rg/providers/Microsoft.Compute/images/evil`
    expect(outputProblems(managed, { 'image-id': other })).toHaveLength(1)
    expect(outputProblems(managed, { 'managed-image-id': `${IMAGE}/../evil` })).toHaveLength(1)
    expect(outputProblems(managed, { 'image-id': `${IMAGE}\n::error::x` })).toHaveLength(1)
    // The primary image is the gallery version when there is a gallery target.
    expect(outputProblems(gallery, { 'image-id': IMAGE })).toHaveLength(1)
    expect(
      outputProblems(gallery, {
        'gallery-image-version': '9.9.9',
        'gallery-image-version-id': `${GALLERY}/images/def/versions/9.9.9`
      })
    ).toHaveLength(1)
    expect(outputProblems(gallery, { 'gallery-image-version': '1.2.3; rm' })).toHaveLength(1)
  })

  it('refuses snapshots of another run, group or shape, and malformed values', () => {
    for (const ids of [
      [`${SNAP}/golden-os-backup-778-2`],
      [`${SNAP.replace('build-rg', 'other-rg')}/golden-os-backup-777-2`],
      [`${SNAP}/golden-os-backup-777-2`, 42],
      'not json'
    ]) {
      const value = typeof ids === 'string' ? ids : JSON.stringify(ids)
      expect(outputProblems(managed, { 'backup-snapshot-ids': value })).toHaveLength(1)
    }
    expect(outputProblems(managed, { location: 'West Europe' })).toHaveLength(1)
    expect(outputProblems(managed, { 'uploaded-bytes': '10' })).toHaveLength(1)
    expect(outputProblems(managed, { 'some-new-output': 'a\u2028b' })).toHaveLength(1)
    expect(outputProblems(managed, { 'some-new-output': 'fine' })).toEqual([])
  })

  it('quotes the refused value harmlessly', () => {
    const [problem] = outputProblems(managed, { 'image-id': '::set-output name=x::y' })
    expect(problem).not.toContain('::')
  })
})
