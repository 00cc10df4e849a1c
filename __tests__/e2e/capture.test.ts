/**
 * The bundled action, run as the runner runs it, capturing VMs from the ARM emulator into managed
 * images. Evidence is what the emulator received (its request log) and what the action wrote.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { errorLines, runAction, type ActionRun, type RunOptions } from '../support/action-runner.js'
import { startLocalCloud, type LocalCloud } from '../support/cloud.js'
import type { RecordedRequest } from '../emulator/index.js'

let cloud: LocalCloud

beforeAll(async () => {
  cloud = await startLocalCloud()
  cloud.emu.addResourceGroup('build-rg', 'westeurope')
})
afterAll(async () => cloud.close())

const SEQUENCE: Array<[string, RegExp]> = [
  ['snapshot', /^PUT .*\/snapshots\//],
  ['run command', /^POST .*\/virtualMachines\/[^/]+\/runCommand$/],
  ['deallocate', /^POST .*\/virtualMachines\/[^/]+\/deallocate$/],
  ['generalize', /^POST .*\/virtualMachines\/[^/]+\/generalize$/],
  ['image', /^PUT .*\/images\//]
]

/** The bundled action capturing in 'build-rg' (connection inputs added). */
function capture(
  inputs: Record<string, string>,
  options: Omit<RunOptions, 'inputs'> = {}
): Promise<ActionRun> {
  return runAction({
    ...options,
    inputs: { ...cloud.inputs, 'resource-group': 'build-rg', ...inputs },
    env: { ...cloud.env, ...(options.env ?? {}) }
  })
}

function kinds(writes: RecordedRequest[]): string[] {
  return writes
    .map(w => SEQUENCE.find(([, re]) => re.test(`${w.method} ${w.path}`))?.[0])
    .filter((k): k is string => k !== undefined)
}

