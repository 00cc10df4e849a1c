/**
 * keep-versions: the N newest versions kept across list pages, the new one and busy ones never deleted.
 * The bundled action, run as the runner runs it, against the ARM emulator; evidence is what the
 * emulator received and what the action wrote.
 */
import { describe, expect, it } from '@jest/globals'
import {
  LOCATION,
  cloud,
  autoVersion,
  definitionId,
  versionId,
  seedDefinition,
  seedVersion,
  publish,
  expectSuccess,
  useGalleryCloud
} from '../support/gallery-run.js'

useGalleryCloud()

describe('keep-versions', () => {
  function remaining(definition: string): string[] {
    const prefix = `${definitionId(definition)}/versions/`.toLowerCase()
    return cloud.emu.resources
      .list('Microsoft.Compute/galleries/images/versions')
      .filter(v => String(v.id).toLowerCase().startsWith(prefix))
      .map(v => String(v.name))
      .sort()
  }

  it('keeps exactly N versions, reading every list page, and deletes the older ones', async () => {
    seedDefinition('ubuntu-prune')
    cloud.seedVm('prune-builder')
    // Seven older versions: with the new one, eight, over four list pages of two.
    const older = ['1.0.0', '1.0.1', '1.0.2', '1.1.0', '1.2.0', '1.10.0', '2.0.0']
    for (const name of older) seedVersion('ubuntu-prune', name)
    const before = cloud.emu.requests.length
    const versionBefore = autoVersion(5)
    const run = await publish(
      'prune-builder',
      'ubuntu-prune',
      { 'gallery-image-version': 'auto', 'keep-versions': '3' },
      { runId: '7700001', runNumber: 5 }
    )
    expectSuccess(run)
    const version = run.outputs['gallery-image-version']
    expect([versionBefore, autoVersion(5)]).toContain(version)

    const lists = cloud
      .requestsSince(before)
      .filter(r => r.method === 'GET' && /\/images\/ubuntu-prune\/versions$/.test(r.path))
    expect(lists).toHaveLength(4)
    expect(lists.slice(1).map(r => r.query.$skiptoken)).toEqual(['2', '4', '6'])

    const writes = cloud.writesSince(before)
    const putIndex = writes.findIndex(
      w => w.method === 'PUT' && w.path.endsWith(`/versions/${version}`)
    )
    const deletes = writes.filter(w => w.method === 'DELETE').map(w => w.path.split('/').pop())
    expect(putIndex).toBeGreaterThanOrEqual(0)
    // Deletes only after the new version exists; numeric order (1.10.0 > 1.2.0), not text order.
    expect(writes.slice(0, putIndex).filter(w => w.method === 'DELETE')).toEqual([])
    expect(deletes.sort()).toEqual(['1.0.0', '1.0.1', '1.0.2', '1.1.0', '1.2.0'])
    expect(remaining('ubuntu-prune')).toEqual(['1.10.0', '2.0.0', version].sort())
    expect(run.main.stdout).toContain(
      "keep-versions: 3; 'ubuntu-prune' has 8 version(s), 5 to delete."
    )
    expect(run.summary).toContain(`| ${LOCATION} | Completed | 100% | 1 | Standard_LRS |`)
    expect(run.summary).toMatch(/keep-versions deleted 5 older version\(s\) of 'ubuntu-prune'/)
  })

  it('never deletes the new version or one still replicating', async () => {
    seedDefinition('ubuntu-prune2')
    cloud.seedVm('prune2-builder')
    seedVersion('ubuntu-prune2', '0.9.0', { provisioningState: 'Creating' })
    seedVersion('ubuntu-prune2', '1.0.0')
    seedVersion('ubuntu-prune2', '1.0.1', { provisioningState: 'Updating' })
    seedVersion('ubuntu-prune2', '1.0.2')
    seedVersion('ubuntu-prune2', '5.0.0')
    seedVersion('ubuntu-prune2', '5.0.1')
    const before = cloud.emu.requests.length
    // The new version is older than the two newest: keep-versions must still leave it alone.
    const run = await publish(
      'prune2-builder',
      'ubuntu-prune2',
      { 'gallery-image-version': '3.0.0', 'keep-versions': '2' },
      { runId: '7700002' }
    )
    expectSuccess(run)
    const deletes = cloud
      .writesSince(before)
      .filter(w => w.method === 'DELETE')
      .map(w => w.path.split('/').pop())
    expect(deletes.sort()).toEqual(['1.0.0', '1.0.2'])
    expect(remaining('ubuntu-prune2')).toEqual(['0.9.0', '1.0.1', '3.0.0', '5.0.0', '5.0.1'])
    expect(run.main.stdout).toMatch(
      /keep-versions: 2; 'ubuntu-prune2' has 7 version\(s\), 2 to delete, 3 older one\(s\) kept/
    )
    expect(run.outputs['gallery-image-version-id']).toBe(versionId('ubuntu-prune2', '3.0.0'))
  })
})
