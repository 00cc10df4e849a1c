/**
 * Build mode, re-run attempts (chaos campaign findings, issue 12): main killed (SIGKILL, no post)
 * at several points, then a re-run attempt of the same job. It must take what its earlier attempt
 * made as its own, reuse what is finished, and leave nothing of the build behind.
 */
import { describe, expect, it } from '@jest/globals'
import { errorLines, type ActionRun } from '../support/action-runner.js'
import { BUILD_TEMPORARY_TYPES } from '../support/build-cloud.js'
import { build, cloud, leftBehind, useBuildFailureCloud } from '../support/build-failure-run.js'
import { INTERNAL_EXECUTION_ERROR } from '../emulator/faults.js'

useBuildFailureCloud()

describe('killed while the gallery version is created (SIGKILL, no post), then a re-run attempt', () => {
  // Chaos seed 150069095: the re-run attempt reused the version and left the earlier attempt's
  // build VM and network behind, billed (and with keep-build-vm: true never said it was kept).
  // Killed once the version has succeeded, as the first deletion of the build VM arrives (dropped,
  // so not carried out): every build resource is still there.
  function atVmDelete(): () => boolean {
    const start = cloud.emu.requests.length
    cloud.emu.faults.add({
      method: 'DELETE',
      path: /\/virtualMachines\/[^/]+$/,
      times: 1,
      drop: true
    })
    return () =>
      cloud.emu.requests
        .slice(start)
        .some(q => q.method === 'DELETE' && /\/virtualMachines\/[^/]+$/.test(q.path))
  }

  // Killed as the version PUT arrives, its answer lost (carried out, connection closed): Azure goes
  // on creating the version with nobody polling it; the re-run attempt waits for it to end, then
  // reuses it.
  function atVersionPut(): () => boolean {
    const start = cloud.emu.requests.length
    cloud.emu.faults.add({ method: 'PUT', path: /\/versions\/[^/]+$/, dropResponse: true })
    return () =>
      cloud.emu.requests
        .slice(start)
        .some(q => q.method === 'PUT' && /\/versions\/[^/]+$/.test(q.path))
  }

  async function killedThenRerun(
    job: string,
    keep: string,
    killPoint = atVmDelete
  ): Promise<ActionRun> {
    const definition = `ubuntu-${job}`
    const inputs = {
      'customize-scripts': 'ok.sh',
      'image-name': '',
      'gallery-image': definition,
      'keep-build-vm': keep
    }
    // With keep-build-vm: true nothing is deleted to stop at: the first attempt ends, its VM kept,
    // and the job is re-run (the same code path: every target reused, the VM left).
    const first = await build(job, inputs, {
      post: false,
      ...(keep === 'true' ? {} : { signalWhen: { when: killPoint(), signal: 'SIGKILL' } })
    })
    if (keep === 'true') expect(first.main.code).toBe(0)
    else expect(first.main.signal).toBe('SIGKILL')
    expect(cloud.emu.faults.pending).toEqual([])
    expect(cloud.emu.resources.created('Microsoft.Compute/virtualMachines')).not.toEqual([])
    const second = await build(job, inputs, { runAttempt: 2 })
    expect(errorLines(second.main)).toEqual([])
    expect(second.main.code).toBe(0)
    expect(second.post?.code).toBe(0)
    expect(second.main.stdout).toContain('Every target was created by an earlier attempt')
    expect(second.outputs['image-id']).toMatch(new RegExp(`/images/${definition}/versions/`))
    return second
  }

  it('killed between the VM create and the OS disk tag: the re-run takes the untagged disk of its own VM as its own', async () => {
    // Chaos seed 1233833524: Azure does not tag the OS disk it creates with the VM; the action tags
    // it once the VM exists. Killed before that, the re-run refused the disk as another job's.
    const before = leftBehind()
    const job = 'rerun-untagged'
    // The tag PATCH is dropped at the emulator (recorded, never carried out) and the
    // main step killed as it arrives: the disk stays as Azure made it, untagged.
    const start = cloud.emu.requests.length
    const tagging = (): boolean =>
      cloud.emu.requests
        .slice(start)
        .some(q => q.method === 'PATCH' && /\/disks\/[^/]+$/.test(q.path))
    cloud.emu.faults.add({ method: 'PATCH', path: /\/disks\/[^/]+$/, times: 1, drop: true })
    const inputs = { 'customize-scripts': 'ok.sh', 'gallery-image': `ubuntu-${job}` }
    const first = await build(job, inputs, {
      post: false,
      signalWhen: { when: tagging, signal: 'SIGKILL' }
    })
    expect(first.main.signal).toBe('SIGKILL')
    const disks = cloud.emu.resources
      .created('Microsoft.Compute/disks')
      .filter(d => !(d as { tags?: Record<string, string> }).tags?.['github-owner-key'])
    expect(disks).not.toEqual([])
    const second = await build(job, inputs, { runAttempt: 2 })
    expect(errorLines(second.main)).toEqual([])
    expect(second.main.code).toBe(0)
    expect(second.post?.code).toBe(0)
    const after = leftBehind()
    for (const type of BUILD_TEMPORARY_TYPES)
      expect([type, after[type]]).toEqual([type, before[type]])
  }, 400_000)

  it('an earlier attempt’s leftover whose delete keeps ending Failed: tried again, then deleted as the run fails', async () => {
    // Chaos seed 627003111: the re-run attempt's first try to delete the earlier attempt's NSG
    // ended Failed ("Please retry later"); the run failed and the NSG, in no ledger, was left.
    const before = leftBehind()
    const job = 'rerun-nsg'
    const inputs = { 'customize-scripts': 'ok.sh', 'gallery-image': `ubuntu-${job}` }
    const start = cloud.emu.requests.length
    const vmCreate = (): boolean =>
      cloud.emu.requests
        .slice(start)
        .some(q => q.method === 'PUT' && /\/virtualMachines\/[^/]+$/.test(q.path))
    const first = await build(job, inputs, {
      post: false,
      signalWhen: { when: vmCreate, signal: 'SIGKILL' }
    })
    expect(first.main.signal).toBe('SIGKILL')
    // Failed on each of the main step's three tries (now, after 5 s, after 15 s).
    cloud.emu.faults.add({
      method: 'DELETE',
      path: /\/networkSecurityGroups\/[^/]+$/,
      times: 3,
      failOperation: INTERNAL_EXECUTION_ERROR
    })
    const second = await build(job, inputs, { runAttempt: 2 })
    expect(cloud.emu.faults.pending).toEqual([])
    expect(second.main.code).toBe(1)
    const errors = errorLines(second.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/Remove what an earlier attempt left.*InternalExecutionError/)
    expect(second.main.stdout).toMatch(
      /networkSecurityGroups\/\S+ failed: .*InternalExecutionError.*\(tried again shortly\)/
    )
    // In the ledger now: the failure's cleanup (or else the post step) deletes it.
    expect(second.main.stdout.slice(second.main.stdout.indexOf('::error::'))).toMatch(
      /Cleanup: deleted temporary network security group/
    )
    expect(second.post?.code).toBe(0)
    const after = leftBehind()
    for (const type of BUILD_TEMPORARY_TYPES)
      expect([type, after[type]]).toEqual([type, before[type]])
  }, 400_000)

  it('deletes the earlier attempt’s build VM and network once it reuses the version', async () => {
    const before = leftBehind()
    await killedThenRerun('rerun-drop', 'false')
    const after = leftBehind()
    for (const type of BUILD_TEMPORARY_TYPES)
      expect([type, after[type]]).toEqual([type, before[type]])
  }, 400_000)

  it('killed as the version PUT arrives: the re-run waits for that version, reuses it, and deletes the earlier build VM and network', async () => {
    const before = leftBehind()
    const second = await killedThenRerun('rerun-put', 'false', atVersionPut)
    expect(second.main.stdout).toContain('Reusing gallery image version')
    const after = leftBehind()
    for (const type of BUILD_TEMPORARY_TYPES)
      expect([type, after[type]]).toEqual([type, before[type]])
  }, 400_000)

  it('with keep-build-vm: true (first attempt ended, job re-run) keeps the earlier attempt’s VM and says so in the summary', async () => {
    const vms = cloud.emu.resources.created('Microsoft.Compute/virtualMachines').length
    const second = await killedThenRerun('rerun-keep', 'true')
    expect(cloud.emu.resources.created('Microsoft.Compute/virtualMachines')).toHaveLength(vms + 1)
    expect(second.summary).toContain('Build VM kept')
    expect(second.summary).toMatch(/az vm delete --ids \S+virtualMachines\/\S+ --yes/)
  }, 400_000)
})
