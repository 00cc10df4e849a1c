/**
 * Cancellation (SIGINT): a non-zero exit with a clear error, and the post step deleting what the ledger lists.
 * The bundled action on its failure paths against the ARM emulator; evidence is the emulator's
 * request log and what the action wrote.
 */
import { describe, expect, it } from '@jest/globals'
import { errorLines, ledgerEntries } from '../support/action-runner.js'
import { short } from '../support/cloud.js'
import {
  RG,
  LOCATION,
  cloud,
  DEBUG,
  imageId,
  run,
  postLines,
  useFailureCloud
} from '../support/failure-run.js'

useFailureCloud()

describe('cancellation', () => {
  it('SIGINT while signing in: the sign-in stops with the run, one error names the phase, nothing is written', async () => {
    cloud.seedVm('sig-vm0')
    // The token request is held unanswered until the test ends: only the run's cancellation can
    // end the wait (the credential is given the run's signal).
    let release = (): void => undefined
    const held = new Promise<void>(r => (release = r))
    const start = cloud.emu.requests.length
    const tokenRequest = (): boolean =>
      cloud.emu.requests.slice(start).some(q => /\/oauth2\/v2\.0\/token$/.test(q.path))
    cloud.emu.faults.add({
      method: 'POST',
      path: /\/oauth2\/v2\.0\/token(\?|$)/,
      onMatch: () => held
    })
    const writes = cloud.emu.writes().length
    const r = await run(
      { 'source-vm': 'sig-vm0', 'image-name': 'sig-img0' },
      { signalWhen: { when: tokenRequest, signal: 'SIGINT' } }
    ).finally(release)
    expect(r.main.code).toBe(1)
    expect(errorLines(r.main)).toEqual([
      expect.stringMatching(/^::error::Cancelled during 'Connect to Azure'/)
    ])
    expect(r.post?.code).toBe(0)
    expect(cloud.emu.writes().length).toBe(writes)
  }, 60_000)

  it('SIGINT while deallocating: non-zero exit, a clear error, the post step finds nothing to clean', async () => {
    cloud.seedVm('sig-vm')
    const r = await run(
      { 'source-vm': 'sig-vm', 'image-name': 'sig-img' },
      { signalWhen: { output: /Deallocate/, signal: 'SIGINT' } }
    )
    expect(r.main.code).not.toBe(0)
    expect(r.main.code).not.toBeNull()
    expect(errorLines(r.main)).toEqual([
      expect.stringMatching(/^::error::Cancelled during 'Deallocate VM'/)
    ])
    expect(r.main.stdout).toMatch(
      /::warning::Cancelled during 'Deallocate VM'.*post step cleans up/
    )
    expect(ledgerEntries(r.state.ledger)).toEqual([])
    // Not succeeded: main wrote 'false' first thing and never its nonce.
    expect(r.state.succeeded).toBe('false')
    expect(r.post?.code).toBe(0)
    expect(postLines(r)).toContain('Post: nothing this run created is left to clean up.')
    expect(cloud.emu.resources.get(imageId('sig-img'))).toBeUndefined()
    expect(cloud.emu.writes().some(w => /\/images\/sig-img$/.test(w.path))).toBe(false)
  })

  it('SIGINT while the image is being created: the post step deletes the unfinished image the ledger lists', async () => {
    // Generalized by an earlier attempt: the image is the only operation of the run.
    cloud.emu.addVm({
      resourceGroup: RG,
      name: 'sig-vm2',
      location: LOCATION,
      osType: 'Linux',
      powerState: 'deallocated',
      generalized: true
    })
    // No poll of the image's operation gets through, and the image takes long to create (a GET of
    // it counts as a poll too), so it is still Creating when the job is cancelled and when the post
    // step reads it; the post step's DELETE answers at once (no operation to poll).
    cloud.emu.faults.add({ method: 'PUT', path: /\/images\/sig-img2(\?|$)/, extraPolls: 100 })
    cloud.emu.faults.add({
      method: 'GET',
      path: /\/locations\/westeurope\/operations\//,
      drop: true,
      times: 100
    })
    cloud.emu.setLroStyle('images/DELETE', 'body')
    const before = cloud.emu.requests.length
    const r = await run(
      { 'source-vm': 'sig-vm2', 'image-name': 'sig-img2' },
      // Signalled on the request log line (debug) of the image PUT's answer.
      {
        env: DEBUG,
        signalWhen: { output: /::debug::PUT \S+\/images\/sig-img2 201/, signal: 'SIGINT' }
      }
    ).finally(() => cloud.emu.setLroStyle('images/DELETE', 'async'))

    expect(r.main.code).not.toBe(0)
    expect(r.main.code).not.toBeNull()
    expect(errorLines(r.main)).toEqual([
      expect.stringMatching(/^::error::Cancelled during 'Managed image'/)
    ])
    // Main left the cleanup to the post step; the ledger in the state lists the image.
    expect(ledgerEntries(r.state.ledger)).toEqual([
      { kind: 'managed-image', id: imageId('sig-img2') }
    ])
    const writes = cloud.writesSince(before).map(short)
    expect(writes).toEqual(['PUT images/sig-img2', 'DELETE images/sig-img2'])
    // The DELETE came from the post step, after the image was seen unfinished.
    expect(r.post?.code).toBe(0)
    expect(postLines(r)).toContain("Cleanup: deleted unfinished managed image 'sig-img2'")
    expect(cloud.emu.resources.get(imageId('sig-img2'))).toBeUndefined()
    // The post step's summary says what it removed.
    expect(r.summary).toContain("deleted unfinished managed image 'sig-img2'")
  })
})
