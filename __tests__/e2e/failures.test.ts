/**
 * The bundled action on its failure paths, against the ARM emulator: transient faults it must ride
 * through, an expired token, operations that end Failed, missing permissions, cancellation, and
 * secrets in debug logs. Evidence is the emulator's request log and what the action wrote.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  errorLines,
  runAction,
  type ActionRun,
  type RunOptions,
  ledgerEntries
} from '../support/action-runner.js'
import { AZURITE_ACCOUNT_KEY } from '../support/azurite.js'
import { startLocalCloud, type LocalCloud } from '../support/cloud.js'
import type { Body, RecordedRequest } from '../emulator/index.js'

const RG = 'build-rg'
const LOCATION = 'westeurope'
const GALLERY = 'fail_gallery'

let cloud: LocalCloud

beforeAll(async () => {
  cloud = await startLocalCloud({ lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 } })
  cloud.emu.addResourceGroup(RG, LOCATION)
  cloud.emu.addGallery(RG, GALLERY, LOCATION)
})
afterEach(() => cloud.emu.faults.clear())
afterAll(async () => cloud.close())

const DEBUG = { ACTIONS_STEP_DEBUG: 'true', RUNNER_DEBUG: '1' }

function imageId(name: string, rg = RG): string {
  return `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/${rg}/providers/Microsoft.Compute/images/${name}`
}

function versionId(definition: string, version: string): string {
  return `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/galleries/${GALLERY}/images/${definition}/versions/${version}`
}

function requestsSince(before: number): RecordedRequest[] {
  return cloud.emu.requests.slice(before)
}

function writesSince(before: number): RecordedRequest[] {
  const writes = new Set(cloud.emu.writes())
  return requestsSince(before).filter(r => writes.has(r))
}

/** 'PUT images/x', 'POST virtualMachines/vm/deallocate', 'GET locations/westeurope/operations/…' */
function short(r: RecordedRequest): string {
  return `${r.method} ${r.path.replace(/^.*\/providers\/Microsoft\.Compute\//i, '')}`
}

function seedVm(name: string, rg = RG): Body {
  return cloud.emu.addVm({
    resourceGroup: rg,
    name,
    location: LOCATION,
    osType: 'Linux',
    hyperVGeneration: 'V2'
  })
}

function run(
  inputs: Record<string, string>,
  options: Partial<RunOptions> = {}
): Promise<ActionRun> {
  return runAction({
    ...options,
    // These VMs stand for ones generalized inside already: 'auto' would deprovision them first.
    inputs: { ...cloud.inputs, 'resource-group': RG, deprovision: 'false', ...inputs },
    env: { ...cloud.env, ...(options.env ?? {}) }
  })
}

/** Calls `action` once the emulator has received a request matching `match` (checked every 10 ms). */
function whenRequest(match: (r: RecordedRequest) => boolean, action: () => void): () => void {
  let seen = 0
  const timer = setInterval(() => {
    const requests = cloud.emu.requests
    for (; seen < requests.length; seen++) {
      if (match(requests[seen])) {
        clearInterval(timer)
        action()
        return
      }
    }
  }, 10)
  return () => clearInterval(timer)
}

/** The post step's log and what it sent. */
function postLines(r: ActionRun): string {
  return `${r.post?.stdout ?? ''}${r.post?.stderr ?? ''}`
}

