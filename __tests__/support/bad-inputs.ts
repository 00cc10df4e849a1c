/**
 * Unset inputs are given as '' so the cases stay bad when merged over working connection inputs.
 *
 * Every bad input of the contract's tables, as [case, inputs, the input the error must name]. Shared
 * by the unit tests of input parsing and the end-to-end tests of the bundled action.
 */
export type BadInputCase = [string, Record<string, string>, string]

export function badInputCases(
  SUB: string,
  capture: Record<string, string>,
  upload: Record<string, string>
): BadInputCase[] {
  return [
    ['auth-type', { ...capture, 'auth-type': 'password' }, 'auth-type'],
    ['client-id not a GUID', { ...capture, 'client-id': 'abc' }, 'client-id'],
    [
      'oidc without tenant',
      { ...capture, 'auth-type': 'oidc', 'client-id': SUB, 'tenant-id': '' },
      'tenant-id'
    ],
    [
      'client-secret missing',
      {
        ...capture,
        'auth-type': 'client-secret',
        'client-id': SUB,
        'tenant-id': SUB,
        'client-secret': ''
      },
      'client-secret'
    ],
    ['subscription-id', { ...capture, 'subscription-id': 'nope' }, 'subscription-id'],
    [
      'subscription-id missing',
      { 'subscription-id': '', 'resource-group': 'rg', 'source-vm': 'vm', 'image-name': 'i' },
      'subscription-id'
    ],
    ['environment', { ...capture, environment: 'Mars' }, 'environment'],
    [
      'AzureStack without endpoint',
      { ...capture, environment: 'AzureStack', 'resource-manager-endpoint': '' },
      'resource-manager-endpoint'
    ],
    [
      'endpoint not https',
      { ...capture, environment: 'AzureStack', 'resource-manager-endpoint': 'http://x' },
      'resource-manager-endpoint'
    ],
    ['tenant-id', { ...capture, 'tenant-id': 'not a tenant' }, 'tenant-id'],
    ['location', { ...capture, location: 'east-us!' }, 'location'],
    [
      'publisher',
      { ...capture, gallery: 'g', 'gallery-image': 'd', publisher: 'bad publisher' },
      'publisher'
    ],
    ['resource-group', { ...capture, 'resource-group': 'bad/group' }, 'resource-group'],
    ['mode', { ...capture, mode: 'clone' }, 'mode'],
    ['both sources', { ...capture, vhd: '/x.vhd' }, 'source-vm'],
    [
      'no source',
      { 'subscription-id': SUB, 'resource-group': 'rg', 'image-name': 'i' },
      'source-vm'
    ],
    [
      'source-vm wrong id type',
      {
        ...capture,
        'source-vm': `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks/d`
      },
      'source-vm'
    ],
    ['generalize', { ...capture, generalize: 'yes' }, 'generalize'],
    ['deprovision', { ...capture, deprovision: '1' }, 'deprovision'],
    ['backup-snapshot', { ...capture, 'backup-snapshot': 'maybe' }, 'backup-snapshot'],
    ['delete-source-vm', { ...capture, 'delete-source-vm': 'y' }, 'delete-source-vm'],
    [
      'delete a specialized VM',
      {
        ...capture,
        generalize: 'false',
        gallery: 'g',
        'gallery-image': 'd',
        'image-name': '',
        'delete-source-vm': 'true'
      },
      'delete-source-vm'
    ],
    [
      'trusted launch upload on V1',
      {
        ...upload,
        'security-type': 'TrustedLaunchSupported',
        'image-name': '',
        gallery: 'g',
        'gallery-image': 'd'
      },
      'security-type'
    ],
    [
      'storage account in another subscription',
      {
        ...upload,
        'upload-via': 'storage-account',
        'storage-account':
          '/subscriptions/99999999-9999-9999-9999-999999999999/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa1'
      },
      'storage-account'
    ],
    ['specialized without gallery', { ...capture, generalize: 'false' }, 'generalize'],
    ['os-type missing', { ...upload, 'os-type': '' }, 'os-type'],
    ['os-type', { ...upload, 'os-type': 'BeOS' }, 'os-type'],
    ['os-state', { ...upload, 'os-state': 'Sleeping' }, 'os-state'],
    ['specialized upload into managed image', { ...upload, 'os-state': 'Specialized' }, 'os-state'],
    ['hyper-v-generation', { ...upload, 'hyper-v-generation': 'V3' }, 'hyper-v-generation'],
    ['architecture', { ...upload, architecture: 'riscv' }, 'architecture'],
    ['Arm64 upload into a managed image', { ...upload, architecture: 'Arm64' }, 'architecture'],
    ['security-type', { ...upload, 'security-type': 'Secure' }, 'security-type'],
    ['upload-via', { ...upload, 'upload-via': 'ftp' }, 'upload-via'],
    ['upload-disk-sku', { ...upload, 'upload-disk-sku': 'UltraSSD_LRS' }, 'upload-disk-sku'],
    ['storage-account missing', { ...upload, 'upload-via': 'storage-account' }, 'storage-account'],
    [
      'storage-account name',
      { ...upload, 'upload-via': 'storage-account', 'storage-account': 'Bad_Name' },
      'storage-account'
    ],
    [
      'storage-container',
      {
        ...upload,
        'upload-via': 'storage-account',
        'storage-account': 'sa1',
        'storage-container': 'A'
      },
      'storage-container'
    ],
    ['upload-concurrency', { ...upload, 'upload-concurrency': '0' }, 'upload-concurrency'],
    ['upload-concurrency text', { ...upload, 'upload-concurrency': 'many' }, 'upload-concurrency'],
    ['keep-upload', { ...upload, 'keep-upload': 'sure' }, 'keep-upload'],
    ['no target', { ...capture, 'image-name': '' }, 'image-name'],
    ['image-name', { ...capture, 'image-name': 'bad name!' }, 'image-name'],
    ['overwrite', { ...capture, overwrite: 'always' }, 'overwrite'],
    ['gallery without definition', { ...capture, gallery: 'g' }, 'gallery-image'],
    ['gallery-image without gallery', { ...capture, 'gallery-image': 'def' }, 'gallery'],
    ['gallery name', { ...capture, gallery: 'my-gallery', 'gallery-image': 'def' }, 'gallery'],
    [
      'gallery-image-version',
      { ...capture, gallery: 'g', 'gallery-image': 'd', 'gallery-image-version': '1.2' },
      'gallery-image-version'
    ],
    [
      'gallery-image-version overflow',
      { ...capture, gallery: 'g', 'gallery-image': 'd', 'gallery-image-version': '1.2.2147483648' },
      'gallery-image-version'
    ],
    [
      'create-gallery-image',
      { ...capture, gallery: 'g', 'gallery-image': 'd', 'create-gallery-image': 'ok' },
      'create-gallery-image'
    ],
    [
      'target-regions',
      { ...capture, gallery: 'g', 'gallery-image': 'd', 'target-regions': 'eastus=two' },
      'target-regions'
    ],
    [
      'target-regions storage',
      { ...capture, gallery: 'g', 'gallery-image': 'd', 'target-regions': 'eastus=1=Ultra' },
      'target-regions'
    ],
    [
      'replica-count',
      { ...capture, gallery: 'g', 'gallery-image': 'd', 'replica-count': '0' },
      'replica-count'
    ],
    [
      'storage-account-type',
      { ...capture, gallery: 'g', 'gallery-image': 'd', 'storage-account-type': 'Ultra' },
      'storage-account-type'
    ],
    [
      'replication-mode',
      { ...capture, gallery: 'g', 'gallery-image': 'd', 'replication-mode': 'Deep' },
      'replication-mode'
    ],
    [
      'Shallow with two regions',
      {
        ...capture,
        gallery: 'g',
        'gallery-image': 'd',
        'replication-mode': 'Shallow',
        'target-regions': 'eastus,westus'
      },
      'replication-mode'
    ],
    [
      'Shallow with two replicas',
      {
        ...capture,
        gallery: 'g',
        'gallery-image': 'd',
        'replication-mode': 'Shallow',
        'replica-count': '2'
      },
      'replication-mode'
    ],
    [
      'exclude-from-latest',
      { ...capture, gallery: 'g', 'gallery-image': 'd', 'exclude-from-latest': 'no' },
      'exclude-from-latest'
    ],
    [
      'end-of-life-date format',
      { ...capture, gallery: 'g', 'gallery-image': 'd', 'end-of-life-date': 'next year' },
      'end-of-life-date'
    ],
    [
      'end-of-life-date past',
      { ...capture, gallery: 'g', 'gallery-image': 'd', 'end-of-life-date': '2020-01-01' },
      'end-of-life-date'
    ],
    [
      'keep-versions',
      { ...capture, gallery: 'g', 'gallery-image': 'd', 'keep-versions': '-1' },
      'keep-versions'
    ],
    ['tags', { ...capture, tags: 'no-equals-sign' }, 'tags'],
    ['provenance-tags', { ...capture, 'provenance-tags': 'off' }, 'provenance-tags'],
    ['timeout-minutes', { ...capture, 'timeout-minutes': '0' }, 'timeout-minutes'],
    ['dry-run', { ...capture, 'dry-run': 'please' }, 'dry-run']
  ]
}

