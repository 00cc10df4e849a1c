/**
 * One chaos run: a fresh emulator (and a fresh fault proxy in front of the campaign's Azurite)
 * seeded for the scenario, the faults installed by request count, the bundled action run as the
 * runner runs it (main, post; a re-run attempt after a SIGKILL), then the invariants.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob'
import {
  startArmEmulator,
  startFaultProxy,
  type ArmEmulator,
  type Body,
  type Fault,
  type FaultProxy,
  type ProxyFault,
  type RecordedRequest
} from '../emulator/index.js'
import { INTERNAL_EXECUTION_ERROR } from '../emulator/faults.js'
import { ownerKeyOf, runAction, type ActionRun, type RunOptions } from '../support/action-runner.js'
import type { AzuriteInstance } from '../support/azurite.js'
import { emulatorInputs } from '../support/cloud.js'
import { writeDiskFile } from './disk-files.js'
import {
  checkInvariants,
  type BuildEvidence,
  type Evidence,
  type SourceCheck
} from './invariants.js'
import { PAGE_FAULTS, type FaultPlan, type Scenario } from './scenario.js'

export const RG = 'chaos-rg'
export const LOCATION = 'westeurope'
export const GALLERY = 'chaos_gallery'
export const VM = 'builder'
export const STORAGE_ACCOUNT = 'devstoreaccount1'
const ARM = /^\/subscriptions\//
/** Build flows: the Marketplace images (newest version first) and the existing network. */
export const BUILD_IMAGES = {
  Linux: { urn: 'Canonical:ubuntu-24_04-lts:server:latest', newest: '24.04.202611250' },
  Windows: {
    urn: 'MicrosoftWindowsServer:WindowsServer:2022-datacenter-g2:latest',
    newest: '20348.4405.251105'
  }
} as const
export const NET_RG = 'chaos-net'
export const SUBNET_PATH = `resourceGroups/${NET_RG}/providers/Microsoft.Network/virtualNetworks/hub/subnets/builders`
/** Another job's build VM and network, named as the action names them: never to be touched. */
export const OTHER_BUILD = 'vmimage-0ther0b1d0'
const DEBUG = { ACTIONS_STEP_DEBUG: 'true', RUNNER_DEBUG: '1' }

export interface Shared {
  azurite: AzuriteInstance
  /** a folder for the run's disk files */
  dir: string
}

export interface RunRecord {
  scenario: Scenario
  /** every step's stdout and stderr, for the log of a run that broke an invariant */
  logs?: string
  /** 'success' | 'expected-failure' when no invariant broke */
  outcome: 'success' | 'expected-failure' | 'violation'
  violations: string[]
  /** the final attempt's ::error:: line, if any */
  error?: string
  attempts: number
  /** ARM requests the emulator received (to place faults and interruptions by count) */
  armRequests?: number
  ms: number
}

/** The cloud of one run. */
export interface RunCloud {
  emu: ArmEmulator
  proxy?: FaultProxy
  inputs: Record<string, string>
  env: Record<string, string>
  container: string
  blobService: BlobServiceClient
  close(): Promise<void>
}

export async function startRunCloud(shared: Shared, withStorage: boolean): Promise<RunCloud> {
  const { azurite } = shared
  const proxy = withStorage ? await startFaultProxy(azurite.blobEndpoint) : undefined
  const emu = await startArmEmulator({
    storage: proxy
      ? {
          blobEndpoint: proxy.url,
          accountName: azurite.accountName,
          accountKey: azurite.accountKey
        }
      : undefined,
    lro: { pollsBeforeDone: 1, retryAfterSeconds: 1 }
  })
  return {
    emu,
    proxy,
    inputs: { ...emulatorInputs(emu), 'resource-group': RG },
    env: { NODE_EXTRA_CA_CERTS: emu.caCertPath, ...DEBUG },
    container: '',
    blobService: new BlobServiceClient(
      azurite.blobEndpoint,
      new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey)
    ),
    async close() {
      await emu.close()
      await proxy?.close()
    }
  }
}

const isUpload = (s: Scenario): boolean => s.flow.startsWith('upload')

/** What every run finds: the source VM, a gallery, and other runs' resources it must not touch. */
/** The gallery with its Standard 'golden' definition. */
export function seedGallery(emu: ArmEmulator): void {
  emu.addGallery(RG, GALLERY, LOCATION)
  emu.addGalleryImage({
    resourceGroup: RG,
    gallery: GALLERY,
    name: 'golden',
    osType: 'Linux',
    hyperVGeneration: 'V2',
    securityType: 'Standard'
  })
}

