import { describe, expect, it } from '@jest/globals'
import {
  RAW_IMAGE_BYTES,
  actionSteps,
  cleanupCommands,
  readSmokeConfig,
  redact,
  report,
  setupCommands,
  skipMessage,
  smokeNames,
  type SmokeConfig
} from '../../../scripts/smoke-plan.js'

const env = {
  AZURE_CLIENT_ID: '11111111-1111-1111-1111-111111111111',
  AZURE_TENANT_ID: '22222222-2222-2222-2222-222222222222',
  AZURE_SUBSCRIPTION_ID: '33333333-3333-3333-3333-333333333333',
  SMOKE_RESOURCE_GROUP: 'smoke-rg'
}

function ready(extra: Record<string, string> = {}): SmokeConfig {
  const setup = readSmokeConfig({ ...env, ...extra })
  if (setup.kind !== 'run') throw new Error('expected a runnable setup')
  return setup.config
}

describe('smoke:azure plan', () => {
  it('skips, naming what is missing, without credentials or a resource group', () => {
    expect(readSmokeConfig({})).toEqual({
      kind: 'skip',
      missing: [
        'AZURE_CLIENT_ID',
        'AZURE_TENANT_ID',
        'AZURE_SUBSCRIPTION_ID',
        'SMOKE_RESOURCE_GROUP'
      ]
    })
    const partial = readSmokeConfig({ ...env, SMOKE_RESOURCE_GROUP: '  ' })
    expect(partial).toEqual({ kind: 'skip', missing: ['SMOKE_RESOURCE_GROUP'] })
    expect(skipMessage(['AZURE_CLIENT_ID'])).toMatch(
      /^smoke:azure: skipped, no Azure credentials \(missing AZURE_CLIENT_ID\)/
    )
  })

  it('reads the settings, with defaults for the VM', () => {
    expect(ready()).toEqual({
      clientId: env.AZURE_CLIENT_ID,
      tenantId: env.AZURE_TENANT_ID,
      subscriptionId: env.AZURE_SUBSCRIPTION_ID,
      clientSecret: undefined,
      resourceGroup: 'smoke-rg',
      location: undefined,
      vmSize: 'Standard_B2s',
      vmImage: 'Ubuntu2204'
    })
    expect(ready({ SMOKE_LOCATION: 'westeurope', AZURE_CLIENT_SECRET: 's3cret' })).toMatchObject({
      location: 'westeurope',
      clientSecret: 's3cret'
    })
  })

  it('names everything from one suffix and refuses suffixes Azure names cannot carry', () => {
    const n = smokeNames('k3x9')
    expect(n.vm).toBe('smokevmk3x9')
    expect(n.vm.length).toBeLessThanOrEqual(15) // Windows computer-name limit, kept for any image
    expect(n.gallery).toMatch(/^[A-Za-z0-9_.]+$/) // gallery names: no hyphens
    expect(n.tag).toBe('smoke-azure=k3x9')
    // GITHUB_RUN_ID is a number on a runner (@actions/github parses it; the action names its
    // upload disks and Run Command units after it).
    expect(n.runId).toBe(String(parseInt('k3x9', 36)))
    expect(() => smokeNames('Bad-Suffix')).toThrow(/1-8 of \[a-z0-9\]/)
  })

  it('creates a tagged gallery and VM whose disk and NIC go with it', () => {
    const c = ready()
    const n = smokeNames('abc')
    const [gallery, vm] = setupCommands(c, n, 'westus2')
    expect(gallery.slice(0, 2)).toEqual(['sig', 'create'])
    expect(gallery).toEqual(expect.arrayContaining(['--gallery-name', n.gallery, '--tags', n.tag]))
    expect(vm.slice(0, 2)).toEqual(['vm', 'create'])
    const flag = (name: string): string => vm[vm.indexOf(name) + 1]
    expect(flag('--os-disk-delete-option')).toBe('Delete')
    expect(flag('--nic-delete-option')).toBe('Delete')
    expect(flag('--public-ip-address')).toBe('')
    expect(flag('--nsg-rule')).toBe('NONE')
    expect(flag('--security-type')).toBe('Standard')
    expect(flag('--subscription')).toBe(env.AZURE_SUBSCRIPTION_ID)
  })

  it('deletes versions before definitions before the gallery, and the VM before its network', () => {
    const cmds = cleanupCommands(ready(), smokeNames('abc')).map(c => c.slice(0, 3).join(' '))
    const first = (prefix: string): number => cmds.findIndex(c => c.startsWith(prefix))
    const last = (prefix: string): number => cmds.map(c => c.startsWith(prefix)).lastIndexOf(true)
    expect(last('sig image-version delete')).toBeLessThan(last('sig image-definition delete'))
    expect(last('sig image-definition delete')).toBeLessThan(first('sig delete'))
    expect(first('vm delete')).toBeLessThan(first('network vnet delete'))
    expect(cmds.filter(c => c === 'image delete --resource-group')).toHaveLength(2)
  })

  it('runs an upload and a capture, signing in with the secret or the az session', () => {
    const n = smokeNames('abc')
    const [upload, capture] = actionSteps(ready(), n, 'westus2', '/tmp/smoke.raw')
    expect(upload.inputs).toMatchObject({
      'auth-type': 'azure-cli',
      mode: 'upload',
      vhd: '/tmp/smoke.raw',
      'os-type': 'Linux',
      'image-name': n.uploadImage,
      gallery: n.gallery,
      'gallery-image': n.uploadDefinition,
      'create-gallery-image': 'true',
      'gallery-image-version': '1.0.0'
    })
    expect(upload.inputs['client-secret']).toBeUndefined()
    expect(capture.inputs).toMatchObject({
      mode: 'capture',
      'source-vm': n.vm,
      'image-name': n.captureImage
    })
    const withSecret = actionSteps(ready({ AZURE_CLIENT_SECRET: 's3cret' }), n, 'westus2', '/x')
    expect(withSecret[0].inputs).toMatchObject({
      'auth-type': 'client-secret',
      'client-secret': 's3cret'
    })
    expect(RAW_IMAGE_BYTES % (1024 * 1024)).toBe(0)
  })

  it('points the action at another Resource Manager (Azure Stack Hub, the emulator) only when asked', () => {
    const n = smokeNames('abc')
    for (const step of actionSteps(ready(), n, 'westus2', '/x')) {
      expect(step.inputs.environment).toBeUndefined()
      expect(step.inputs['resource-manager-endpoint']).toBeUndefined()
    }
    const elsewhere = ready({ SMOKE_RESOURCE_MANAGER_ENDPOINT: 'https://127.0.0.1:8443' })
    for (const step of actionSteps(elsewhere, n, 'westus2', '/x'))
      expect(step.inputs).toMatchObject({
        environment: 'AzureStack',
        'resource-manager-endpoint': 'https://127.0.0.1:8443'
      })
  })

  it('reports outcomes, fails on any failed step or leftover, and never prints the secret', () => {
    const c = ready({ AZURE_CLIENT_SECRET: 's3cret' })
    const n = smokeNames('abc')
    const ok = { command: ['vm', 'delete'], ok: true, detail: '' }
    const good = report(
      c,
      n,
      [
        {
          name: 'upload',
          exitCode: 0,
          outputs: { 'image-id': '/x/images/a' },
          errors: [],
          postExitCode: 0
        },
        { name: 'capture', exitCode: 0, outputs: {}, errors: [], postExitCode: 0 }
      ],
      [ok],
      [ok, { command: ['image', 'delete'], ok: false, detail: 'ResourceNotFound' }]
    )
    expect(good.ok).toBe(true)
    expect(good.text).toContain('output image-id=/x/images/a')
    const bad = report(
      c,
      n,
      [
        {
          name: 'upload',
          exitCode: 1,
          outputs: {},
          errors: ['::error::boom s3cret'],
          postExitCode: 0
        }
      ],
      [ok],
      [{ command: ['sig', 'delete'], ok: false, detail: 'Conflict: nested resources' }]
    )
    expect(bad.ok).toBe(false)
    expect(bad.text).toContain(
      `left behind in smoke-rg (delete by hand; all of it is tagged ${n.tag})`
    )
    expect(bad.text).not.toContain('s3cret')
    expect(redact('a s3cret b', c)).toBe('a *** b')
  })
})
