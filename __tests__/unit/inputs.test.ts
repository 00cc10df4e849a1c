import { describe, expect, it } from '@jest/globals'
import { InputError, readPlan, type PlanContext } from '../../src/inputs.js'
import { actionDefaults } from '../support/action-runner.js'

const SUB = '11111111-2222-3333-4444-555555555555'
const context: PlanContext = {
  now: new Date('2026-11-26T10:00:00Z'),
  run: {
    repository: 'contoso/golden-images',
    sha: 'abc',
    ref: 'refs/heads/main',
    workflow: 'nightly',
    runId: '777',
    runAttempt: 2,
    runNumber: 42
  }
}

/** Inputs as the runner passes them: action.yml defaults, overridden by the step's `with:`. */
function plan(inputs: Record<string, string>) {
  const all: Record<string, string> = { ...actionDefaults(), ...inputs }
  return readPlan(name => all[name] ?? '', context)
}

const capture = { 'subscription-id': SUB, 'resource-group': 'build-rg', 'source-vm': 'golden', 'image-name': 'img' }
const upload = {
  'subscription-id': SUB,
  'resource-group': 'build-rg',
  vhd: '/tmp/disk.vhd',
  'os-type': 'Linux',
  'image-name': 'img'
}

function failure(inputs: Record<string, string>): InputError {
  try {
    plan(inputs)
  } catch (e) {
    expect(e).toBeInstanceOf(InputError)
    return e as InputError
  }
  throw new Error('expected an InputError')
}

describe('readPlan: capture', () => {
  it('builds the capture plan with defaults and provenance tags', () => {
    const p = plan({ ...capture, tags: 'team=infra\ncost-center = 42' })
    expect(p.source).toEqual({
      mode: 'capture',
      vm: { subscriptionId: SUB, resourceGroup: 'build-rg', name: 'golden' },
      generalize: true,
      deprovision: false,
      backupSnapshot: false,
      deleteSourceVm: false
    })
    expect(p.managedImage).toEqual({
      image: { subscriptionId: SUB, resourceGroup: 'build-rg', name: 'img' },
      overwrite: false
    })
    expect(p.tags).toEqual({
      team: 'infra',
      'cost-center': '42',
      'github-repository': 'contoso/golden-images',
      'github-sha': 'abc',
      'github-ref': 'refs/heads/main',
      'github-workflow': 'nightly',
      'github-run-id': '777',
      'github-run-attempt': '2'
    })
    expect(p.timeoutMinutes).toBe(120)
    expect(p.dryRun).toBe(false)
    expect(p.connection).toMatchObject({ authType: 'auto', environment: 'AzureCloud' })
  })

  it('takes subscription and group from a full VM resource ID', () => {
    const p = plan({
      'source-vm': `/subscriptions/${SUB}/resourceGroups/vm-rg/providers/Microsoft.Compute/virtualMachines/golden`,
      'image-name': 'img'
    })
    expect(p.subscriptionId).toBe(SUB)
    expect(p.resourceGroup).toBe('vm-rg')
  })

  it('matches enum values and booleans case-insensitively', () => {
    const p = plan({ ...capture, 'auth-type': 'Azure-CLI', environment: 'azureusgovernment', deprovision: 'TRUE' })
    expect(p.connection.authType).toBe('azure-cli')
    expect(p.connection.environment).toBe('AzureUSGovernment')
    expect(p.source.mode === 'capture' && p.source.deprovision).toBe(true)
  })

  it('omits provenance tags when asked', () => {
    expect(plan({ ...capture, 'provenance-tags': 'false', tags: 'a=b' }).tags).toEqual({ a: 'b' })
  })

  it('normalises the location like Azure', () => {
    expect(plan({ ...capture, location: 'West Europe' }).location).toBe('westeurope')
  })
})

describe('readPlan: upload', () => {
  it('builds the upload plan with contract defaults', () => {
    const p = plan({ ...upload, 'data-vhds': '/tmp/d0.vhd\n\n/tmp/d1.raw\n' })
    expect(p.source).toEqual({
      mode: 'upload',
      osDiskPath: '/tmp/disk.vhd',
      dataDiskPaths: ['/tmp/d0.vhd', '/tmp/d1.raw'],
      osType: 'Linux',
      osState: 'Generalized',
      hyperVGeneration: 'V1',
      architecture: 'x64',
      securityType: 'Standard',
      destination: { kind: 'managed-disk', diskSku: 'Standard_LRS' },
      concurrency: 8,
      keepUpload: false
    })
  })

  it('resolves a storage account destination', () => {
    const p = plan({ ...upload, 'upload-via': 'storage-account', 'storage-account': 'imagesstore' })
    expect(p.source.mode === 'upload' && p.source.destination).toEqual({
      kind: 'storage-account',
      account: { subscriptionId: SUB, resourceGroup: 'build-rg', name: 'imagesstore' },
      container: 'vhds'
    })
  })
})