/** `count` earlier runs' versions in `definition`: 1.0.0, 1.0.1, …, published a day apart. */
export function seedVersions(emu: ArmEmulator, definition: string, count: number): void {
  for (let i = 0; i < count; i++)
    emu.addGalleryImageVersion({
      resourceGroup: RG,
      gallery: GALLERY,
      image: definition,
      name: `1.0.${i}`,
      tags: { 'github-run-id': `800000${i}` },
      publishedDate: new Date(Date.UTC(2026, 0, 1 + i)).toISOString()
    })
}

export async function seedCloud(cloud: RunCloud, s: Scenario): Promise<void> {
  const { emu } = cloud
  emu.addResourceGroup(RG, LOCATION)
  emu.addVm({
    resourceGroup: RG,
    name: VM,
    location: LOCATION,
    osType: 'Linux',
    hyperVGeneration: 'V2',
    dataDisks: s.dataDisks,
    guest: { extensionCgroups: true }
  })
  seedGallery(emu)
  if (s.build) seedBuild(emu)
  seedVersions(emu, existingDefinition(s), s.existingVersions)
  // Bystanders: another run's image, definition and version (and blob, below).
  emu.addImage({
    resourceGroup: RG,
    name: 'other-run-image',
    location: LOCATION,
    osType: 'Linux',
    tags: { 'github-run-id': '7000001' }
  })
  emu.addGalleryImage({
    resourceGroup: RG,
    gallery: GALLERY,
    name: 'other-def',
    osType: 'Linux',
    hyperVGeneration: 'V2',
    securityType: 'Standard'
  })
  emu.addGalleryImageVersion({
    resourceGroup: RG,
    gallery: GALLERY,
    image: 'other-def',
    name: '9.9.9',
    tags: { 'github-run-id': '7000001' }
  })
  if (isUpload(s)) {
    emu.addStorageAccount(RG, STORAGE_ACCOUNT)
    cloud.container = `chaos-${s.seed}`
    const container = cloud.blobService.getContainerClient(cloud.container)
    await container.createIfNotExists()
    await container
      .getPageBlobClient('other-run-os.vhd')
      .create(1024 * 1024, { metadata: { githubrunid: '7000001' } })
  }
}

/**
 * What a build run finds beside the rest (as the e2e build tests seed it, build-cloud.ts and
 * build-network.test.ts): Ubuntu 24.04 (Trusted Launch supported) and Windows Server 2022 in the
 * Marketplace catalogue with older versions beside the newest, the existing definitions a build
 * can publish into, a shared network with the subnet `subnet-id` names, the script behaviours,
 * and another job's build VM and network.
 */
function seedBuild(emu: ArmEmulator): void {
  emu.addMarketplaceImage({
    publisher: 'Canonical',
    offer: 'ubuntu-24_04-lts',
    sku: 'server',
    versions: [BUILD_IMAGES.Linux.newest, '24.04.202609100', '24.04.20261125'],
    osType: 'Linux',
    hyperVGeneration: 'V2',
    securityType: 'TrustedLaunchSupported'
  })
  emu.addMarketplaceImage({
    publisher: 'MicrosoftWindowsServer',
    offer: 'WindowsServer',
    sku: '2022-datacenter-g2',
    versions: [BUILD_IMAGES.Windows.newest, '20348.4294.250910'],
    osType: 'Windows',
    hyperVGeneration: 'V2'
  })
  for (const [name, osType, securityType] of [
    // Not TrustedLaunchSupported: Azure refuses VM sources for it (real-azure.md row 1).
    ['golden-linux', 'Linux', 'TrustedLaunch'],
    ['golden-linux-std', 'Linux', 'Standard'],
    ['golden-windows', 'Windows', 'Standard']
  ] as const)
    emu.addGalleryImage({
      resourceGroup: RG,
      gallery: GALLERY,
      name,
      osType,
      hyperVGeneration: 'V2',
      securityType
    })
  emu.addResourceGroup(NET_RG, LOCATION)
  emu.addVirtualNetwork({
    resourceGroup: NET_RG,
    name: 'hub',
    location: LOCATION,
    subnets: [{ name: 'builders', addressPrefix: '10.0.1.0/24' }]
  })
  emu.addScriptBehaviour({ marker: 'chaos-setup', exitCode: 0, stdout: 'configured\n' })
  emu.addScriptBehaviour({
    marker: 'chaos-broken',
    exitCode: 3,
    stdout: 'installing\nE: Unable to locate package nosuchpackage\n'
  })
  const otherKey = {
    'github-owner-key': 'f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0',
    'github-run-id': '7000001'
  }
  emu.addVm({
    resourceGroup: RG,
    name: `${OTHER_BUILD}-vm`,
    location: LOCATION,
    osType: 'Linux',
    hyperVGeneration: 'V2',
    tags: otherKey
  })
  emu.addVirtualNetwork({
    resourceGroup: RG,
    name: `${OTHER_BUILD}-vnet`,
    location: LOCATION,
    subnets: [{ name: 'build', addressPrefix: '10.200.0.0/24' }],
    tags: otherKey
  })
}