describe('capture into a managed image', () => {
  it('snapshots, deprovisions, deallocates, generalizes, then creates the image', async () => {
    const vm = cloud.emu.addVm({
      resourceGroup: 'build-rg',
      name: 'golden-builder',
      location: 'westeurope',
      osType: 'Linux',
      dataDisks: 2,
      hyperVGeneration: 'V2'
    })
    const before = cloud.emu.requests.length
    const run = await capture({
      'source-vm': 'golden-builder',
      deprovision: 'true',
      'backup-snapshot': 'true',
      'image-name': 'golden-42',
      tags: 'team=platform'
    })
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.code).toBe(0)

    const writes = cloud.writesSince(before)
    const order = kinds(writes)
    expect(order).toEqual([
      'snapshot',
      'snapshot',
      'snapshot',
      'run command',
      'deallocate',
      'generalize',
      'image'
    ])

    const snapshots = writes.filter(w => /\/snapshots\//.test(w.path))
    const vmDiskIds = [
      (vm.properties as any).storageProfile.osDisk.managedDisk.id,
      ...(vm.properties as any).storageProfile.dataDisks.map((d: any) => d.managedDisk.id)
    ]
    expect(
      snapshots
        .map(s => (s.body as any).properties.creationData)
        .sort((a: any, b: any) => a.sourceResourceId.localeCompare(b.sourceResourceId))
    ).toEqual(vmDiskIds.sort().map(id => ({ createOption: 'Copy', sourceResourceId: id })))
    const runCommand = writes.find(w => w.path.endsWith('/runCommand'))
    expect(runCommand?.body).toMatchObject({ commandId: 'RunShellScript' })
    expect(JSON.stringify((runCommand?.body as any).script)).toContain(
      'waagent -force -deprovision+user'
    )
    // The deprovision runs in a transient systemd unit and ends with a shutdown; the action waited
    // for the VM to stop before deallocating.
    expect(JSON.stringify((runCommand?.body as any).script)).toMatch(
      /systemd-run --unit=\S+ --collect .*shutdown -h now/
    )
    expect(run.main.stdout).toMatch(/Deprovision in 'golden-builder': VM stopped/)

    const imagePut = writes.find(w => /\/images\/golden-42$/.test(w.path))
    expect((imagePut?.body as any).location).toBe('westeurope')
    expect((imagePut?.body as any).properties).toMatchObject({
      sourceVirtualMachine: { id: vm.id },
      hyperVGeneration: 'V2'
    })
    expect((imagePut?.body as any).tags).toMatchObject({
      team: 'platform',
      'github-repository': 'contoso/golden-images',
      'github-run-id': '9000001',
      'github-run-attempt': '1',
      'github-sha': '0123456789abcdef0123456789abcdef01234567',
      'github-ref': 'refs/heads/main',
      'github-workflow': 'nightly image'
    })

    const imageId = `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/build-rg/providers/Microsoft.Compute/images/golden-42`
    const image = cloud.emu.resources.get(imageId) as any
    expect(image.properties.provisioningState).toBe('Succeeded')
    expect(run.outputs['image-id']).toBe(image.id)
    expect(run.outputs['managed-image-id']).toBe(image.id)
    expect(run.outputs.location).toBe('westeurope')
    const snapshotIds = JSON.parse(run.outputs['backup-snapshot-ids']) as string[]
    expect(snapshotIds).toHaveLength(3)
    for (const id of snapshotIds) expect(cloud.emu.resources.get(id)).toBeDefined()

    expect(cloud.emu.resources.state(vm.id as string)).toMatchObject({
      generalized: true,
      guestDeprovisioned: true
    })
    expect(run.summary).toContain(image.id)
    // A portal link for the resource, in this cloud's portal.
    expect(run.summary).toContain(`/#@/resource${image.id}`)
    expect(run.summary).toMatch(
      /Steps[\s\S]*Backup snapshots[\s\S]*Deallocate VM[\s\S]*Managed image/
    )
    expect(run.summary).toContain('cannot be started again')
    // Each step runs in its own log group.
    expect(run.main.stdout).toContain('::group::Deallocate VM')

    // The post step after a success does nothing.
    expect(run.post?.code).toBe(0)
    const postWrites = cloud.emu
      .writes()
      .filter(w => cloud.emu.requests.indexOf(w) >= before && !writes.includes(w))
    expect(postWrites).toEqual([])
  })

  it("verifies Sysprep's ImageState on a Windows VM before deallocating it", async () => {
    const vm = cloud.emu.addVm({
      resourceGroup: 'build-rg',
      name: 'win-builder',
      location: 'westeurope',
      osType: 'Windows'
    })
    const before = cloud.emu.requests.length
    const run = await capture({
      'source-vm': 'win-builder',
      deprovision: 'true',
      'image-name': 'win-img'
    })
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.code).toBe(0)
    const requests = cloud.emu.requests.slice(before)
    const runCommand = requests.findIndex(
      r => r.method === 'POST' && r.path.endsWith('/runCommand')
    )
    const deallocate = requests.findIndex(
      r => r.method === 'POST' && r.path.endsWith('/deallocate')
    )
    expect(runCommand).toBeGreaterThanOrEqual(0)
    expect(deallocate).toBeGreaterThan(runCommand)
    expect(JSON.stringify(requests[runCommand].body)).toContain('Sysprep.exe')
    expect(JSON.stringify(requests[runCommand].body)).toContain('/generalize /oobe /mode:vm')
    // Between the two: the command's status and the VM's power state, watched together.
    const views = requests
      .slice(runCommand, deallocate)
      .filter(r => r.method === 'GET' && r.path.endsWith('/instanceView'))
    expect(views.length).toBeGreaterThanOrEqual(1)
    expect(run.main.stdout).toMatch(/ImageState IMAGE_STATE_GENERALIZE_RESEAL_TO_OOBE/)
    expect(cloud.emu.resources.state(vm.id as string)).toMatchObject({ generalized: true })
  })

  it('refuses a Trusted Launch VM before any write, pointing to a gallery', async () => {
    cloud.emu.addVm({
      resourceGroup: 'build-rg',
      name: 'tl-vm',
      location: 'westeurope',
      osType: 'Linux',
      securityType: 'TrustedLaunch'
    })
    const before = cloud.emu.requests.length
    const run = await capture({
      'source-vm': 'tl-vm',
      'image-name': 'tl-img',
      deprovision: 'true'
    })
    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/TrustedLaunch/)
    expect(errors[0]).toMatch(/gallery/)
    expect(cloud.writesSince(before)).toEqual([])
  })

  it('refuses an existing image without overwrite before any write', async () => {
    cloud.emu.addVm({
      resourceGroup: 'build-rg',
      name: 'vm-exists',
      location: 'westeurope',
      osType: 'Linux'
    })
    cloud.emu.addImage({ resourceGroup: 'build-rg', name: 'taken', location: 'westeurope' })
    const before = cloud.emu.requests.length
    const run = await capture({
      'source-vm': 'vm-exists',
      'image-name': 'taken'
    })
    expect(run.main.code).toBe(1)
    expect(errorLines(run.main)[0]).toMatch(/Managed image 'taken' already exists.*overwrite: true/)
    expect(cloud.writesSince(before)).toEqual([])
  })

  it('replaces an existing image with overwrite: true', async () => {
    cloud.emu.addVm({
      resourceGroup: 'build-rg',
      name: 'vm-over',
      location: 'westeurope',
      osType: 'Linux'
    })
    cloud.emu.addImage({ resourceGroup: 'build-rg', name: 'replace-me', location: 'westeurope' })
    const before = cloud.emu.requests.length
    const run = await capture({
      'source-vm': 'vm-over',
      deprovision: 'false',
      'image-name': 'replace-me',
      overwrite: 'true',
      'delete-source-vm': 'true'
    })
    expect(errorLines(run.main)).toEqual([])
    const writes = cloud
      .writesSince(before)
      .map(w => `${w.method} ${w.path.replace(/^.*providers\/Microsoft.Compute\//, '')}`)
    expect(writes).toEqual([
      'POST virtualMachines/vm-over/deallocate',
      'POST virtualMachines/vm-over/generalize',
      'DELETE images/replace-me',
      'PUT images/replace-me',
      'DELETE virtualMachines/vm-over'
    ])
  })

  it('refuses a resource group that does not exist before touching the VM', async () => {
    cloud.emu.addVm({
      resourceGroup: 'build-rg',
      name: 'vm-typo',
      location: 'westeurope',
      osType: 'Linux'
    })
    const before = cloud.emu.requests.length
    const run = await runAction({
      inputs: {
        ...cloud.inputs,
        'resource-group': 'imgs-prd',
        'source-vm': `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/build-rg/providers/Microsoft.Compute/virtualMachines/vm-typo`,
        deprovision: 'true',
        'image-name': 'typo-img'
      },
      env: cloud.env
    })
    expect(run.main.code).toBe(1)
    expect(errorLines(run.main)[0]).toMatch(/Resource group 'imgs-prd' does not exist/)
    expect(cloud.writesSince(before)).toEqual([])
  })

  it('refuses a specialized capture without a gallery target before calling Azure', async () => {
    const before = cloud.emu.requests.length
    const run = await capture({
      'source-vm': 'golden-builder',
      generalize: 'false',
      'image-name': 'x'
    })
    expect(run.main.code).toBe(1)
    expect(errorLines(run.main)).toEqual([
      expect.stringMatching(/^::error::Input 'generalize': .*gallery target/)
    ])
    expect(cloud.emu.requests.length).toBe(before)
  })
})