describe('readPlan: gallery', () => {
  const gallery = { ...capture, 'image-name': '', gallery: 'golden_gallery', 'gallery-image': 'ubuntu' }

  it('computes the auto version from the UTC date and run number', () => {
    const p = plan(gallery)
    expect(p.gallery?.version).toEqual({ kind: 'auto', value: '2026.1126.42' })
    expect(p.gallery).toMatchObject({ publisher: 'contoso', offer: 'golden-images', sku: 'ubuntu', keepVersions: 0 })
  })

  it('parses target regions', () => {
    const p = plan({ ...gallery, 'target-regions': 'East US=2, westeurope=1=Standard_ZRS\nnorth europe' })
    expect(p.gallery?.targetRegions).toEqual([
      { name: 'eastus', replicas: 2 },
      { name: 'westeurope', replicas: 1, storageAccountType: 'Standard_ZRS' },
      { name: 'northeurope' }
    ])
  })

  it('allows a specialized capture into a gallery', () => {
    const p = plan({ ...gallery, generalize: 'false' })
    expect(p.source.mode === 'capture' && p.source.generalize).toBe(false)
  })

  it('accepts Shallow replication for one region and one replica', () => {
    expect(plan({ ...gallery, 'replication-mode': 'shallow' }).gallery?.replicationMode).toBe('Shallow')
  })
})

