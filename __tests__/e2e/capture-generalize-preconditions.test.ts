/**
 * Generalize and image preconditions as Azure has them (real-azure.md §2 row 16): `generalize`
 * answers 200 once the VM is stopped, powered off or deallocated (REC test_vm_generalize.yaml),
 * refuses a running VM ("Operation 'generalize' is not allowed on VM '…' since the VM is running.
 * Please power off explicitly …": Learn virtual-machines/error-messages.md, azure-docs#86809), and
 * an image from a VM Azure does not hold generalized is refused ("The operation 'Create Image'
 * requires the Virtual Machine '…' to be Generalized.": ansible/ansible#37158). The action still
 * deallocates before it generalizes; when Azure refuses either step, its one `::error::` names the
 * step and Azure's code and text, and nothing is left half-made.
 */
import { describe, expect, it } from '@jest/globals'
import { errorLines, ledgerEntries, type ActionRun } from '../support/action-runner.js'
import { short } from '../support/cloud.js'
import { GALLERY, RG, cloud, imageId, run, useFailureCloud } from '../support/failure-run.js'

useFailureCloud()

const vmId = (name: string): string =>
  `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/virtualMachines/${name}`

/** A capture of `vm` (generalized inside already: no Run Command) into a managed image and a new definition. */
function capture(vm: string): Promise<ActionRun> {
  return run({
    'source-vm': vm,
    'image-name': `${vm}-image`,
    gallery: GALLERY,
    'gallery-image': `${vm}-def`,
    'create-gallery-image': 'true',
    'gallery-image-version': '1.0.0',
    publisher: 'Contoso',
    offer: 'precond',
    sku: vm
  })
}

/**
 * Captures `vm` with `meanwhile` run as the emulator receives a request matching `method` and
 * `path` (before it is handled), and checks what every refusal must give: exit 1, one `::error::`
 * that is `step failed: code: Azure's text (request id …)`, that request answered 409, no gallery
 * write, no image, nothing on the ledger for the post step. Returns the run for further checks.
 */
async function refused(
  vm: string,
  at: { method: string; path: RegExp; meanwhile: () => void },
  expected: { step: string; code: string; message: string }
): Promise<ActionRun> {
  cloud.seedVm(vm)
  cloud.emu.faults.add({ observe: true, method: at.method, path: at.path, onMatch: at.meanwhile })
  const before = cloud.emu.requests.length
  const r = await capture(vm)
  const escaped = `${expected.step} failed: ${expected.code}: ${expected.message}`.replace(
    /[.*+?^${}()|[\]\\]/g,
    '\\$&'
  )
  expect(r.main.code).toBe(1)
  expect(errorLines(r.main)).toEqual([
    expect.stringMatching(new RegExp(`^::error::${escaped} \\(request id [0-9a-f-]+\\)$`))
  ])
  expect(r.main.stdout).toContain('HTTP status: 409')
  const refusedRequests = cloud
    .requestsSince(before)
    .filter(q => q.method === at.method && at.path.test(`${q.path}?`))
  expect(refusedRequests.map(q => q.status)).toEqual([409])
  // The gallery step never ran (no definition, no version) and no image exists.
  expect(cloud.writesSince(before).filter(w => /\/galleries\//.test(w.path))).toEqual([])
  expect(cloud.emu.resources.get(imageId(`${vm}-image`))).toBeUndefined()
  expect(ledgerEntries(r.state.ledger)).toEqual([])
  expect(r.post?.code).toBe(0)
  return r
}

describe('generalize and image preconditions (real-azure.md row 16)', () => {
  it('deallocates before it generalizes, then makes the image', async () => {
    cloud.seedVm('pre-ok')
    const before = cloud.emu.requests.length
    const r = await capture('pre-ok')
    expect(errorLines(r.main)).toEqual([])
    expect(r.main.code).toBe(0)
    expect(cloud.writesSince(before).map(short).slice(0, 3)).toEqual([
      'POST virtualMachines/pre-ok/deallocate',
      'POST virtualMachines/pre-ok/generalize',
      'PUT images/pre-ok-image'
    ])
    expect(cloud.emu.resources.state(vmId('pre-ok'))).toMatchObject({
      powerState: 'deallocated',
      generalized: true
    })
  })

  it("names the step and Azure's refusal when the VM is running again at generalize, and makes nothing", async () => {
    const r = await refused(
      'pre-restarted',
      {
        method: 'POST',
        path: /\/virtualMachines\/pre-restarted\/generalize\?/,
        // Someone else (a schedule, a person, another job) starts the VM once it is deallocated.
        meanwhile: () => {
          const state = cloud.emu.resources.state(vmId('pre-restarted'))!
          state.powerState = 'running'
          state.agentRunning = true
        }
      },
      {
        step: 'Mark VM generalized',
        code: 'OperationNotAllowed',
        message:
          "Operation 'generalize' is not allowed on VM 'pre-restarted' since the VM is running. Please power off explicitly in case you shut down the VM from inside the guest operating system."
      }
    )
    expect(r.main.stdout).toContain(
      'Hint: The VM must be stopped (powered off or deallocated) before Azure marks it generalized.'
    )
    // Refused at the request: the VM stays specialized, so it can still be started and used.
    expect(cloud.emu.resources.state(vmId('pre-restarted'))?.generalized).toBe(false)
  })

  it("names the step and Azure's refusal when Azure says the VM is not generalized at the image, and leaves no image or version", async () => {
    const r = await refused(
      'pre-notgen',
      {
        method: 'PUT',
        path: /\/images\/pre-notgen-image\?/,
        // Azure's view of the VM disagrees with the instance view the action checked: the image
        // PUT meets the emulator's own refusal (text from ansible/ansible#37158).
        meanwhile: () => {
          cloud.emu.resources.state(vmId('pre-notgen'))!.generalized = false
        }
      },
      {
        step: 'Managed image',
        code: 'OperationNotAllowed',
        message:
          "The operation 'Create Image' requires the Virtual Machine 'pre-notgen' to be Generalized."
      }
    )
    expect(r.main.stdout).toContain('Hint: An image of this kind needs a generalized VM')
    expect(r.main.stdout).toContain("Cleanup: managed image 'pre-notgen-image' was never created")
  })
})