describe('transient faults', () => {
  it('captures through 429 (Retry-After), 500 and dropped connections on ARM calls and LRO polls', async () => {
    seedVm('flaky-vm')
    const faults = cloud.emu.faults
    // The VM read: throttled once, with Retry-After.
    faults.add({ method: 'GET', path: /\/virtualMachines\/flaky-vm\?/, status: 429, retryAfter: 1 })
    // The deallocate POST: the connection dropped once.
    faults.add({ method: 'POST', path: /\/virtualMachines\/flaky-vm\/deallocate\?/, drop: true })
    // The image PUT: a 500 once, then a dropped connection once.
    faults.add({ method: 'PUT', path: /\/images\/flaky-img\?/, status: 500 })
    faults.add({ method: 'PUT', path: /\/images\/flaky-img\?/, drop: true })
    // The Location monitor URL (the deallocate's final GET): a dropped connection once. Added first:
    // the first matching fault applies.
    faults.add({ method: 'GET', path: /[?&]monitor=true/, drop: true })
    // LRO polls (operation status documents / Location monitors): 500, a drop and a 429.
    faults.add({ method: 'GET', path: /\/locations\/westeurope\/operations\//, status: 500 })
    faults.add({ method: 'GET', path: /\/locations\/westeurope\/operations\//, drop: true })
    faults.add({
      method: 'GET',
      path: /\/locations\/westeurope\/operations\//,
      status: 429,
      retryAfter: 1
    })

    const before = cloud.emu.requests.length
    const r = await run({ 'source-vm': 'flaky-vm', 'image-name': 'flaky-img' })

    expect(errorLines(r.main)).toEqual([])
    expect(r.main.code).toBe(0)
    // Every fault was consumed.
    expect(cloud.emu.faults.pending).toEqual([])

    const log = requestsSince(before)
    const statuses = (re: RegExp, method: string): number[] =>
      log.filter(q => q.method === method && re.test(q.path)).map(q => q.status)
    // The faulted request, then the same request again, answered.
    expect(statuses(/\/virtualMachines\/flaky-vm$/, 'GET').slice(0, 2)).toEqual([429, 200])
    expect(statuses(/\/virtualMachines\/flaky-vm\/deallocate$/, 'POST')).toEqual([-1, 202])
    expect(statuses(/\/images\/flaky-img$/, 'PUT')).toEqual([500, -1, 201])
    const monitors = log.filter(q => q.method === 'GET' && q.query.monitor === 'true')
    expect(monitors.map(q => q.status).slice(0, 2)).toEqual([-1, 200])
    expect(monitors[1].path).toBe(monitors[0].path)
    const polls = log
      .filter(q => q.method === 'GET' && /\/locations\/westeurope\/operations\//.test(q.path))
      .filter(q => q !== monitors[0])
      .map(q => q.status)
    expect(polls.slice(0, 3)).toEqual([500, -1, 429])
    expect(polls.slice(3).every(s => s === 200 || s === 202)).toBe(true)
    expect(polls.length).toBeGreaterThan(3)

    const image = cloud.emu.resources.get(imageId('flaky-img')) as Body
    expect(image.properties.provisioningState).toBe('Succeeded')
    expect(r.outputs['image-id']).toBe(imageId('flaky-img'))
    expect(r.outputs['managed-image-id']).toBe(imageId('flaky-img'))
    expect(r.outputs.location).toBe(LOCATION)
    // One image PUT landed; nothing was created twice or left half-made.
    expect(
      cloud.emu.resources.list('Microsoft.Compute/images').filter(i => i.name === 'flaky-img')
    ).toHaveLength(1)
  })

  it('gets a fresh token when Azure says the token expired mid-run, and carries on', async () => {
    seedVm('token-vm')
    // The deallocate POST waits a moment at the emulator; meanwhile every issued token expires, so
    // ARM answers it 401 ExpiredAuthenticationToken.
    cloud.emu.faults.add({
      method: 'POST',
      path: /\/virtualMachines\/token-vm\/deallocate\?/,
      delayMs: 500
    })
    let tokensAtExpiry = -1
    const stop = whenRequest(
      q => q.method === 'POST' && /\/token-vm\/deallocate$/.test(q.path),
      () => {
        tokensAtExpiry = cloud.emu.tokenRequests.length
        cloud.emu.expireTokens()
      }
    )
    const before = cloud.emu.requests.length
    const r = await run({ 'source-vm': 'token-vm', 'image-name': 'token-img' }).finally(stop)

    expect(errorLines(r.main)).toEqual([])
    expect(r.main.code).toBe(0)
    expect(tokensAtExpiry).toBeGreaterThan(0)
    // A new token was asked for (with the client secret) after the expiry, and it was issued.
    const fresh = cloud.emu.tokenRequests.slice(tokensAtExpiry)
    expect(fresh.length).toBeGreaterThanOrEqual(1)
    expect(fresh.every(t => t.ok && t.via === 'client_secret')).toBe(true)
    // The rejected request was sent again and went through; so did everything after it.
    const deallocates = requestsSince(before).filter(
      q => q.method === 'POST' && /\/token-vm\/deallocate$/.test(q.path)
    )
    expect(deallocates.map(q => q.status)).toEqual([401, 202])
    const afterExpiry = requestsSince(cloud.emu.requests.indexOf(deallocates[1]))
    expect(afterExpiry.every(q => q.status !== 401)).toBe(true)
    expect(r.main.stdout).toMatch(
      /Azure rejected the access token \(ExpiredAuthenticationToken\); sending the request again with a new token/
    )
    expect(r.outputs['image-id']).toBe(imageId('token-img'))
  })

  it('gets a fresh token after an injected 401 ExpiredAuthenticationToken on the image PUT', async () => {
    seedVm('token-vm2')
    cloud.emu.faults.add({
      method: 'PUT',
      path: /\/images\/token-img2\?/,
      status: 401,
      code: 'ExpiredAuthenticationToken',
      message:
        "The access token expiry UTC time '1/1/2026 0:00:00 AM' is earlier than current UTC time."
    })
    const tokensBefore = cloud.emu.tokenRequests.length
    const before = cloud.emu.requests.length
    const r = await run({ 'source-vm': 'token-vm2', 'image-name': 'token-img2' })

    expect(errorLines(r.main)).toEqual([])
    expect(r.main.code).toBe(0)
    expect(cloud.emu.faults.pending).toEqual([])
    const puts = requestsSince(before).filter(
      q => q.method === 'PUT' && /\/images\/token-img2$/.test(q.path)
    )
    expect(puts.map(q => q.status)).toEqual([401, 201])
    // One token for the run, then one more after the rejection.
    const issued = cloud.emu.tokenRequests.slice(tokensBefore)
    expect(issued.filter(t => t.ok).length).toBeGreaterThanOrEqual(2)
    const putIndex = cloud.emu.requests.indexOf(puts[0])
    const lastToken = issued[issued.length - 1]
    expect(lastToken.time).toBeGreaterThanOrEqual(cloud.emu.requests[putIndex].time)
    expect(r.outputs['image-id']).toBe(imageId('token-img2'))
  })
})

describe('operations that end Failed', () => {
  it('removes a managed image whose creation failed, reports it, and a re-run succeeds', async () => {
    seedVm('fail-vm')
    cloud.emu.faults.add({
      method: 'PUT',
      path: /\/images\/fail-img\?/,
      failOperation: {
        code: 'InternalDiskManagementError',
        message: 'An internal disk management error occurred.'
      }
    })
    const before = cloud.emu.requests.length
    const r = await run({ 'source-vm': 'fail-vm', 'image-name': 'fail-img' })

    expect(r.main.code).toBe(1)
    const errors = errorLines(r.main)
    expect(errors).toHaveLength(1)
    const put = requestsSince(before).find(
      q => q.method === 'PUT' && /\/images\/fail-img$/.test(q.path)
    )
    expect(put?.status).toBe(201)
    // The essence on one line: the step, Azure's code and message, and a request id to quote.
    expect(errors[0]).toMatch(/^::error::Managed image failed: /)
    expect(errors[0]).toContain('InternalDiskManagementError')
    expect(errors[0]).toContain('An internal disk management error occurred.')
    expect(errors[0]).toMatch(/request id [0-9a-f-]{36}/)

    // The Failed image is deleted by the main step's cleanup: nothing of this run is left.
    const writes = writesSince(before).map(short)
    expect(writes).toEqual([
      'POST virtualMachines/fail-vm/deallocate',
      'POST virtualMachines/fail-vm/generalize',
      'PUT images/fail-img',
      'DELETE images/fail-img'
    ])
    expect(cloud.emu.resources.get(imageId('fail-img'))).toBeUndefined()
    expect(r.main.stdout).toContain("Cleanup: deleted unfinished managed image 'fail-img'")
    // The ledger ends empty, so the post step has nothing to do, and says so.
    expect(ledgerEntries(r.state.ledger)).toEqual([])
    expect(r.post?.code).toBe(0)
    expect(postLines(r)).toContain('Post: nothing this run created is left to clean up.')
    expect(r.summary).toContain('Managed image failed')
    expect(r.outputs['image-id']).toBeUndefined()

    // Re-run attempt 2 of the same run: the VM is already generalized, the image is created.
    const again = cloud.emu.requests.length
    const retry = await run({ 'source-vm': 'fail-vm', 'image-name': 'fail-img' }, { runAttempt: 2 })
    expect(errorLines(retry.main)).toEqual([])
    expect(retry.main.code).toBe(0)
    expect(writesSince(again).map(short)).toEqual(['PUT images/fail-img'])
    const image = cloud.emu.resources.get(imageId('fail-img')) as Body
    expect(image.properties.provisioningState).toBe('Succeeded')
    expect(image.tags['github-run-attempt']).toBe('2')
    expect(retry.outputs['image-id']).toBe(imageId('fail-img'))
  })

  it('when the cleanup in the main step fails, the post step finishes it from the ledger', async () => {
    seedVm('fail-vm3')
    cloud.emu.faults.add({
      method: 'PUT',
      path: /\/images\/fail-img3\?/,
      failOperation: { code: 'InternalOperationError', message: 'Image creation failed.' }
    })
    // The main step's DELETE is refused once (409 is not retried).
    cloud.emu.faults.add({
      method: 'DELETE',
      path: /\/images\/fail-img3\?/,
      status: 409,
      code: 'OperationNotAllowed',
      message: 'Another operation is in progress on the image.'
    })
    const before = cloud.emu.requests.length
    const r = await run({ 'source-vm': 'fail-vm3', 'image-name': 'fail-img3' })

    expect(r.main.code).toBe(1)
    expect(errorLines(r.main)).toEqual([
      expect.stringMatching(
        /^::error::Managed image failed: InternalOperationError: Image creation failed\. \(request id [0-9a-f-]{36}\)$/
      )
    ])
    expect(r.main.stdout).toMatch(
      /::warning::Cleanup of \S+\/images\/fail-img3 failed: .*Another operation is in progress/
    )
    // The ledger the main step saved still lists the image; the post step removed it.
    expect(ledgerEntries(r.state.ledger)).toEqual([
      { kind: 'managed-image', id: imageId('fail-img3') }
    ])
    expect(postLines(r)).toContain("Cleanup: deleted unfinished managed image 'fail-img3'")
    const deletes = requestsSince(before).filter(q => q.method === 'DELETE')
    expect(deletes.map(q => `${short(q)} ${q.status}`)).toEqual([
      'DELETE images/fail-img3 409',
      'DELETE images/fail-img3 202'
    ])
    expect(cloud.emu.resources.get(imageId('fail-img3'))).toBeUndefined()
    expect(r.summary).toContain('## Cleanup after a failed or cancelled run')
  })

  it('removes a gallery image version whose creation failed, and re-run attempt 2 succeeds', async () => {
    seedVm('gfail-vm')
    const version = '1.0.7'
    cloud.emu.faults.add({
      method: 'PUT',
      path: /\/images\/gfail-def\/versions\/1\.0\.7\?/,
      failOperation: {
        code: 'ReplicationFailed',
        message: 'Replication to westeurope failed: disk copy error.'
      }
    })
    const inputs = {
      'source-vm': 'gfail-vm',
      gallery: GALLERY,
      'gallery-image': 'gfail-def',
      'create-gallery-image': 'true',
      publisher: 'contoso',
      offer: 'golden',
      sku: 'ubuntu',
      'gallery-image-version': version
    }
    const before = cloud.emu.requests.length
    const r = await run(inputs)

    expect(r.main.code).toBe(1)
    const errors = errorLines(r.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/^::error::Gallery image version failed: /)
    expect(errors[0]).toContain('ReplicationFailed')
    expect(errors[0]).toContain('Replication to westeurope failed: disk copy error.')
    expect(errors[0]).toMatch(/request id [0-9a-f-]{36}/)

    const writes = writesSince(before).map(short)
    expect(writes).toEqual([
      'POST virtualMachines/gfail-vm/deallocate',
      'POST virtualMachines/gfail-vm/generalize',
      'PUT galleries/fail_gallery/images/gfail-def',
      'PUT galleries/fail_gallery/images/gfail-def/versions/1.0.7',
      'DELETE galleries/fail_gallery/images/gfail-def/versions/1.0.7'
    ])
    expect(cloud.emu.resources.get(versionId('gfail-def', version))).toBeUndefined()
    expect(r.main.stdout).toContain('Cleanup: deleted unfinished gallery image version 1.0.7')
    expect(ledgerEntries(r.state.ledger)).toEqual([])
    expect(postLines(r)).toContain('Post: nothing this run created is left to clean up.')
    expect(r.outputs['gallery-image-version-id']).toBeUndefined()

    const again = cloud.emu.requests.length
    const retry = await run(inputs, { runAttempt: 2 })
    expect(errorLines(retry.main)).toEqual([])
    expect(retry.main.code).toBe(0)
    expect(writesSince(again).map(short)).toEqual([
      'PUT galleries/fail_gallery/images/gfail-def/versions/1.0.7'
    ])
    const created = cloud.emu.resources.get(versionId('gfail-def', version)) as Body
    expect(created.properties.provisioningState).toBe('Succeeded')
    expect(retry.outputs['gallery-image-version-id']).toBe(versionId('gfail-def', version))
    expect(retry.outputs['gallery-image-version']).toBe(version)
  })
})

describe('permissions', () => {
  it('reports missing permissions before any write, naming the missing actions', async () => {
    cloud.emu.addResourceGroup('readonly-rg', LOCATION)
    seedVm('ro-vm', 'readonly-rg')
    cloud.emu.setPermissions('readonly-rg', ['Microsoft.Compute/*/read'])
    const before = cloud.emu.requests.length
    const r = await run({
      'resource-group': 'readonly-rg',
      'source-vm': 'ro-vm',
      'image-name': 'ro-img'
    })

    expect(r.main.code).toBe(1)
    expect(writesSince(before)).toEqual([])
    expect(
      requestsSince(before).filter(q => q.method !== 'GET' && q.path.startsWith('/subscriptions/'))
    ).toEqual([])
    // The permissions were read from Azure.
    expect(
      requestsSince(before).some(q =>
        /\/providers\/Microsoft\.Authorization\/permissions$/.test(q.path)
      )
    ).toBe(true)
    const errors = errorLines(r.main)
    expect(errors).toHaveLength(1)
    // The one error line names what is missing; the log lists each action with the role that grants it.
    for (const action of [
      'Microsoft.Compute/virtualMachines/deallocate/action',
      'Microsoft.Compute/virtualMachines/generalize/action',
      'Microsoft.Compute/images/write'
    ]) {
      expect(errors[0]).toContain(action)
      expect(r.main.stdout).toMatch(new RegExp(`- ${action.replace(/\//g, '\\/')} \\(granted by `))
    }
    expect(errors[0]).not.toContain('Microsoft.Compute/images/read')
    expect(r.main.stdout).toContain('az role assignment create --assignee')
    expect(r.post?.code).toBe(0)
  })

  it('warns and goes on when the permissions cannot be read', async () => {
    seedVm('perm-vm')
    cloud.emu.faults.add({
      method: 'GET',
      path: /\/providers\/Microsoft\.Authorization\/permissions\?/,
      status: 403,
      code: 'AuthorizationFailed',
      message:
        "The client does not have authorization to perform action 'Microsoft.Authorization/permissions/read' over scope '/subscriptions/x/resourceGroups/build-rg'."
    })
    const before = cloud.emu.requests.length
    const r = await run({ 'source-vm': 'perm-vm', 'image-name': 'perm-img' })

    expect(cloud.emu.faults.pending).toEqual([])
    const permissionReads = requestsSince(before).filter(q =>
      /\/Microsoft\.Authorization\/permissions$/.test(q.path)
    )
    expect(permissionReads.map(q => q.status)).toEqual([403])
    expect(r.main.stdout).toMatch(
      /::warning::Could not read this identity's permissions on .*AuthorizationFailed.*continuing without the permissions preflight/
    )
    expect(errorLines(r.main)).toEqual([])
    expect(r.main.code).toBe(0)
    expect(r.outputs['image-id']).toBe(imageId('perm-img'))
  })
})

describe('cancellation', () => {
  it('SIGINT while deallocating: non-zero exit, a clear error, the post step finds nothing to clean', async () => {
    seedVm('sig-vm')
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
    // No poll of the image's operation gets through, so the image is still Creating when the job is
    // cancelled; the post step's DELETE answers at once (no operation to poll).
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
    const writes = writesSince(before).map(short)
    expect(writes).toEqual(['PUT images/sig-img2', 'DELETE images/sig-img2'])
    // The DELETE came from the post step, after the image was seen unfinished.
    expect(r.post?.code).toBe(0)
    expect(postLines(r)).toContain("Cleanup: deleted unfinished managed image 'sig-img2'")
    expect(cloud.emu.resources.get(imageId('sig-img2'))).toBeUndefined()
    // The post step's summary says what it removed.
    expect(r.summary).toContain("deleted unfinished managed image 'sig-img2'")
  })
})

/**
 * Every token the emulator issues has one of these shapes (identity.ts `accessToken`): ARM and
 * storage tokens are JWTs (base64url JSON header and payload, which
 * start `eyJ`, and a 32-byte signature). GitHub ID tokens are JWTs too, and no more printable.
 */
const TOKEN = /emu\.[A-Za-z0-9_-]{32}|eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}/

/**
 * Everything either step wrote. `::add-mask::` commands are the runner's instructions to mask a
 * value (it consumes them and shows nothing); they are checked separately.
 */
function everything(r: ActionRun): string {
  const files = ['state', 'output', 'summary.md'].map(f => readFileSync(join(r.dir, f), 'utf8'))
  const text = [r.allText, JSON.stringify(r.outputs), JSON.stringify(r.state), r.summary, ...files]
  return text
    .join('\n')
    .split('\n')
    .filter(l => !l.startsWith('::add-mask::'))
    .join('\n')
}

function expectNoSecrets(r: ActionRun, clientSecret = cloud.emu.clientSecret): void {
  // The client secret is registered with the runner's masker before anything could print it.
  const lines = r.main.stdout.split('\n')
  const mask = lines.indexOf(`::add-mask::${clientSecret}`)
  expect(mask).toBeGreaterThanOrEqual(0)
  expect(
    lines.slice(0, mask).some(l => l.startsWith('::debug::') || l.startsWith('::group::'))
  ).toBe(false)
  const text = everything(r)
  expect(text).not.toContain(clientSecret)
  expect(text).not.toMatch(TOKEN)
  expect(text).not.toMatch(/Bearer\s+[A-Za-z0-9._-]{8,}/i)
  expect(text).not.toMatch(/\bsig(?:=|%3D|%253D)(?!\*\*\*)[^&\s"'<>]+/i)
  expect(text).not.toMatch(/client_secret=(?!\*\*\*)/i)
  // Nor any value the action itself registered as a secret (the SAS URL, its query, its signature).
  for (const value of maskedValues(r)) expect(text).not.toContain(value)
}

/** The values the steps registered with `::add-mask::` (workflow command data unescaped). */
function maskedValues(r: ActionRun): string[] {
  return r.allText
    .split('\n')
    .filter(l => l.startsWith('::add-mask::'))
    .map(l =>
      l
        .slice('::add-mask::'.length)
        .replace(/%0D/g, '\r')
        .replace(/%0A/g, '\n')
        .replace(/%25/g, '%')
    )
    .filter(v => v.length >= 8)
}

describe('secrets with debug logging on', () => {
  it('prints no client secret, bearer token or SAS signature in a successful run', async () => {
    seedVm('secret-vm')
    const tokensBefore = cloud.emu.tokenRequests.length
    const r = await run(
      { 'source-vm': 'secret-vm', 'image-name': 'secret-img', 'backup-snapshot': 'true' },
      { env: DEBUG }
    )
    expect(errorLines(r.main)).toEqual([])
    expect(r.main.code).toBe(0)
    // Debug logging was on: the request log lines are there.
    expect(r.main.stdout).toMatch(/::debug::PUT \/subscriptions\/.*\/images\/secret-img 201 \(/)
    expect(cloud.emu.tokenRequests.length).toBeGreaterThan(tokensBefore)
    expectNoSecrets(r)
  })

  it('prints no secret in a failing run, an expired token or a cleanup either', async () => {
    seedVm('secret-vm2')
    cloud.emu.faults.add({
      method: 'PUT',
      path: /\/images\/secret-img2\?/,
      status: 401,
      code: 'ExpiredAuthenticationToken'
    })
    cloud.emu.faults.add({
      method: 'PUT',
      path: /\/images\/secret-img2\?/,
      failOperation: { code: 'InternalOperationError', message: 'Image creation failed.' }
    })
    const r = await run({ 'source-vm': 'secret-vm2', 'image-name': 'secret-img2' }, { env: DEBUG })
    expect(r.main.code).toBe(1)
    expect(errorLines(r.main)).toHaveLength(1)
    expect(r.main.stdout).toContain('Cleanup: deleted unfinished managed image')
    expectNoSecrets(r)
  })
})

describe('upload mode: SAS signatures and the temporary disk', () => {
  let up: LocalCloud
  let dir: string

  beforeAll(async () => {
    up = await startLocalCloud({
      withStorage: true,
      lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 }
    })
    up.emu.addResourceGroup(RG, LOCATION)
    dir = mkdtempSync(join(tmpdir(), 'failures-upload-'))
  })
  afterAll(async () => {
    await up?.close()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('a failed image after an upload removes image and disk, and no SAS signature is printed', async () => {
    const path = join(dir, 'os.raw')
    writeFileSync(path, Buffer.alloc(1024 * 1024, 0x5a))
    truncateSync(path, 20 * 1024 * 1024)
    up.emu.faults.add({
      method: 'PUT',
      path: /\/images\/up-fail-img\?/,
      failOperation: { code: 'InvalidVhd', message: 'The VHD is not a valid OS disk.' }
    })
    const before = up.emu.requests.length
    const r = await runAction({
      inputs: {
        ...up.inputs,
        'resource-group': RG,
        vhd: path,
        'os-type': 'Linux',
        'image-name': 'up-fail-img'
      },
      env: { ...up.env, ...DEBUG }
    })
    expect(r.main.code).toBe(1)
    const errors = errorLines(r.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(
      /^::error::Managed image failed: InvalidVhd: The VHD is not a valid OS disk\. \(request id [0-9a-f-]{36}\)$/
    )
    // The request id quoted is that of the PUT that started the failed operation (its debug line).
    const putLine = /::debug::PUT \S+\/images\/up-fail-img 201 \(([0-9a-f-]{36})\)/.exec(
      r.main.stdout
    )
    expect(putLine).not.toBeNull()
    expect(errors[0]).toContain(`(request id ${putLine?.[1]})`)
    const disk = 'up-fail-img-upload-9000001-os'
    const writes = up.emu.writes().filter(w => up.emu.requests.indexOf(w) >= before)
    expect(writes.map(short)).toEqual([
      `PUT disks/${disk}`,
      `POST disks/${disk}/beginGetAccess`,
      `POST disks/${disk}/endGetAccess`,
      'PUT images/up-fail-img',
      'DELETE images/up-fail-img',
      `DELETE disks/${disk}`
    ])
    // A write SAS was handed out: its URL and signature were registered with the masker, and no
    // signature appears anywhere in the output.
    expect(writes[1].body).toMatchObject({ access: 'Write' })
    expect(r.main.stdout).toMatch(/^::add-mask::[^\n]*[?&]sig=/m)
    expect(maskedValues(r).filter(v => /sig=/.test(v)).length).toBeGreaterThan(0)
    expectNoSecrets(r, up.emu.clientSecret)
    expect(r.allText).not.toContain(AZURITE_ACCOUNT_KEY)
    // Nothing of the run is left: no image, no temporary disk; the post step has nothing to do.
    expect(up.emu.resources.list('Microsoft.Compute/images')).toEqual([])
    expect(up.emu.resources.list('Microsoft.Compute/disks')).toEqual([])
    expect(ledgerEntries(r.state.ledger)).toEqual([])
    expect(postLines(r)).toContain('Post: nothing this run created is left to clean up.')
  })
})

describe('cleanup: only what carries this run’s tag, and never what succeeded', () => {
  it('leaves alone a managed image that another run put in its place after the preflight', async () => {
    seedVm('foreign-vm')
    // The deallocate waits at the emulator; meanwhile another run starts creating 'foreign-img'.
    cloud.emu.faults.add({
      method: 'POST',
      path: /\/virtualMachines\/foreign-vm\/deallocate\?/,
      delayMs: 300
    })
    // The action's image PUT is refused: the run fails with the image in its ledger.
    cloud.emu.faults.add({
      method: 'PUT',
      path: /\/images\/foreign-img\?/,
      status: 409,
      code: 'OperationNotAllowed',
      message: 'Another operation is in progress on the image.'
    })
    let seeded = false
    const stop = whenRequest(
      q => q.method === 'POST' && /\/virtualMachines\/foreign-vm\/deallocate$/.test(q.path),
      () => {
        const image = cloud.emu.addImage({
          resourceGroup: RG,
          name: 'foreign-img',
          location: LOCATION,
          hyperVGeneration: 'V2',
          tags: { 'github-run-id': '1' }
        })
        // Still being created by that other run: were it this run's, cleanup would delete it.
        image.properties.provisioningState = 'Creating'
        seeded = true
      }
    )
    const before = cloud.emu.requests.length
    const r = await run({ 'source-vm': 'foreign-vm', 'image-name': 'foreign-img' }).finally(stop)

    expect(seeded).toBe(true)
    expect(cloud.emu.faults.pending).toEqual([])
    expect(r.main.code).toBe(1)
    expect(errorLines(r.main)).toEqual([
      expect.stringMatching(/^::error::Managed image failed: .*Another operation is in progress/)
    ])
    // The preflight found no image: it appeared later, made by run 1.
    const imageRequests = requestsSince(before).filter(q => /\/images\/foreign-img$/.test(q.path))
    expect(imageRequests.map(q => `${q.method} ${q.status}`)).toEqual([
      'GET 404',
      'PUT 409',
      'GET 200'
    ])
    // The ledger listed the image; cleanup read it, saw another run's tag and sent no DELETE.
    expect(writesSince(before).map(short)).toEqual([
      'POST virtualMachines/foreign-vm/deallocate',
      'POST virtualMachines/foreign-vm/generalize',
      'PUT images/foreign-img'
    ])
    expect(r.main.stdout).toContain(
      "Cleanup: managed image 'foreign-img' is not this job's (owner key): left alone"
    )
    const image = cloud.emu.resources.get(imageId('foreign-img')) as Body
    expect(image.tags).toEqual({ 'github-run-id': '1' })
    expect(image.properties.provisioningState).toBe('Creating')
    // Handled: off the ledger, so the post step has nothing to do either.
    expect(ledgerEntries(r.state.ledger)).toEqual([])
    expect(r.post?.code).toBe(0)
    expect(postLines(r)).toContain('Post: nothing this run created is left to clean up.')
    expect(r.summary).toContain("managed image 'foreign-img' is not this job's (owner key)")
  })

  it('leaves alone a gallery image version that another run created after the preflight', async () => {
    seedVm('gforeign-vm')
    cloud.emu.addGalleryImage({
      resourceGroup: RG,
      gallery: GALLERY,
      name: 'gforeign-def',
      osType: 'Linux',
      hyperVGeneration: 'V2'
    })
    const version = '2.0.1'
    cloud.emu.faults.add({
      method: 'POST',
      path: /\/virtualMachines\/gforeign-vm\/deallocate\?/,
      delayMs: 300
    })
    cloud.emu.faults.add({
      method: 'PUT',
      path: /\/images\/gforeign-def\/versions\/2\.0\.1\?/,
      status: 409,
      code: 'OperationNotAllowed',
      message: 'Another operation is in progress on gallery image version 2.0.1.'
    })
    let seeded = false
    const stop = whenRequest(
      q => q.method === 'POST' && /\/virtualMachines\/gforeign-vm\/deallocate$/.test(q.path),
      () => {
        cloud.emu.addGalleryImageVersion({
          resourceGroup: RG,
          gallery: GALLERY,
          image: 'gforeign-def',
          name: version,
          tags: { 'github-run-id': '1' },
          provisioningState: 'Creating'
        })
        seeded = true
      }
    )
    const before = cloud.emu.requests.length
    const r = await run({
      'source-vm': 'gforeign-vm',
      gallery: GALLERY,
      'gallery-image': 'gforeign-def',
      'gallery-image-version': version
    }).finally(stop)

    expect(seeded).toBe(true)
    expect(cloud.emu.faults.pending).toEqual([])
    expect(r.main.code).toBe(1)
    expect(errorLines(r.main)).toEqual([
      expect.stringMatching(/^::error::Gallery image version failed: .*Another operation/)
    ])
    const versionRequests = requestsSince(before).filter(q =>
      /\/images\/gforeign-def\/versions\/2\.0\.1$/.test(q.path)
    )
    // The preflight's GET found nothing; the PUT was refused; cleanup only read it.
    expect(versionRequests[0].method).toBe('GET')
    expect(versionRequests[0].status).toBe(404)
    expect(
      versionRequests.filter(q => q.method !== 'GET').map(q => `${q.method} ${q.status}`)
    ).toEqual(['PUT 409'])
    expect(writesSince(before).map(short)).toEqual([
      'POST virtualMachines/gforeign-vm/deallocate',
      'POST virtualMachines/gforeign-vm/generalize',
      'PUT galleries/fail_gallery/images/gforeign-def/versions/2.0.1'
    ])
    expect(r.main.stdout).toContain(
      "Cleanup: gallery image version 2.0.1 is not this job's (owner key): left alone"
    )
    const found = cloud.emu.resources.get(versionId('gforeign-def', version)) as Body
    expect(found.tags).toEqual({ 'github-run-id': '1' })
    expect(found.properties.provisioningState).toBe('Creating')
    expect(ledgerEntries(r.state.ledger)).toEqual([])
    expect(postLines(r)).toContain('Post: nothing this run created is left to clean up.')
  })

  it('keeps a managed image that succeeded although the run failed reading it back', async () => {
    seedVm('keep-vm')
    // The preflight GET passes; the read of the finished image (the LRO's final GET) is refused.
    cloud.emu.faults.add({ method: 'GET', path: /\/images\/keep-img\?/ })
    cloud.emu.faults.add({
      method: 'GET',
      path: /\/images\/keep-img\?/,
      status: 403,
      code: 'AuthorizationFailed',
      message: 'The client is not allowed to read the image right now.'
    })
    const before = cloud.emu.requests.length
    const r = await run({ 'source-vm': 'keep-vm', 'image-name': 'keep-img' })

    expect(cloud.emu.faults.pending).toEqual([])
    expect(r.main.code).toBe(1)
    expect(errorLines(r.main)).toEqual([
      expect.stringMatching(/^::error::Managed image failed: .*AuthorizationFailed/)
    ])
    const imageRequests = requestsSince(before).filter(q => /\/images\/keep-img$/.test(q.path))
    expect(imageRequests.map(q => `${q.method} ${q.status}`)).toEqual([
      'GET 404',
      'PUT 201',
      'GET 403',
      'GET 200'
    ])
    // The image is Succeeded in Azure, so cleanup keeps it: no DELETE, from main or post.
    expect(r.main.stdout).toContain("Cleanup: managed image 'keep-img' succeeded: kept")
    expect(writesSince(before).map(short)).toEqual([
      'POST virtualMachines/keep-vm/deallocate',
      'POST virtualMachines/keep-vm/generalize',
      'PUT images/keep-img'
    ])
    const image = cloud.emu.resources.get(imageId('keep-img')) as Body
    expect(image.properties.provisioningState).toBe('Succeeded')
    expect(image.tags['github-run-id']).toBe('9000001')
    expect(ledgerEntries(r.state.ledger)).toEqual([])
    expect(postLines(r)).toContain('Post: nothing this run created is left to clean up.')
  })

  it('keeps a gallery image version that succeeded: neither main nor the post step deletes it', async () => {
    seedVm('gkeep-vm')
    const version = '3.0.0'
    const path = /\/images\/gkeep-def\/versions\/3\.0\.0\?/
    // The LRO's own final read passes; the action's read of the finished version (with its
    // replication status) is refused, so the run fails with the version still in its ledger.
    cloud.emu.faults.add({ method: 'GET', path })
    cloud.emu.faults.add({
      method: 'GET',
      path: /\/images\/gkeep-def\/versions\/3\.0\.0\?.*expand=ReplicationStatus/i,
      status: 403,
      code: 'AuthorizationFailed',
      message: 'The client is not allowed to read the gallery image version right now.'
    })
    // The main step's cleanup cannot read it either: the post step finishes the cleanup.
    cloud.emu.faults.add({
      method: 'GET',
      path,
      status: 409,
      code: 'OperationNotAllowed',
      message: 'Another operation is in progress on the gallery image version.'
    })
    const before = cloud.emu.requests.length
    const r = await run({
      'source-vm': 'gkeep-vm',
      gallery: GALLERY,
      'gallery-image': 'gkeep-def',
      'create-gallery-image': 'true',
      publisher: 'contoso',
      offer: 'golden',
      sku: 'keep',
      'gallery-image-version': version
    })

    expect(cloud.emu.faults.pending).toEqual([])
    expect(r.main.code).toBe(1)
    expect(errorLines(r.main)).toEqual([
      expect.stringMatching(/^::error::Gallery image version failed: .*AuthorizationFailed/)
    ])
    const versionRequests = requestsSince(before).filter(q =>
      /\/images\/gkeep-def\/versions\/3\.0\.0$/.test(q.path)
    )
    // PUT, the LRO's final read, the refused read, main's cleanup read (refused), post's read.
    expect(versionRequests.map(q => `${q.method} ${q.status}`)).toEqual([
      'PUT 201',
      'GET 200',
      'GET 403',
      'GET 409',
      'GET 200'
    ])
    expect(r.main.stdout).toMatch(
      /::warning::Cleanup of \S+\/versions\/3\.0\.0 failed: .*Another operation is in progress/
    )
    expect(ledgerEntries(r.state.ledger)).toEqual([
      { kind: 'gallery-image-version', id: versionId('gkeep-def', version) }
    ])
    // The post step found it Succeeded and kept it: no DELETE from either step.
    expect(r.post?.code).toBe(0)
    expect(postLines(r)).toContain('Cleanup: gallery image version 3.0.0 succeeded: kept')
    expect(r.summary).toContain('gallery image version 3.0.0 succeeded: kept')
    expect(requestsSince(before).filter(q => q.method === 'DELETE')).toEqual([])
    expect(writesSince(before).map(short)).toEqual([
      'POST virtualMachines/gkeep-vm/deallocate',
      'POST virtualMachines/gkeep-vm/generalize',
      'PUT galleries/fail_gallery/images/gkeep-def',
      'PUT galleries/fail_gallery/images/gkeep-def/versions/3.0.0'
    ])
    const kept = cloud.emu.resources.get(versionId('gkeep-def', version)) as Body
    expect(kept.properties.provisioningState).toBe('Succeeded')
    expect(kept.tags['github-run-id']).toBe('9000001')
  })

  it('a failure after the image and version succeeded (deleting the source VM) deletes neither', async () => {
    seedVm('after-vm')
    cloud.emu.faults.add({
      method: 'DELETE',
      path: /\/virtualMachines\/after-vm\?/,
      status: 409,
      code: 'OperationNotAllowed',
      message: 'The VM is locked.'
    })
    const version = '4.0.0'
    const before = cloud.emu.requests.length
    const r = await run({
      'source-vm': 'after-vm',
      'image-name': 'after-img',
      gallery: GALLERY,
      'gallery-image': 'after-def',
      'create-gallery-image': 'true',
      publisher: 'contoso',
      offer: 'golden',
      sku: 'after',
      'gallery-image-version': version,
      'delete-source-vm': 'true'
    })

    expect(cloud.emu.faults.pending).toEqual([])
    expect(r.main.code).toBe(1)
    expect(errorLines(r.main)).toEqual([
      expect.stringMatching(/^::error::Delete source VM failed: .*The VM is locked/)
    ])
    expect(writesSince(before).map(short)).toEqual([
      'POST virtualMachines/after-vm/deallocate',
      'POST virtualMachines/after-vm/generalize',
      'PUT images/after-img',
      'PUT galleries/fail_gallery/images/after-def',
      'PUT galleries/fail_gallery/images/after-def/versions/4.0.0',
      'DELETE virtualMachines/after-vm'
    ])
    // Both succeeded and left the ledger: nothing for either cleanup to touch.
    expect(ledgerEntries(r.state.ledger)).toEqual([])
    expect(postLines(r)).toContain('Post: nothing this run created is left to clean up.')
    const image = cloud.emu.resources.get(imageId('after-img')) as Body
    expect(image.properties.provisioningState).toBe('Succeeded')
    const published = cloud.emu.resources.get(versionId('after-def', version)) as Body
    expect(published.properties.provisioningState).toBe('Succeeded')
    expect(published.properties.storageProfile.source.id).toBe(imageId('after-img'))
  })

  describe('upload mode', () => {
    let up: LocalCloud
    let dir: string

    beforeAll(async () => {
      up = await startLocalCloud({
        withStorage: true,
        lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 }
      })
      up.emu.addResourceGroup(RG, LOCATION)
      dir = mkdtempSync(join(tmpdir(), 'failures-tag-'))
    })
    afterAll(async () => {
      await up?.close()
      if (dir) rmSync(dir, { recursive: true, force: true })
    })

    it('leaves alone an upload disk that no longer carries this run’s tag', async () => {
      const path = join(dir, 'os.raw')
      writeFileSync(path, Buffer.alloc(1024 * 1024, 0x3c))
      truncateSync(path, 20 * 1024 * 1024)
      const disk = 'dforeign-img-upload-9000001-os'
      const diskId = `/subscriptions/${up.emu.subscriptionId}/resourceGroups/${RG}/providers/Microsoft.Compute/disks/${disk}`
      // The image PUT waits at the emulator (then fails); meanwhile the disk's tag is changed to
      // another run's, so by the time cleanup reads it, the disk is not this run's.
      up.emu.faults.add({
        method: 'PUT',
        path: /\/images\/dforeign-img\?/,
        delayMs: 300,
        failOperation: { code: 'InvalidVhd', message: 'The VHD is not a valid OS disk.' }
      })
      let retagged = false
      let seen = up.emu.requests.length
      const timer = setInterval(() => {
        for (; seen < up.emu.requests.length; seen++) {
          const q = up.emu.requests[seen]
          if (q.method === 'PUT' && /\/images\/dforeign-img$/.test(q.path)) {
            clearInterval(timer)
            const body = up.emu.resources.get(diskId) as Body
            // Another job's now: its run id and its owner key (issue 14: cleanup keys on the latter).
            body.tags = { ...body.tags, 'github-run-id': '1', 'github-owner-key': 'another-job' }
            retagged = true
            return
          }
        }
      }, 10)
      const before = up.emu.requests.length
      const r = await runAction({
        inputs: {
          ...up.inputs,
          'resource-group': RG,
          vhd: path,
          'os-type': 'Linux',
          'image-name': 'dforeign-img'
        },
        env: up.env
      }).finally(() => clearInterval(timer))

      expect(retagged).toBe(true)
      expect(up.emu.faults.pending).toEqual([])
      expect(r.main.code).toBe(1)
      expect(errorLines(r.main)).toEqual([
        expect.stringMatching(/^::error::Managed image failed: InvalidVhd/)
      ])
      // The failed image (this run's) is deleted; the disk, now another run's, is not.
      const writes = up.emu.writes().filter(w => up.emu.requests.indexOf(w) >= before)
      expect(writes.map(short)).toEqual([
        `PUT disks/${disk}`,
        `POST disks/${disk}/beginGetAccess`,
        `POST disks/${disk}/endGetAccess`,
        'PUT images/dforeign-img',
        'DELETE images/dforeign-img'
      ])
      expect(r.main.stdout).toContain("Cleanup: deleted unfinished managed image 'dforeign-img'")
      expect(r.main.stdout).toContain(
        `Cleanup: disk '${disk}' is not this job's (owner key): left alone`
      )
      const left = up.emu.resources.get(diskId) as Body
      expect(left.tags['github-run-id']).toBe('1')
      expect(ledgerEntries(r.state.ledger)).toEqual([])
      expect(postLines(r)).toContain('Post: nothing this run created is left to clean up.')
    })
  })
})
