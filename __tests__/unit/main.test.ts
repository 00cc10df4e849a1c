/**
 * runMain and runPost driven as the runner drives them, through an in-memory Runner and an
 * in-memory Azure passed in as `connect`: success, an input error, an Azure error, a cancellation,
 * and the post step after each (it reads only the state main saved).
 */
import { describe, expect, it } from '@jest/globals'
import { RestError } from '@azure/core-rest-pipeline'
import { runMain } from '../../src/main.js'
import { runPost } from '../../src/post.js'
import type { AzureClients } from '../../src/azure/clients.js'
import { fakeRunner, type FakeRunner } from '../support/fake-runner.js'
import { FakeCompute, RG, SUB, untilAborted, VM_ID } from './fake-compute.js'
import { ledgerEntries } from '../support/ledger-state.js'

const IMAGE_ID = `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Compute/images/img1`
const CAPTURE = { 'source-vm': VM_ID, 'image-name': 'img1', deprovision: 'false' }

/** A connect that hands out the fake's clients and counts the sign-ins. */
function connector(azure: FakeCompute): {
  connect: () => Promise<AzureClients>
  calls: () => number
} {
  let calls = 0
  return {
    connect: async () => {
      calls++
      return azure.clients()
    },
    calls: () => calls
  }
}

async function post(
  runner: FakeRunner,
  azure: FakeCompute
): Promise<{ code: number; connects: number }> {
  const { connect, calls } = connector(azure)
  const code = await runPost(runner, runner.getState, { connect })
  return { code, connects: calls() }
}

describe('runMain and runPost', () => {
  it('success: captures into the managed image, sets the outputs, and post has nothing to do', async () => {
    const azure = new FakeCompute()
    const runner = fakeRunner(CAPTURE)
    const { connect } = connector(azure)

    expect(await runMain(runner, { connect })).toBe(0)

    expect(runner.errors).toEqual([])
    // Generalize before the image; nothing else is written.
    expect(azure.writes).toEqual(['deallocate vm1', 'generalize vm1', 'put image img1'])
    expect(runner.outputs).toEqual({
      'managed-image-id': IMAGE_ID,
      'image-id': IMAGE_ID,
      location: 'eastus'
    })
    // Success is the run's own nonce, which nothing the guest prints can know (issue 14).
    expect(runner.state.nonce).toMatch(/^[0-9a-f]{32}$/)
    expect(runner.state).toMatchObject({ isPost: 'true', succeeded: runner.state.nonce })
    expect(ledgerEntries(runner.state.ledger)).toEqual([])
    expect(runner.summaries).toHaveLength(1)
    expect(runner.summaries[0]).toContain("✅ Capture of VM 'vm1'")
    expect(runner.lines).toContainEqual(
      expect.stringMatching(/^info: Done in \d+s: .*images\/img1$/)
    )

    const after = await post(runner, azure)
    expect(after).toEqual({ code: 0, connects: 0 })
    expect(runner.summaries).toHaveLength(1)
  })

  it('input error: one ::error:: naming the input, no sign-in, and post has nothing to clean up', async () => {
    const azure = new FakeCompute()
    const runner = fakeRunner({ ...CAPTURE, 'timeout-minutes': 'soon' })
    const { connect, calls } = connector(azure)

    expect(await runMain(runner, { connect })).toBe(1)

    expect(runner.errors).toEqual([
      "Input 'timeout-minutes': expected a whole number from 1 to 1440, got 'soon'."
    ])
    expect(calls()).toBe(0)
    expect(runner.outputs).toEqual({})
    expect(runner.summaries).toEqual([])
    // Only what main writes first thing: a nonce, not succeeded, an empty sealed ledger.
    expect(Object.keys(runner.state).sort()).toEqual(['isPost', 'ledger', 'nonce', 'succeeded'])
    expect(runner.state.succeeded).toBe('false')
    expect(ledgerEntries(runner.state.ledger)).toEqual([])

    const after = await post(runner, azure)
    expect(after).toEqual({ code: 0, connects: 0 })
    expect(runner.lines).toContain('info: Post: nothing this run created is left to clean up.')
  })

  it('Azure error: one ::error:: with Azure’s code, the half-made image removed by main, post idle', async () => {
    const azure = new FakeCompute()
    azure.onImagePut = async () => {
      throw new RestError('The image could not be created from this VM.', {
        statusCode: 409,
        code: 'OperationNotAllowed'
      })
    }
    const runner = fakeRunner(CAPTURE)
    const { connect } = connector(azure)

    expect(await runMain(runner, { connect })).toBe(1)

    expect(runner.errors).toHaveLength(1)
    expect(runner.errors[0]).toMatch(/^Managed image failed: OperationNotAllowed: /)
    // main cleans up what the ledger lists and carries this run's tag.
    expect(azure.writes).toEqual([
      'deallocate vm1',
      'generalize vm1',
      'put image img1',
      'delete image img1'
    ])
    expect(ledgerEntries(runner.state.ledger)).toEqual([])
    expect(runner.state.succeeded).toBe('false')
    expect(runner.outputs).toEqual({})
    expect(runner.summaries[0]).toContain("❌ Capture of VM 'vm1'")
    expect(runner.summaries[0]).toContain("deleted unfinished managed image 'img1'")

    const after = await post(runner, azure)
    expect(after).toEqual({ code: 0, connects: 0 })
  })

  it('cancellation: stops the step in flight, leaves cleanup to post, which removes the image', async () => {
    const azure = new FakeCompute()
    const runner = fakeRunner(CAPTURE)
    azure.onImagePut = async (_body, signal) => {
      runner.cancel()
      await untilAborted(signal)
    }
    const { connect } = connector(azure)

    expect(await runMain(runner, { connect })).toBe(1)

    expect(runner.errors).toEqual(["Cancelled during 'Managed image'."])
    expect(runner.lines).toContain(
      "warning: Cancelled during 'Managed image': stopping what is in flight; the post step cleans up."
    )
    // No cleanup in main after a cancellation: the ledger still lists the unfinished image.
    expect(azure.writes).toEqual(['deallocate vm1', 'generalize vm1', 'put image img1'])
    expect(ledgerEntries(runner.state.ledger)).toEqual([{ kind: 'managed-image', id: IMAGE_ID }])

    const after = await post(runner, azure)
    expect(after).toEqual({ code: 0, connects: 1 })
    expect(azure.writes.at(-1)).toBe('delete image img1')
    expect(ledgerEntries(runner.state.ledger)).toEqual([])
    expect(runner.summaries.at(-1)).toBe(
      "## Cleanup after a failed or cancelled run\n\n- deleted unfinished managed image 'img1'\n"
    )
  })
})
