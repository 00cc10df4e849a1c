/**
 * `dry-run: true` with the bundled action against the ARM emulator: the plan is printed in the log
 * and the job summary, nothing is written (the emulator's request log holds no PUT/POST/PATCH/DELETE
 * to ARM), exit 0 for a plan that would be attempted and exit 1 with the reason for one that would not.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { errorLines, runAction, type ActionRun, type RunOptions } from '../support/action-runner.js'
import { startLocalCloud, type LocalCloud } from '../support/cloud.js'
import type { RecordedRequest } from '../emulator/index.js'

const RG = 'build-rg'
const LOCATION = 'westeurope'
const GALLERY = 'dry_gallery'
const RUN_NUMBER = 77

let cloud: LocalCloud
let temp: string

beforeAll(async () => {
  cloud = await startLocalCloud({
    lro: { pollsBeforeDone: 1, retryAfterSeconds: 0 },
    home: { resourceGroup: RG, location: LOCATION }
  })
  cloud.emu.addResourceGroup(RG, LOCATION)
  cloud.emu.addGallery(RG, GALLERY, LOCATION)
  temp = mkdtempSync(join(tmpdir(), 'dry-run-'))
})
afterAll(async () => {
  await cloud.close()
  rmSync(temp, { recursive: true, force: true })
})

const sub = (): string => cloud.emu.subscriptionId
const imageId = (name: string): string =>
  `/subscriptions/${sub()}/resourceGroups/${RG}/providers/Microsoft.Compute/images/${name}`
const versionId = (definition: string, version: string): string =>
  `/subscriptions/${sub()}/resourceGroups/${RG}/providers/Microsoft.Compute/galleries/${GALLERY}/images/${definition}/versions/${version}`

/** `auto`: <UTC yyyy>.<UTC month*100+day>.<run number>, computed here independently of the product. */
function autoVersion(now = new Date()): string {
  return `${now.getUTCFullYear()}.${(now.getUTCMonth() + 1) * 100 + now.getUTCDate()}.${RUN_NUMBER}`
}

interface DryRun {
  run: ActionRun
  /** Every request the emulator received during the run (main and post step). */
  requests: RecordedRequest[]
}

async function dryRun(
  inputs: Record<string, string>,
  options: Partial<RunOptions> = {}
): Promise<DryRun> {
  const before = cloud.emu.requests.length
  const writesBefore = cloud.emu.writes().length
  const run = await runAction({
    runNumber: RUN_NUMBER,
    ...options,
    inputs: { ...cloud.inputs, 'resource-group': RG, 'dry-run': 'true', ...inputs },
    env: cloud.env
  })
  const requests = cloud.emu.requests.slice(before)
  // Nothing written to ARM: no PUT, POST, PATCH or DELETE; the only POSTs are token requests.
  expect(cloud.emu.writes().length).toBe(writesBefore)
  expect(requests.filter(r => r.method !== 'GET').map(r => `${r.method} ${r.path}`)).toEqual(
    requests
      .filter(r => r.method === 'POST' && /^\/[^/]+\/oauth2\/v2\.0\/token$/.test(r.path))
      .map(r => `${r.method} ${r.path}`)
  )
  // The post step after a dry run has nothing to do.
  expect(run.post?.code).toBe(0)
  return { run, requests }
}

/** The numbered plan lines the main step printed after "Plan:". */
function planLines(run: ActionRun): string[] {
  const lines = run.main.stdout.split('\n')
  const start = lines.indexOf('Plan:')
  expect(start).toBeGreaterThanOrEqual(0)
  const plan: string[] = []
  for (const line of lines.slice(start + 1)) {
    const m = /^ {2}(\d+)\. (.*)$/.exec(line)
    if (!m) break
    expect(Number(m[1])).toBe(plan.length + 1)
    plan.push(m[2])
  }
  return plan
}