/** The existing definition a gallery flow publishes into (and whose older versions it may prune). */
export function existingDefinition(s: Scenario): string {
  if (s.flow !== 'build-gallery-existing') return 'golden'
  if (s.build?.os === 'Windows') return 'golden-windows'
  return s.build?.definitionSecurity === 'Standard' ? 'golden-linux-std' : 'golden-linux'
}

/** The build's script files in the workspace: one that succeeds, then maybe one that fails. */
export function buildScripts(s: Scenario): Array<{ path: string; content: string }> {
  if (!s.build) return []
  const windows = s.build.os === 'Windows'
  const ext = windows ? 'ps1' : 'sh'
  const scripts = [
    {
      path: `scripts/setup.${ext}`,
      content: windows
        ? '# chaos-setup\nWrite-Output configured\n'
        : '# chaos-setup\necho configured\n'
    }
  ]
  if (s.build.failingScript)
    scripts.push({
      path: `scripts/broken.${ext}`,
      content: windows ? '# chaos-broken\nexit 3\n' : '# chaos-broken\nexit 3\n'
    })
  return scripts
}

const rgId = (cloud: RunCloud): string =>
  `/subscriptions/${cloud.emu.subscriptionId}/resourceGroups/${RG}`

/**
 * What the invariants need of a build: its temporary resources' IDs, named as the contract's owner
 * key makes them (`vmimage-` and its first 10 hex digits; ownerKeyOf computes the key from the
 * inputs, not from the action's code), the newest base version and the given subnet.
 */
function buildEvidence(
  s: Scenario,
  cloud: RunCloud,
  inputs: Record<string, string>
): BuildEvidence | undefined {
  if (!s.build) return undefined
  const prefix = `vmimage-${ownerKeyOf(inputs).slice(0, 10)}`
  const compute = `${rgId(cloud)}/providers/Microsoft.Compute`
  const network = `${rgId(cloud)}/providers/Microsoft.Network`
  return {
    newest: BUILD_IMAGES[s.build.os].newest,
    ids: {
      vm: `${compute}/virtualMachines/${prefix}-vm`,
      osDisk: `${compute}/disks/${prefix}-osdisk`,
      nic: `${network}/networkInterfaces/${prefix}-nic`,
      nsg: `${network}/networkSecurityGroups/${prefix}-nsg`,
      vnet: `${network}/virtualNetworks/${prefix}-vnet`
    },
    subnetId: inputs['subnet-id'],
    definition: existingDefinition(s)
  }
}

