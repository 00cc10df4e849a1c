/**
 * `npm run smoke:azure`'s whole flow (scripts/smoke-run.ts, with its plan) against the ARM emulator
 * and Azurite instead of a subscription: setup, an upload of the 1 GiB raw image and a capture of a
 * VM it creates, each into a managed image and a gallery version, the cleanup in `finally`, the
 * report. The action runs as `environment: AzureStack` at the emulator (SMOKE_RESOURCE_MANAGER_ENDPOINT).
 *
 * `az` is the one part that cannot be the real thing here: the Azure CLI speaks only to clouds it
 * has registered, over its own sign-in. `emulatorAz` stands in for exactly the commands the plan
 * sends, each as the ARM requests the CLI makes for it (`az vm create`: NSG, virtual network with
 * its subnet, NIC, then the VM from the `Ubuntu2204` alias of the CLI's image alias list), so the
 * emulator sees the resources the real setup would leave.
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { runAction } from '../support/action-runner.js'
import { startLocalCloud, type LocalCloud } from '../support/cloud.js'
import { arm, trustEmulator } from '../emulator-tests/helpers.js'
import type { ArmEmulator, Body } from '../emulator/index.js'
import { readSmokeConfig, smokeNames, type SmokeConfig } from '../../scripts/smoke-plan.js'
import { runSmoke, type Az } from '../../scripts/smoke-run.js'

const RG = 'smoke-rg'
const LOCATION = 'westeurope'
// The CLI's `Ubuntu2204` alias (azure-cli vm image alias list: Canonical
// 0001-com-ubuntu-server-jammy 22_04-lts-gen2 latest).
const UBUNTU = {
  publisher: 'Canonical',
  offer: '0001-com-ubuntu-server-jammy',
  sku: '22_04-lts-gen2'
}
const COMPUTE_API = '2024-07-01'
const NETWORK_API = '2025-05-01'
const GALLERY_API = '2024-03-03'

/** The value after a flag of an `az` command line. */
const flag = (args: string[], name: string): string => args[args.indexOf(name) + 1] ?? ''

/** An OpenSSH ed25519 public key, as `--generate-ssh-keys` would put in the VM. */
function sshPublicKey(): string {
  const der = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' })
  const part = (b: Buffer): Buffer => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b])
  const blob = Buffer.concat([part(Buffer.from('ssh-ed25519')), part(der.subarray(-32))])
  return `ssh-ed25519 ${blob.toString('base64')} smoke`
}

/** The `az` commands of smoke-plan.ts, made as ARM requests to the emulator. */
function emulatorAz(emu: ArmEmulator): Az {
  const sub = `/subscriptions/${emu.subscriptionId}`
  const group = (args: string[]): string =>
    `${sub}/resourceGroups/${flag(args, '--resource-group')}`
  /** One request, followed to its end when it starts an operation (as the CLI waits). */
  const send = async (method: string, path: string, api: string, body?: unknown): Promise<Body> => {
    const r = await arm(emu, method, `${path}?api-version=${api}`, body)
    if (r.status >= 400) throw new Error(`${r.body?.error?.code}: ${r.body?.error?.message}`)
    const ao = r.headers.get('azure-asyncoperation') ?? r.headers.get('location')
    for (let i = 0; ao && i < 100; i++) {
      const doc = await arm(emu, 'GET', ao.slice(emu.url.length))
      if (doc.body?.status === 'Failed') throw new Error(JSON.stringify(doc.body.error))
      if (doc.status === 200 && doc.body?.status !== 'InProgress') break
    }
    return r.body
  }
  const tags = (args: string[]): Record<string, string> => {
    const [k, v] = flag(args, '--tags').split('=')
    return { [k]: v }
  }
  const run = async (args: string[]): Promise<string> => {
    const firstFlag = args.findIndex(a => a.startsWith('-'))
    const verb = (firstFlag < 0 ? args : args.slice(0, firstFlag)).join(' ')
    const rg = group(args)
    const cp = `${rg}/providers/Microsoft.Compute`
    const net = `${rg}/providers/Microsoft.Network`
    const gallery = `${cp}/galleries/${flag(args, '--gallery-name')}`
    const location = flag(args, '--location')
    if (verb.startsWith('login')) return ''
    if (verb.startsWith('group show')) {
      const r = await send('GET', `${sub}/resourcegroups/${flag(args, '--name')}`, '2022-09-01')
      return `${r.location}\n`
    }
    if (verb === 'sig create') {
      await send('PUT', gallery, GALLERY_API, { location, tags: tags(args), properties: {} })
      return ''
    }
    if (verb === 'vm create') {
      const name = flag(args, '--name')
      const nsg = `${net}/networkSecurityGroups/${flag(args, '--nsg')}`
      const vnet = `${net}/virtualNetworks/${flag(args, '--vnet-name')}`
      const nic = `${net}/networkInterfaces/${name}VMNic`
      await send('PUT', nsg, NETWORK_API, { location, tags: tags(args), properties: {} })
      await send('PUT', vnet, NETWORK_API, {
        location,
        tags: tags(args),
        properties: {
          addressSpace: { addressPrefixes: ['10.0.0.0/16'] },
          subnets: [{ name: flag(args, '--subnet'), properties: { addressPrefix: '10.0.0.0/24' } }]
        }
      })
      await send('PUT', nic, NETWORK_API, {
        location,
        tags: tags(args),
        properties: {
          networkSecurityGroup: { id: nsg },
          ipConfigurations: [
            {
              name: `ipconfig${name}`,
              properties: {
                privateIPAllocationMethod: 'Dynamic',
                subnet: { id: `${vnet}/subnets/${flag(args, '--subnet')}` }
              }
            }
          ]
        }
      })
      const user = flag(args, '--admin-username')
      await send('PUT', `${cp}/virtualMachines/${name}`, COMPUTE_API, {
        location,
        tags: tags(args),
        properties: {
          hardwareProfile: { vmSize: flag(args, '--size') },
          storageProfile: {
            imageReference: { ...UBUNTU, version: 'latest' },
            osDisk: {
              createOption: 'FromImage',
              deleteOption: flag(args, '--os-disk-delete-option'),
              managedDisk: { storageAccountType: 'Premium_LRS' }
            }
          },
          osProfile: {
            computerName: name,
            adminUsername: user,
            linuxConfiguration: {
              disablePasswordAuthentication: true,
              ssh: {
                publicKeys: [
                  { path: `/home/${user}/.ssh/authorized_keys`, keyData: sshPublicKey() }
                ]
              }
            }
          },
          networkProfile: {
            networkInterfaces: [
              { id: nic, properties: { deleteOption: flag(args, '--nic-delete-option') } }
            ]
          }
        }
      })
      return ''
    }
    const deletes: Record<string, [string, string]> = {
      'vm delete': [`${cp}/virtualMachines/${flag(args, '--name')}`, COMPUTE_API],
      'network vnet delete': [`${net}/virtualNetworks/${flag(args, '--name')}`, NETWORK_API],
      'network nsg delete': [`${net}/networkSecurityGroups/${flag(args, '--name')}`, NETWORK_API],
      'sig image-version delete': [
        `${gallery}/images/${flag(args, '--gallery-image-definition')}/versions/${flag(args, '--gallery-image-version')}`,
        GALLERY_API
      ],
      'sig image-definition delete': [
        `${gallery}/images/${flag(args, '--gallery-image-definition')}`,
        GALLERY_API
      ],
      'sig delete': [gallery, GALLERY_API],
      'image delete': [`${cp}/images/${flag(args, '--name')}`, COMPUTE_API]
    }
    const target = deletes[verb]
    if (target) {
      await send('DELETE', ...target)
      return ''
    }
    if (verb === 'resource list') {
      // ARM's Resources - List By Resource Group with a tag filter is not emulated: the same answer
      // read from the emulator's resources.
      const [k, v] = flag(args, '--tag').split('=')
      return emu.resources
        .list()
        .filter(r => String(r.id).startsWith(`${rg}/`) && r.tags?.[k] === v)
        .map(r => `${r.id}\n`)
        .join('')
    }
    throw new Error(`az ${verb}: not a command smoke-plan.ts sends`)
  }
  return async args => {
    try {
      return { command: args, ok: true, detail: '', stdout: await run(args) }
    } catch (error) {
      return { command: args, ok: false, detail: String((error as Error).message), stdout: '' }
    }
  }
}