describe('a re-run attempt after the VM was generalized', () => {
  it('goes straight to the image: no second backup, deprovision, deallocate or generalize', async () => {
    cloud.emu.addVm({
      resourceGroup: 'build-rg',
      name: 'vm-generalized',
      location: 'westeurope',
      osType: 'Linux',
      powerState: 'deallocated',
      generalized: true
    })
    const before = cloud.emu.requests.length
    const run = await capture(
      {
        'source-vm': 'vm-generalized',
        'backup-snapshot': 'true',
        deprovision: 'true',
        'image-name': 'after-generalize'
      },
      { runAttempt: 2 }
    )
    expect(errorLines(run.main)).toEqual([])
    expect(
      cloud
        .writesSince(before)
        .map(w => `${w.method} ${w.path.replace(/^.*Microsoft.Compute\//, '')}`)
    ).toEqual(['PUT images/after-generalize'])
    expect(run.main.stdout).toContain('already generalized')
  })
})

describe('sign-in', () => {
  it('auto picks OIDC when the job can mint an ID token, never reusing a GitHub ID token', async () => {
    cloud.emu.addVm({
      resourceGroup: 'build-rg',
      name: 'vm-oidc',
      location: 'westeurope',
      osType: 'Linux'
    })
    const tokensBefore = cloud.emu.idTokenRequests
    const exchangesBefore = cloud.emu.tokenRequests.length
    const { 'client-secret': _secret, ...inputs } = cloud.inputs
    const run = await runAction({
      inputs: {
        ...inputs,
        'auth-type': 'auto',
        // The emulator's login endpoint is not Microsoft Entra ID: OIDC needs the audience named.
        audience: 'api://AzureADTokenExchange',
        'resource-group': 'build-rg',
        'source-vm': 'vm-oidc',
        'image-name': 'oidc-img'
      },
      env: {
        ...cloud.env,
        ACTIONS_ID_TOKEN_REQUEST_URL: cloud.emu.oidcTokenUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: cloud.emu.oidcRequestToken
      }
    })
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.code).toBe(0)
    expect(run.main.stdout).toContain('Signing in with oidc')
    expect(run.outputs['image-id']).toMatch(/\/images\/oidc-img$/)
    // Every token exchange used a client assertion, never one sent before: a GitHub ID token is
    // asked for each time the credential needs a token (MSAL asks even when it then serves its
    // cache, so there are at least as many ID tokens as exchanges).
    const exchanges = cloud.emu.tokenRequests.slice(exchangesBefore)
    expect(exchanges.length).toBeGreaterThan(0)
    expect(exchanges.every(t => t.via === 'client_assertion' && t.ok)).toBe(true)
    expect(new Set(exchanges.map(t => t.assertionId)).size).toBe(exchanges.length)
    expect(cloud.emu.idTokenRequests - tokensBefore).toBeGreaterThanOrEqual(exchanges.length)
  })

  it('uses the Azure CLI session when no other credential is given', async () => {
    cloud.emu.addVm({
      resourceGroup: 'build-rg',
      name: 'vm-cli',
      location: 'westeurope',
      osType: 'Linux'
    })
    const run = await runAction({
      inputs: {
        environment: 'AzureStack',
        'resource-manager-endpoint': cloud.emu.url,
        'subscription-id': cloud.emu.subscriptionId,
        'resource-group': 'build-rg',
        'source-vm': 'vm-cli',
        'image-name': 'cli-img'
      },
      env: {
        ...cloud.env,
        ...cloud.emu.azCliEnv(),
        PATH: `${cloud.emu.azBinDir}:${process.env.PATH}`
      }
    })
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.stdout).toContain('Signing in with azure-cli')
    expect(run.outputs['image-id']).toMatch(/\/images\/cli-img$/)
  })
})