/** The step's inputs for the scenario. */
export function inputsFor(s: Scenario, cloud: RunCloud, vhd: string): Record<string, string> {
  const inputs: Record<string, string> = { ...cloud.inputs }
  const gallery = (definition: string, create: boolean): void => {
    inputs.gallery = GALLERY
    inputs['gallery-image'] = definition
    inputs['gallery-image-version'] = 'auto'
    if (create) inputs['create-gallery-image'] = 'true'
    if (s.keepVersions) inputs['keep-versions'] = String(s.keepVersions)
  }
  switch (s.flow) {
    case 'capture-image':
    case 'capture-gallery-existing':
    case 'capture-gallery-new':
      inputs['source-vm'] = VM
      inputs.deprovision = s.deprovision ? 'true' : 'false'
      inputs['backup-snapshot'] = String(s.backupSnapshot)
      if (s.flow === 'capture-image') inputs['image-name'] = `img-${s.seed}`
      else gallery(s.flow === 'capture-gallery-existing' ? 'golden' : `def-${s.seed}`, true)
      break
    case 'upload-disk':
    case 'upload-blob':
      inputs.vhd = vhd
      inputs['os-type'] = 'Linux'
      inputs['hyper-v-generation'] = 'V2'
      if (s.keepUpload) inputs['keep-upload'] = 'true'
      if (s.flow === 'upload-blob') {
        inputs['upload-via'] = 'storage-account'
        inputs['storage-account'] = STORAGE_ACCOUNT
        inputs['storage-container'] = cloud.container
      }
      if (s.uploadTarget === 'image') inputs['image-name'] = `img-${s.seed}`
      else gallery(`def-${s.seed}`, true)
      break
    case 'build-image':
    case 'build-gallery-new':
    case 'build-gallery-existing': {
      const build = s.build
      if (!build) throw new Error(`a ${s.flow} scenario without build options`)
      inputs['base-image'] = BUILD_IMAGES[build.os].urn
      inputs['customize-scripts'] = buildScripts(s)
        .map(f => f.path)
        .join('\n')
      if (build.subnet)
        inputs['subnet-id'] = `/subscriptions/${cloud.emu.subscriptionId}/${SUBNET_PATH}`
      if (build.keepBuildVm !== 'false') inputs['keep-build-vm'] = build.keepBuildVm
      if (s.flow === 'build-image') inputs['image-name'] = `img-${s.seed}`
      else if (s.flow === 'build-gallery-new') gallery(`def-${s.seed}`, true)
      else gallery(existingDefinition(s), false)
      break
    }
  }
  if (s.interruption.kind === 'timeout') inputs['timeout-minutes'] = '1'
  return inputs
}