let cloud: LocalCloud
let work: string

beforeAll(async () => {
  cloud = await startLocalCloud({
    withStorage: true,
    lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 }
  })
  trustEmulator(cloud.emu)
  cloud.emu.addResourceGroup(RG, LOCATION)
  cloud.emu.addMarketplaceImage({
    ...UBUNTU,
    versions: ['22.04.202611250'],
    osType: 'Linux',
    hyperVGeneration: 'V2'
  })
  work = mkdtempSync(join(tmpdir(), 'smoke-emulator-'))
})
afterAll(async () => {
  await cloud?.close()
  rmSync(work, { recursive: true, force: true })
})

describe('npm run smoke:azure against the ARM emulator and Azurite', () => {
  it('uploads, captures a VM it creates, deletes everything and reports success without printing the secret', async () => {
    const setup = readSmokeConfig({
      AZURE_CLIENT_ID: cloud.emu.clientId,
      AZURE_TENANT_ID: cloud.emu.tenantId,
      AZURE_SUBSCRIPTION_ID: cloud.emu.subscriptionId,
      AZURE_CLIENT_SECRET: cloud.emu.clientSecret,
      SMOKE_RESOURCE_GROUP: RG,
      SMOKE_RESOURCE_MANAGER_ENDPOINT: cloud.emu.url
    })
    if (setup.kind !== 'run') throw new Error('the smoke settings are complete')
    const config: SmokeConfig = setup.config
    const names = smokeNames('emu1')
    const printed: string[] = []
    const result = await runSmoke(config, names, {
      az: emulatorAz(cloud.emu),
      runAction,
      actionEnv: cloud.env,
      workDir: work,
      print: text => printed.push(text)
    })
    const all = [...printed, result.text].join('\n')
    expect(all).not.toContain(cloud.emu.clientSecret)
    // The action names its upload disk and Run Command unit after GITHUB_RUN_ID, a number on a
    // runner: the smoke run must give it one (it gave 'smoke<suffix>': names with 'NaN').
    expect(all).not.toMatch(/NaN/)
    expect(all).toMatch(/'smoke-upload-emu1-upload-\d+-os'/)
    // The report first: on a failure it names the step and what Azure answered.
    expect(result.text).toContain('smoke:azure: passed')
    expect(result.steps.map(s => [s.name, s.exitCode, s.postExitCode, s.errors])).toEqual([
      ['upload', 0, 0, []],
      ['capture', 0, 0, []]
    ])
    expect(result.ok).toBe(true)
    for (const s of result.steps) {
      expect(s.outputs['managed-image-id']).toMatch(/\/images\/smoke-(upload|capture)-emu1$/)
      expect(s.outputs['gallery-image-version-id']).toMatch(/\/versions\/1\.0\.0$/)
    }
    // Everything the run made is gone: only the resource group the maintainer gave stays.
    const left = cloud.emu.resources
      .list()
      .map(r => String(r.id))
      .filter(id => id.includes(`/resourceGroups/${RG}/`))
    expect(left).toEqual([])
  })
})
