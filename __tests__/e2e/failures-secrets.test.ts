/**
 * Secrets with debug logging on: no client secret, bearer token or SAS signature in any log,
 * output, state or summary, in successful, failing and upload runs.
 * The bundled action on its failure paths against the ARM emulator; evidence is the emulator's
 * request log and what the action wrote.
 */
import { describe, expect, it } from '@jest/globals'
import {
  errorLines,
  everythingWritten,
  ledgerEntries,
  maskedValues,
  type ActionRun
} from '../support/action-runner.js'
import { AZURITE_ACCOUNT_KEY } from '../support/azurite.js'
import { short } from '../support/cloud.js'
import { useUploadCloud } from '../support/upload-run.js'
import { MiB, writeRawImage } from '../upload-it/fixtures.js'
import { cloud, DEBUG, run, postLines, useFailureCloud } from '../support/failure-run.js'

useFailureCloud()

/**
 * Every token the emulator issues has one of these shapes (identity.ts `accessToken`): ARM and
 * storage tokens are JWTs (base64url JSON header and payload, which
 * start `eyJ`, and a 32-byte signature). GitHub ID tokens are JWTs too, and no more printable.
 */
const TOKEN = /emu\.[A-Za-z0-9_-]{32}|eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}/

function expectNoSecrets(r: ActionRun, clientSecret = cloud.emu.clientSecret): void {
  // The client secret is registered with the runner's masker before anything could print it.
  const lines = r.main.stdout.split('\n')
  const mask = lines.indexOf(`::add-mask::${clientSecret}`)
  expect(mask).toBeGreaterThanOrEqual(0)
  expect(
    lines.slice(0, mask).some(l => l.startsWith('::debug::') || l.startsWith('::group::'))
  ).toBe(false)
  const text = everythingWritten(r)
  expect(text).not.toContain(clientSecret)
  expect(text).not.toMatch(TOKEN)
  expect(text).not.toMatch(/Bearer\s+[A-Za-z0-9._-]{8,}/i)
  expect(text).not.toMatch(/\bsig(?:=|%3D|%253D)(?!\*\*\*)[^&\s"'<>]+/i)
  expect(text).not.toMatch(/client_secret=(?!\*\*\*)/i)
  // Nor any value the action itself registered as a secret (the SAS URL, its query, its signature).
  // (Short values could stand in any text by chance.)
  for (const value of maskedValues(r).filter(v => v.length >= 8)) expect(text).not.toContain(value)
}

describe('secrets with debug logging on', () => {
  it('prints no client secret, bearer token or SAS signature in a successful run', async () => {
    cloud.seedVm('secret-vm')
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
    cloud.seedVm('secret-vm2')
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
  const up = useUploadCloud('failures-upload')

  it('a failed image after an upload removes image and disk, and no SAS signature is printed', async () => {
    const path = up.path('os.raw')
    await writeRawImage(path, 20 * MiB, [{ offset: 0, length: MiB }])
    up.cloud.emu.faults.add({
      method: 'PUT',
      path: /\/images\/up-fail-img\?/,
      failOperation: { code: 'InvalidVhd', message: 'The VHD is not a valid OS disk.' }
    })
    const before = up.cloud.emu.requests.length
    const r = await up.run({ vhd: path, 'image-name': 'up-fail-img' }, { env: DEBUG })
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
    const writes = up.cloud.writesSince(before)
    expect(writes.map(short)).toEqual([
      `PUT disks/${disk}`,
      `POST disks/${disk}/beginGetAccess`,
      `POST disks/${disk}/endGetAccess`,
      // Tagged complete once its bytes and footer are in (managed-disk-destination.ts, chaosfix).
      `PATCH disks/${disk}`,
      'PUT images/up-fail-img',
      'DELETE images/up-fail-img',
      `DELETE disks/${disk}`
    ])
    // A write SAS was handed out: its URL and signature were registered with the masker, and no
    // signature appears anywhere in the output.
    expect(writes[1].body).toMatchObject({ access: 'Write' })
    expect(r.main.stdout).toMatch(/^::add-mask::[^\n]*[?&]sig=/m)
    expect(maskedValues(r).filter(v => /sig=/.test(v)).length).toBeGreaterThan(0)
    expectNoSecrets(r, up.cloud.emu.clientSecret)
    expect(r.allText).not.toContain(AZURITE_ACCOUNT_KEY)
    // Nothing of the run is left: no image, no temporary disk; the post step has nothing to do.
    expect(up.cloud.emu.resources.list('Microsoft.Compute/images')).toEqual([])
    expect(up.cloud.emu.resources.list('Microsoft.Compute/disks')).toEqual([])
    expect(ledgerEntries(r.state.ledger)).toEqual([])
    expect(postLines(r)).toContain('Post: nothing this run created is left to clean up.')
  })
})
