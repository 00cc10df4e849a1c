/**
 * Secrets with debug logging on: no client secret, bearer token or SAS signature in any log,
 * output, state or summary, in successful, failing and upload runs.
 * The bundled action on its failure paths against the ARM emulator; evidence is the emulator's
 * request log and what the action wrote.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { errorLines, runAction, ledgerEntries, type ActionRun } from '../support/action-runner.js'
import { AZURITE_ACCOUNT_KEY } from '../support/azurite.js'
import { startLocalCloud, type LocalCloud, short } from '../support/cloud.js'
import {
  RG,
  LOCATION,
  cloud,
  DEBUG,
  run,
  postLines,
  useFailureCloud
} from '../support/failure-run.js'

useFailureCloud()

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