describe('dry run of a capture', () => {
  it('prints every step, resource and the version number, writes nothing, exits 0', async () => {
    const vm = cloud.seedVm('dry-vm', { dataDisks: 1 })
    const { run, requests } = await dryRun({
      'source-vm': 'dry-vm',
      deprovision: 'true',
      'backup-snapshot': 'true',
      'delete-source-vm': 'true',
      'image-name': 'dry-img',
      gallery: GALLERY,
      'gallery-image': 'dry-def',
      'create-gallery-image': 'true',
      publisher: 'contoso',
      offer: 'golden',
      sku: 'ubuntu'
    })
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.code).toBe(0)

    const version = autoVersion()
    const plan = planLines(run)
    expect(plan).toEqual([
      "Snapshot the OS disk and 1 data disk(s) of VM 'dry-vm'",
      "Run the OS's generalization in VM 'dry-vm' (waagent -deprovision+user)",
      "Deallocate VM 'dry-vm' and mark it generalized",
      `Create managed image ${imageId('dry-img')} in ${LOCATION}`,
      `Gallery '${GALLERY}' (resource group ${RG}, ${LOCATION}) exists.`,
      "Image definition 'dry-def' will be created (contoso/golden/ubuntu, security type Standard).",
      `Version ${version} (auto) will be created: ${versionId('dry-def', version)}`,
      `Replication (Full) to ${LOCATION}×1 Standard_LRS.`,
      "Delete VM 'dry-vm'"
    ])
    expect(run.main.stdout).toContain('Dry run: nothing was created or changed.')

    // The summary: the same plan, numbered, under a title that says it is a dry run.
    expect(run.summary).toContain('## ✅ Dry run: the run would be attempted')
    expect(run.summary).toContain('### Plan')
    for (const [i, line] of plan.entries()) expect(run.summary).toContain(`${i + 1}. ${line}`)
    // The version number is also an output, so a workflow can show or check it.
    expect(run.outputs['gallery-image-version']).toBe(version)
    expect(run.outputs['image-id']).toBeUndefined()

    // It read what it checked: the VM, the image name, the gallery, the definition, the permissions.
    const reads = requests.filter(r => r.method === 'GET').map(r => r.path)
    expect(reads).toContain(vm.id)
    expect(reads).toContain(imageId('dry-img'))
    expect(reads.some(p => p.endsWith(`/galleries/${GALLERY}/images/dry-def`))).toBe(true)
    expect(reads.some(p => /\/providers\/Microsoft\.Authorization\/permissions$/.test(p))).toBe(
      true
    )
    // The VM is untouched.
    expect(cloud.emu.resources.state(vm.id as string)).toMatchObject({
      powerState: 'running',
      generalized: false
    })
  })

  it('plans a replacement with overwrite: true and an existing definition, without writing', async () => {
    cloud.seedVm('dry-vm2')
    cloud.emu.addImage({ resourceGroup: RG, name: 'dry-existing', location: LOCATION })
    cloud.emu.addGalleryImage({
      resourceGroup: RG,
      gallery: GALLERY,
      name: 'dry-fit',
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V2'
    })
    const { run } = await dryRun({
      'source-vm': 'dry-vm2',
      deprovision: 'false',
      'image-name': 'dry-existing',
      overwrite: 'true',
      gallery: GALLERY,
      'gallery-image': 'dry-fit',
      'gallery-image-version': '3.1.4'
    })
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.code).toBe(0)
    expect(planLines(run)).toEqual([
      "Deallocate VM 'dry-vm2' and mark it generalized",
      `Replace managed image ${imageId('dry-existing')} in ${LOCATION}`,
      `Gallery '${GALLERY}' (resource group ${RG}, ${LOCATION}) exists.`,
      "Image definition 'dry-fit' exists and fits the source (security type Standard).",
      `Version 3.1.4 will be created: ${versionId('dry-fit', '3.1.4')}`,
      `Replication (Full) to ${LOCATION}×1 Standard_LRS.`
    ])
    expect(run.outputs['gallery-image-version']).toBe('3.1.4')
    // The image that would be replaced is still there.
    expect(cloud.emu.resources.get(imageId('dry-existing'))).toBeDefined()
  })

  it('exits 1 for an existing image without overwrite, saying how to fix it', async () => {
    cloud.seedVm('dry-vm3')
    cloud.emu.addImage({ resourceGroup: RG, name: 'dry-taken', location: LOCATION })
    const { run } = await dryRun({ 'source-vm': 'dry-vm3', 'image-name': 'dry-taken' })
    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(
      /Managed image 'dry-taken' already exists in resource group 'build-rg'/
    )
    expect(errors[0]).toMatch(/overwrite: true/)
    expect(run.main.stdout.split('\n')).not.toContain('Plan:')
    expect(run.summary).toContain('## ❌ Dry run')
    expect(run.summary).toContain("Managed image 'dry-taken' already exists")
  })

  it('exits 1 for a Trusted Launch VM into a managed image, pointing to a gallery', async () => {
    cloud.seedVm('dry-tl', { securityType: 'TrustedLaunch' })
    const { run } = await dryRun({ 'source-vm': 'dry-tl', 'image-name': 'dry-tl-img' })
    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/TrustedLaunch/)
    expect(errors[0]).toMatch(/gallery/)
    expect(run.summary).toContain('## ❌ Dry run')
  })

  it('exits 1 when the gallery definition does not fit the VM, naming each mismatch', async () => {
    cloud.seedVm('dry-vm4')
    cloud.emu.addGalleryImage({
      resourceGroup: RG,
      gallery: GALLERY,
      name: 'dry-windows-v1',
      osType: 'Windows',
      osState: 'Generalized',
      hyperVGeneration: 'V1'
    })
    const { run } = await dryRun({
      'source-vm': 'dry-vm4',
      gallery: GALLERY,
      'gallery-image': 'dry-windows-v1'
    })
    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(
      /Gallery image definition 'dry-windows-v1' is for Windows but .* is Linux/
    )
    // The second mismatch follows in the log.
    expect(run.main.stdout).toMatch(
      /Gallery image definition 'dry-windows-v1' is Hyper-V generation V1 but .* is V2/
    )
    expect(run.main.stdout.split('\n')).not.toContain('Plan:')
  })

  it('exits 1 with the missing permissions, before printing a plan', async () => {
    cloud.emu.addResourceGroup('dry-ro-rg', LOCATION)
    cloud.emu.addVm({
      resourceGroup: 'dry-ro-rg',
      name: 'dry-ro-vm',
      location: LOCATION,
      osType: 'Linux'
    })
    cloud.emu.setPermissions('dry-ro-rg', [
      'Microsoft.Compute/*/read',
      'Microsoft.Resources/*/read'
    ])
    const { run } = await dryRun({
      'resource-group': 'dry-ro-rg',
      'source-vm': 'dry-ro-vm',
      'image-name': 'dry-ro-img'
    })
    expect(run.main.code).toBe(1)
    const errors = errorLines(run.main)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toContain('Microsoft.Compute/images/write')
    expect(errors[0]).toContain('Microsoft.Compute/virtualMachines/deallocate/action')
    expect(run.main.stdout.split('\n')).not.toContain('Plan:')
  })
})