/** The requests a build fault is aimed at (scenario.ts BUILD_TARGETS): path, and method if one. */
function targetOf(f: FaultPlan): { path: RegExp; method?: string } {
  switch (f.target) {
    case 'network':
      return {
        path: /\/providers\/Microsoft\.Network\/(networkSecurityGroups|virtualNetworks|networkInterfaces)\/vmimage-/i
      }
    case 'vm-create':
      return { path: /\/virtualMachines\/vmimage-[^/?]+\?/i, method: 'PUT' }
    case 'run-command':
      return { path: /\/virtualMachines\/vmimage-[^/?]+\/runCommands\//i }
    case 'delete':
      return { path: ARM, method: 'DELETE' }
    default:
      return { path: ARM }
  }
}

const TOKEN_FAULTS: ReadonlyArray<FaultPlan['kind']> = ['expired-401', 'token-expiry']

/**
 * A token fault aimed at the same request as an earlier one (same target, same count): the two
 * would refuse the request and then its retry with a token fetched a moment before, which Azure
 * does not do (scenario.ts: "the retry after a fresh token is not refused again"). Campaign 4242
 * drew expired-401@vm-create:0 with token-expiry@vm-create:0 (seed 1667926220). Left out here,
 * not in the draw, so every seed still draws what it drew before.
 */
function secondTokenFault(faults: readonly FaultPlan[], i: number): boolean {
  const f = faults[i]
  return (
    TOKEN_FAULTS.includes(f.kind) &&
    faults
      .slice(0, i)
      .some(e => TOKEN_FAULTS.includes(e.kind) && e.target === f.target && e.after === f.after)
  )
}

function armFault(f: FaultPlan): Fault {
  const target = targetOf(f)
  const at = { ...target, after: f.after, times: f.times }
  switch (f.kind) {
    case 'throttle-429':
      return { ...at, status: 429, retryAfter: 1 }
    case 'error-500':
      return { ...at, status: 500 }
    case 'error-503':
      return { ...at, status: 503 }
    case 'drop-before':
      return { ...at, drop: true }
    case 'drop-after':
      return { ...at, dropResponse: true }
    case 'slow-operation':
      return { ...at, method: target.method ?? f.method, extraPolls: 6 }
    case 'operation-failed':
      return { ...at, method: target.method ?? f.method, failOperation: INTERNAL_EXECUTION_ERROR }
    case 'token-expiry':
      return { ...at, expireTokens: true }
    case 'expired-401':
      return { ...at, status: 401, code: 'ExpiredAuthenticationToken' }
    default:
      throw new Error(`not an ARM fault: ${f.kind}`)
  }
}

function pageFault(f: FaultPlan): ProxyFault {
  const at = { after: f.after, times: f.times }
  switch (f.kind) {
    case 'page-503':
      return { ...at, status: 503 }
    case 'page-500':
      return { ...at, status: 500, code: 'OperationTimedOut' }
    case 'page-drop':
      return { ...at, drop: true }
    case 'page-drop-after':
      return { ...at, dropResponse: true }
    case 'page-lost':
      return { ...at, lose: true }
    case 'blob-drop':
      return {
        ...at,
        drop: true,
        match: req => req.method !== 'PUT' || !/[?&]comp=page/.test(req.url ?? '')
      }
    default:
      throw new Error(`not a page fault: ${f.kind}`)
  }
}

/** The OS source an image or version PUT names: a managed disk ID or a blob URI (upload flows). */
function uploadSourceOf(body: Body | undefined): { diskId?: string; uri?: string } {
  const sp = body?.properties?.storageProfile ?? {}
  const os = sp.osDisk ?? {}
  const img = sp.osDiskImage?.source ?? {}
  const diskId = os.managedDisk?.id ?? (/\/disks\//i.test(img.id ?? '') ? img.id : undefined)
  const uri = os.blobUri ?? img.uri
  return { diskId, uri }
}

/**
 * Reads the bytes an image or version is made from at the moment Azure is asked to make it (the
 * upload disk or blob is deleted afterwards) and compares them with the file's.
 */
function watchUploadSources(
  cloud: RunCloud,
  shared: Shared,
  expected: { disk: Buffer; fixedFooter?: Buffer },
  checks: Map<string, SourceCheck>
): Fault {
  return {
    method: 'PUT',
    path: /\/(images|versions)\/[^/?]+\?/,
    observe: true,
    onMatch: async (request: RecordedRequest) => {
      const { diskId, uri } = uploadSourceOf(request.body as Body)
      let content: Buffer
      try {
        if (diskId) content = await cloud.emu.diskBlobClient(diskId).downloadToBuffer()
        else if (uri) {
          const path = new URL(uri).pathname.split('/').slice(2).join('/')
          const [container, ...blob] = path.split('/')
          content = await cloud.blobService
            .getContainerClient(container)
            .getBlobClient(decodeURIComponent(blob.join('/')))
            .downloadToBuffer()
        } else return
      } catch (e) {
        checks.set(request.path.toLowerCase(), { ok: false, why: `source unreadable: ${e}` })
        return
      }
      void shared
      checks.set(request.path.toLowerCase(), compareUpload(content, expected))
    }
  }
}

export function compareUpload(
  content: Buffer,
  expected: { disk: Buffer; fixedFooter?: Buffer }
): SourceCheck {
  const size = expected.disk.length
  if (content.length !== size + 512)
    return { ok: false, why: `blob is ${content.length} bytes, expected ${size + 512}` }
  if (!content.subarray(0, size).equals(expected.disk))
    return { ok: false, why: 'blob data differs from the file' }
  const footer = content.subarray(size)
  if (footer.toString('ascii', 0, 8) !== 'conectix' || footer.readUInt32BE(60) !== 2)
    return { ok: false, why: 'blob does not end with a fixed VHD footer' }
  if (Number(footer.readBigUInt64BE(48)) !== size)
    return { ok: false, why: 'footer current size differs from the data' }
  if (expected.fixedFooter && !footer.equals(expected.fixedFooter))
    return { ok: false, why: "footer differs from the fixed VHD's own" }
  return { ok: true }
}

/** The ARM request at which an interruption fires: held a moment so the signal lands in it. */
function interruptAt(atRequest: number, fire: () => void): Fault {
  return { path: ARM, after: atRequest, onMatch: fire, delayMs: 300 }
}

export async function runScenario(s: Scenario, shared: Shared): Promise<RunRecord> {
  const t0 = Date.now()
  const cloud = await startRunCloud(shared, isUpload(s))
  const runDir = join(shared.dir, `run-${s.seed}`)
  await mkdir(runDir, { recursive: true })
  try {
    await seedCloud(cloud, s)
    const vhd = join(runDir, `disk.${s.format === 'raw' ? 'raw' : 'vhd'}`)
    const expected = isUpload(s) ? await writeDiskFile(vhd, s.format, s.seed) : undefined
    const seeded = new Map(cloud.emu.resources.list().map(b => [String(b.id).toLowerCase(), b]))
    const seededBlobs = isUpload(s) ? await listBlobs(cloud) : []

    for (const [i, f] of s.faults.entries()) {
      if (PAGE_FAULTS.includes(f.kind)) cloud.proxy?.faults.add(pageFault(f))
      else if (!secondTokenFault(s.faults, i)) cloud.emu.faults.add(armFault(f))
    }
    let fired = false
    const stop = s.interruption
    if (stop.kind === 'sigint' || stop.kind === 'sigkill-rerun')
      cloud.emu.faults.add(interruptAt(stop.atRequest, () => (fired = true)))
    if (stop.kind === 'timeout')
      cloud.emu.faults.add({ path: ARM, method: 'PUT', extraPolls: 1_000_000 })
    const sources = new Map<string, SourceCheck>()
    if (expected) cloud.emu.faults.add(watchUploadSources(cloud, shared, expected, sources))

    const inputs = inputsFor(s, cloud, vhd)
    const workspace = join(runDir, 'workspace')
    for (const f of buildScripts(s)) {
      await mkdir(join(workspace, 'scripts'), { recursive: true })
      await writeFile(join(workspace, f.path), f.content)
    }
    const env = s.build ? { ...cloud.env, GITHUB_WORKSPACE: workspace } : cloud.env
    const base: RunOptions = { inputs, env }
    const attempts: ActionRun[] = []
    if (stop.kind === 'sigint') {
      attempts.push(
        await runAction({
          ...base,
          signalWhen: { when: () => fired, signal: 'SIGINT', escalate: true }
        })
      )
    } else if (stop.kind === 'sigkill-rerun') {
      attempts.push(
        await runAction({
          ...base,
          post: stop.postAfterKill,
          signalWhen: { when: () => fired, signal: 'SIGKILL' }
        })
      )
      if (fired) attempts.push(await runAction({ ...base, runAttempt: 2 }))
    } else {
      attempts.push(await runAction(base))
    }

    const build = buildEvidence(s, cloud, inputs)
    const evidence: Evidence = {
      scenario: s,
      emu: cloud.emu,
      attempts,
      interrupted: fired || stop.kind === 'timeout',
      seeded,
      seededBlobs,
      blobsAfter: isUpload(s) ? await listBlobs(cloud) : [],
      sources,
      vmId: build?.ids.vm ?? `${rgId(cloud)}/providers/Microsoft.Compute/virtualMachines/${VM}`,
      build,
      secrets: [
        cloud.emu.clientSecret,
        shared.azurite.accountKey,
        ...generatedCredentials(cloud.emu)
      ]
    }
    const verdict = checkInvariants(evidence)
    const logs = attempts
      .map((a, i) =>
        [
          `===== attempt ${i + 1} main (exit ${a.main.code ?? a.main.signal})`,
          a.main.stdout,
          a.main.stderr,
          `===== attempt ${i + 1} post (exit ${a.post?.code ?? 'not run'})`,
          a.post?.stdout ?? '',
          a.post?.stderr ?? ''
        ].join('\n')
      )
      .join('\n')
    const requests = cloud.emu.requests
      .map(
        r => `${r.method} ${r.path} → ${r.status}${r.responseDropped ? ' (answer dropped)' : ''}`
      )
      .join('\n')
    return {
      scenario: s,
      ...verdict,
      attempts: attempts.length,
      armRequests: cloud.emu.requests.filter(r => ARM.test(r.path)).length,
      ms: Date.now() - t0,
      logs: `${logs}\n===== ARM requests\n${requests}\n`
    }
  } catch (e) {
    return {
      scenario: s,
      outcome: 'violation',
      violations: [`harness error: ${(e as Error).stack ?? e}`],
      attempts: 0,
      ms: Date.now() - t0
    }
  } finally {
    await cloud.close()
    await rm(runDir, { recursive: true, force: true })
  }
}

/**
 * The admin credentials the action generated for build VMs, as Azure received them in the VM's
 * PUT: a Windows password, or the key material of a Linux public key (build-network.test.ts holds
 * the action to printing neither).
 */
function generatedCredentials(emu: ArmEmulator): string[] {
  return emu
    .writes()
    .filter(w => w.method === 'PUT' && /\/virtualMachines\/[^/]+$/i.test(w.path))
    .flatMap(w => {
      const os = (w.body as Body | undefined)?.properties?.osProfile ?? {}
      const keys: Array<{ keyData?: string }> = os.linuxConfiguration?.ssh?.publicKeys ?? []
      return [os.adminPassword, ...keys.map(k => k.keyData?.split(' ')[1])]
    })
    .filter((v): v is string => typeof v === 'string' && v.length >= 8)
}

async function listBlobs(cloud: RunCloud): Promise<string[]> {
  const names: string[] = []
  const container = cloud.blobService.getContainerClient(cloud.container)
  if (!(await container.exists())) return names
  for await (const b of container.listBlobsFlat()) names.push(b.name)
  return names.sort()
}