describe('readPlan: bad inputs name the input', () => {
  const cases: Array<[string, Record<string, string>, string]> = [
    ['auth-type', { ...capture, 'auth-type': 'password' }, 'auth-type'],
    ['client-id not a GUID', { ...capture, 'client-id': 'abc' }, 'client-id'],
    ['oidc without tenant', { ...capture, 'auth-type': 'oidc', 'client-id': SUB }, 'tenant-id'],
    ['client-secret missing', { ...capture, 'auth-type': 'client-secret', 'client-id': SUB, 'tenant-id': SUB }, 'client-secret'],
    ['subscription-id', { ...capture, 'subscription-id': 'nope' }, 'subscription-id'],
    ['subscription-id missing', { 'resource-group': 'rg', 'source-vm': 'vm', 'image-name': 'i' }, 'subscription-id'],
    ['environment', { ...capture, environment: 'Mars' }, 'environment'],
    ['AzureStack without endpoint', { ...capture, environment: 'AzureStack' }, 'resource-manager-endpoint'],
    ['endpoint not https', { ...capture, environment: 'AzureStack', 'resource-manager-endpoint': 'http://x' }, 'resource-manager-endpoint'],
    ['tenant-id', { ...capture, 'tenant-id': 'not a tenant' }, 'tenant-id'],
    ['location', { ...capture, location: 'east-us!' }, 'location'],
    ['publisher', { ...capture, gallery: 'g', 'gallery-image': 'd', publisher: 'bad publisher' }, 'publisher'],
    ['resource-group', { ...capture, 'resource-group': 'bad/group' }, 'resource-group'],
    ['mode', { ...capture, mode: 'clone' }, 'mode'],
    ['both sources', { ...capture, vhd: '/x.vhd' }, 'source-vm'],
    ['no source', { 'subscription-id': SUB, 'resource-group': 'rg', 'image-name': 'i' }, 'source-vm'],
    ['source-vm wrong id type', { ...capture, 'source-vm': `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks/d` }, 'source-vm'],
    ['generalize', { ...capture, generalize: 'yes' }, 'generalize'],
    ['deprovision', { ...capture, deprovision: '1' }, 'deprovision'],
    ['backup-snapshot', { ...capture, 'backup-snapshot': 'maybe' }, 'backup-snapshot'],
    ['delete-source-vm', { ...capture, 'delete-source-vm': 'y' }, 'delete-source-vm'],
    ['specialized without gallery', { ...capture, generalize: 'false' }, 'generalize'],
    ['os-type missing', { ...upload, 'os-type': '' }, 'os-type'],
    ['os-type', { ...upload, 'os-type': 'BeOS' }, 'os-type'],
    ['os-state', { ...upload, 'os-state': 'Sleeping' }, 'os-state'],
    ['specialized upload into managed image', { ...upload, 'os-state': 'Specialized' }, 'os-state'],
    ['hyper-v-generation', { ...upload, 'hyper-v-generation': 'V3' }, 'hyper-v-generation'],
    ['architecture', { ...upload, architecture: 'riscv' }, 'architecture'],
    ['security-type', { ...upload, 'security-type': 'Secure' }, 'security-type'],
    ['upload-via', { ...upload, 'upload-via': 'ftp' }, 'upload-via'],
    ['upload-disk-sku', { ...upload, 'upload-disk-sku': 'UltraSSD_LRS' }, 'upload-disk-sku'],
    ['storage-account missing', { ...upload, 'upload-via': 'storage-account' }, 'storage-account'],
    ['storage-account name', { ...upload, 'upload-via': 'storage-account', 'storage-account': 'Bad_Name' }, 'storage-account'],
    ['storage-container', { ...upload, 'upload-via': 'storage-account', 'storage-account': 'sa1', 'storage-container': 'A' }, 'storage-container'],
    ['upload-concurrency', { ...upload, 'upload-concurrency': '0' }, 'upload-concurrency'],
    ['upload-concurrency text', { ...upload, 'upload-concurrency': 'many' }, 'upload-concurrency'],
    ['keep-upload', { ...upload, 'keep-upload': 'sure' }, 'keep-upload'],
    ['no target', { ...capture, 'image-name': '' }, 'image-name'],
    ['image-name', { ...capture, 'image-name': 'bad name!' }, 'image-name'],
    ['overwrite', { ...capture, overwrite: 'always' }, 'overwrite'],
    ['gallery without definition', { ...capture, gallery: 'g' }, 'gallery-image'],
    ['gallery-image without gallery', { ...capture, 'gallery-image': 'def' }, 'gallery'],
    ['gallery name', { ...capture, gallery: 'my-gallery', 'gallery-image': 'def' }, 'gallery'],
    ['gallery-image-version', { ...capture, gallery: 'g', 'gallery-image': 'd', 'gallery-image-version': '1.2' }, 'gallery-image-version'],
    ['gallery-image-version overflow', { ...capture, gallery: 'g', 'gallery-image': 'd', 'gallery-image-version': '1.2.2147483648' }, 'gallery-image-version'],
    ['create-gallery-image', { ...capture, gallery: 'g', 'gallery-image': 'd', 'create-gallery-image': 'ok' }, 'create-gallery-image'],
    ['target-regions', { ...capture, gallery: 'g', 'gallery-image': 'd', 'target-regions': 'eastus=two' }, 'target-regions'],
    ['target-regions storage', { ...capture, gallery: 'g', 'gallery-image': 'd', 'target-regions': 'eastus=1=Ultra' }, 'target-regions'],
    ['replica-count', { ...capture, gallery: 'g', 'gallery-image': 'd', 'replica-count': '0' }, 'replica-count'],
    ['storage-account-type', { ...capture, gallery: 'g', 'gallery-image': 'd', 'storage-account-type': 'Ultra' }, 'storage-account-type'],
    ['replication-mode', { ...capture, gallery: 'g', 'gallery-image': 'd', 'replication-mode': 'Deep' }, 'replication-mode'],
    ['Shallow with two regions', { ...capture, gallery: 'g', 'gallery-image': 'd', 'replication-mode': 'Shallow', 'target-regions': 'eastus,westus' }, 'replication-mode'],
    ['Shallow with two replicas', { ...capture, gallery: 'g', 'gallery-image': 'd', 'replication-mode': 'Shallow', 'replica-count': '2' }, 'replication-mode'],
    ['exclude-from-latest', { ...capture, gallery: 'g', 'gallery-image': 'd', 'exclude-from-latest': 'no' }, 'exclude-from-latest'],
    ['end-of-life-date format', { ...capture, gallery: 'g', 'gallery-image': 'd', 'end-of-life-date': 'next year' }, 'end-of-life-date'],
    ['end-of-life-date past', { ...capture, gallery: 'g', 'gallery-image': 'd', 'end-of-life-date': '2020-01-01' }, 'end-of-life-date'],
    ['keep-versions', { ...capture, gallery: 'g', 'gallery-image': 'd', 'keep-versions': '-1' }, 'keep-versions'],
    ['tags', { ...capture, tags: 'no-equals-sign' }, 'tags'],
    ['provenance-tags', { ...capture, 'provenance-tags': 'off' }, 'provenance-tags'],
    ['timeout-minutes', { ...capture, 'timeout-minutes': '0' }, 'timeout-minutes'],
    ['dry-run', { ...capture, 'dry-run': 'please' }, 'dry-run']
  ]

  it.each(cases)('%s', (_name, inputs, input) => {
    const error = failure(inputs)
    expect(error.input).toBe(input)
    expect(error.message).toContain(`'${input}'`)
  })
})