/** Every bad build-mode input (`build` is a working build step's inputs, without a target). */
export function badBuildInputCases(SUB: string, build: Record<string, string>): BadInputCase[] {
  const OTHER = '99999999-9999-9999-9999-999999999999'
  const gallery = `/subscriptions/${SUB}/resourceGroups/images-rg/providers/Microsoft.Compute/galleries/g`
  return [
    ['base-image not a URN', { ...build, 'base-image': 'Canonical:ubuntu' }, 'base-image'],
    [
      'base-image bad version',
      { ...build, 'base-image': 'Canonical:ubuntu-24_04-lts:server:newest' },
      'base-image'
    ],
    [
      'base-image wrong resource type',
      {
        ...build,
        'base-image': `/subscriptions/${SUB}/resourceGroups/rg/providers/Microsoft.Compute/disks/d`
      },
      'base-image'
    ],
    [
      'base-image in another subscription',
      { ...build, 'base-image': `${gallery.replace(SUB, OTHER)}/images/def` },
      'base-image'
    ],
    ['base-image with source-vm', { ...build, 'source-vm': 'golden' }, 'source-vm'],
    ['vm-size', { ...build, 'vm-size': 'D2s v5' }, 'vm-size'],
    [
      'subnet-id not a subnet',
      {
        ...build,
        'subnet-id': `/subscriptions/${SUB}/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v`
      },
      'subnet-id'
    ],
    ['os-disk-size-gb', { ...build, 'os-disk-size-gb': '5000' }, 'os-disk-size-gb'],
    ['keep-build-vm', { ...build, 'keep-build-vm': 'always' }, 'keep-build-vm'],
    ['os-type in build mode', { ...build, 'os-type': 'Linux' }, 'os-type'],
    ['generalize false in build mode', { ...build, generalize: 'false' }, 'generalize'],
    [
      'TrustedLaunch into a managed image',
      { ...build, 'security-type': 'TrustedLaunch', 'image-name': 'img' },
      'security-type'
    ],
    ['build without a target', { ...build, 'image-name': '', gallery: '' }, 'image-name']
  ]
}