describe('dry run of an upload', () => {
  function rawDisk(name: string, mib: number): string {
    const path = join(temp, name)
    writeFileSync(path, '')
    // Sparse: nothing is written, the file just has that size.
    truncateSync(path, mib * 1024 * 1024)
    expect(statSync(path).size).toBe(mib * 1024 * 1024)
    return path
  }

  it('inspects the file, prints the upload and the image it would make, writes nothing', async () => {
    const disk = rawDisk('os.raw', 20)
    const { run, requests } = await dryRun({
      vhd: disk,
      'os-type': 'Linux',
      'hyper-v-generation': 'V2',
      'image-name': 'dry-upload-img'
    })
    expect(errorLines(run.main)).toEqual([])
    expect(run.main.code).toBe(0)
    const plan = planLines(run)
    expect(plan[0]).toMatch(
      new RegExp(
        `^Upload ${disk.replace(/[.]/g, '\\.')} \\(raw\\b.*\\) to a temporary managed disk$`
      )
    )
    expect(plan.slice(1)).toEqual([
      `Create managed image ${imageId('dry-upload-img')} in ${LOCATION}`,
      'Delete the temporary upload disk(s)/blob(s)'
    ])
    expect(run.summary).toContain('### Plan')
    expect(run.summary).toContain(`3. Delete the temporary upload disk(s)/blob(s)`)
    // No disk was made, no byte sent.
    expect(requests.some(r => /\/disks\//.test(r.path) && r.method !== 'GET')).toBe(false)
    expect(run.outputs['uploaded-bytes']).toBeUndefined()
  })

  it('exits 1 before calling Azure when the file is not a usable disk image', async () => {
    const path = join(temp, 'odd.raw')
    writeFileSync(path, '')
    truncateSync(path, 20 * 1024 * 1024 + 4096)
    const before = cloud.emu.requests.length
    const run = await runAction({
      inputs: {
        ...cloud.inputs,
        'resource-group': RG,
        'dry-run': 'true',
        vhd: path,
        'os-type': 'Linux',
        'image-name': 'x'
      },
      env: cloud.env
    })
    expect(run.main.code).toBe(1)
    expect(errorLines(run.main)).toHaveLength(1)
    expect(errorLines(run.main)[0]).toMatch(/odd\.raw/)
    expect(errorLines(run.main)[0]).toMatch(/MiB/)
    expect(cloud.emu.requests.length).toBe(before)
  })
})
