/**
 * Transient faults the action rides through: 429 with Retry-After, 500s and dropped connections
 * on ARM calls and LRO polls, and a token Azure says expired mid-run.
 * The bundled action on its failure paths against the ARM emulator; evidence is the emulator's
 * request log and what the action wrote.
 */
import { describe, expect, it } from '@jest/globals'
import { errorLines } from '../support/action-runner.js'
import type { Body } from '../emulator/index.js'
import { LOCATION, cloud, imageId, run, useFailureCloud } from '../support/failure-run.js'

useFailureCloud()

describe('transient faults', () => {
  it('captures through 429 (Retry-After), 500 and dropped connections on ARM calls and LRO polls', async () => {
    cloud.seedVm('flaky-vm')
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

    const log = cloud.requestsSince(before)
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
    cloud.seedVm('token-vm')
    // The deallocate POST waits a moment at the emulator; meanwhile every issued token expires, so
    // ARM answers it 401 ExpiredAuthenticationToken.
    cloud.emu.faults.add({
      method: 'POST',
      path: /\/virtualMachines\/token-vm\/deallocate\?/,
      delayMs: 500
    })
    let tokensAtExpiry = -1
    const stop = cloud.whenRequest(
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
    const deallocates = cloud
      .requestsSince(before)
      .filter(q => q.method === 'POST' && /\/token-vm\/deallocate$/.test(q.path))
    expect(deallocates.map(q => q.status)).toEqual([401, 202])
    const afterExpiry = cloud.requestsSince(cloud.emu.requests.indexOf(deallocates[1]))
    expect(afterExpiry.every(q => q.status !== 401)).toBe(true)
    expect(r.main.stdout).toMatch(
      /Azure rejected the access token \(ExpiredAuthenticationToken\); sending the request again with a new token/
    )
    expect(r.outputs['image-id']).toBe(imageId('token-img'))
  })

  it('gets a fresh token after an injected 401 ExpiredAuthenticationToken on the image PUT', async () => {
    cloud.seedVm('token-vm2')
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
    const puts = cloud
      .requestsSince(before)
      .filter(q => q.method === 'PUT' && /\/images\/token-img2$/.test(q.path))
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
