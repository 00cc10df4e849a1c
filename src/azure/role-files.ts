/**
 * The role files in docs/roles/: a core role per mode (what a run with that mode's defaults needs,
 * into a managed image and an existing gallery image definition) and add-ons, one per option that
 * needs more (each add-on is exactly the actions that option adds to the core). All of them are
 * made from `requiredActions`, the table the permissions preflight checks, so a role file can never
 * grant less than the preflight asks for (a unit test compares the files with this output).
 */
import type { GalleryTarget, Plan, Source } from '../plan.js'
import { customRoleDefinition, requiredActions, type CustomRoleDefinition } from './permissions.js'

export type CoreRole = 'capture' | 'upload-managed-disk' | 'upload-storage-account' | 'build'

export type AddOnRole =
  'backup-snapshot' | 'delete-source-vm' | 'overwrite' | 'create-gallery-image' | 'prune-versions'

const PLACEHOLDER = { subscriptionId: '<subscription-id>', resourceGroup: '<resource-group>' }
const ref = (name: string) => ({ ...PLACEHOLDER, name })

function source(mode: CoreRole): Source {
  if (mode === 'build') {
    // A Marketplace base image, no subnet-id: the temporary virtual network is the default.
    return {
      mode: 'build',
      baseImage: { kind: 'marketplace', publisher: 'p', offer: 'o', sku: 's', version: 'latest' },
      vmSize: 'Standard_D2s_v5',
      customizeScripts: [],
      keepBuildVm: 'false',
      names: {
        vm: 'vm',
        computerName: 'vm',
        osDisk: 'osdisk',
        nic: 'nic',
        nsg: 'nsg',
        vnet: 'vnet',
        subnet: 'build'
      }
    }
  }
  if (mode === 'capture') {
    return {
      mode: 'capture',
      vm: ref('vm'),
      generalize: true,
      // The default, before the preflight sees the VM: a running VM is deprovisioned.
      deprovision: 'auto',
      backupSnapshot: false,
      deleteSourceVm: false
    }
  }
  return {
    mode: 'upload',
    osDiskPath: 'os.vhd',
    dataDiskPaths: [],
    osType: 'Linux',
    osState: 'Generalized',
    hyperVGeneration: 'V2',
    architecture: 'x64',
    securityType: 'Standard',
    destination:
      mode === 'upload-managed-disk'
        ? { kind: 'managed-disk', diskSku: 'Standard_LRS' }
        : { kind: 'storage-account', account: ref('account'), container: 'vhds' },
    concurrency: 8,
    keepUpload: false
  }
}

function gallery(over: Partial<GalleryTarget> = {}): GalleryTarget {
  return {
    gallery: ref('gallery'),
    imageDefinition: 'definition',
    version: { kind: 'auto', value: '1.0.0' },
    overwrite: false,
    createIfMissing: false,
    publisher: 'p',
    offer: 'o',
    sku: 's',
    targetRegions: [],
    replicaCount: 1,
    storageAccountType: 'Standard_LRS',
    replicationMode: 'Full',
    excludeFromLatest: false,
    keepVersions: 0,
    ...over
  }
}

/** A run of the mode with every input at its default, into both kinds of target. */
export function corePlan(mode: CoreRole): Plan {
  return {
    connection: { authType: 'auto', environment: 'AzureCloud' },
    subscriptionId: PLACEHOLDER.subscriptionId,
    resourceGroup: PLACEHOLDER.resourceGroup,
    source: source(mode),
    managedImage: { image: ref('image'), overwrite: false },
    gallery: gallery(),
    tags: {},
    run: { repository: '', sha: '', ref: '', workflow: '', runId: '', runAttempt: 1, runNumber: 1 },
    owner: { runId: '', key: '', attempt: 1 },
    timeoutMinutes: 120,
    dryRun: false
  }
}

/** The input that turns each add-on on, applied to a core plan. */
const ADD_ONS: Record<AddOnRole, { input: string; apply: (plan: Plan) => Plan }> = {
  'backup-snapshot': {
    input: 'backup-snapshot: true',
    apply: p =>
      p.source.mode === 'capture' ? { ...p, source: { ...p.source, backupSnapshot: true } } : p
  },
  'delete-source-vm': {
    input: 'delete-source-vm: true',
    apply: p =>
      p.source.mode === 'capture' ? { ...p, source: { ...p.source, deleteSourceVm: true } } : p
  },
  overwrite: {
    input: 'overwrite: true',
    apply: p => ({
      ...p,
      managedImage: { image: ref('image'), overwrite: true },
      gallery: gallery({ overwrite: true })
    })
  },
  'create-gallery-image': {
    input: 'create-gallery-image: true',
    apply: p => ({ ...p, gallery: gallery({ createIfMissing: true }) })
  },
  'prune-versions': {
    input: 'keep-versions: N',
    apply: p => ({ ...p, gallery: gallery({ keepVersions: 5 }) })
  }
}

export const CORE_ROLES: readonly CoreRole[] = [
  'capture',
  'upload-managed-disk',
  'upload-storage-account',
  'build'
]
export const ADD_ON_ROLES = Object.keys(ADD_ONS) as AddOnRole[]

const WHAT: Record<CoreRole, string> = {
  capture: 'capture a VM',
  'upload-managed-disk': 'upload a disk image via a managed disk',
  'upload-storage-account': 'upload a disk image via a storage account',
  build: 'build from a Marketplace image in a temporary VM and network'
}

export function coreRole(mode: CoreRole): CustomRoleDefinition {
  // "and/or": a version made straight from the source (no managed image) needs write on the VM or
  // the storage account's keys (shared-image-galleries.md, RBAC permissions for an ACG image).
  const both = customRoleDefinition(corePlan(mode), [groupPlaceholder])
  const galleryOnly = customRoleDefinition({ ...corePlan(mode), managedImage: undefined }, [
    groupPlaceholder
  ])
  const merged = (a: string[], b: string[]): string[] =>
    [...new Set([...a, ...b])].sort((x, y) => x.localeCompare(y))
  return {
    ...both,
    Actions: merged(both.Actions, galleryOnly.Actions),
    DataActions: merged(both.DataActions, galleryOnly.DataActions),
    Name: `VM image builder (${mode})`,
    Description: `What azure-vm-image-action needs to ${WHAT[mode]} into a managed image and/or an existing gallery image definition, with every other input at its default.`
  }
}

const groupPlaceholder = `/subscriptions/${PLACEHOLDER.subscriptionId}/resourceGroups/${PLACEHOLDER.resourceGroup}`

/** Exactly what the option adds to the core role of a mode it applies to. */
export function addOnRole(name: AddOnRole): CustomRoleDefinition {
  const base: CoreRole = 'capture'
  const core = corePlan(base)
  const actions = (plan: Plan) => requiredActions(plan).flatMap(r => r.actions)
  const before = new Set(actions(core).map(a => a.toLowerCase()))
  const added = [...new Set(actions(ADD_ONS[name].apply(core)))]
    .filter(a => !before.has(a.toLowerCase()))
    .sort((x, y) => x.localeCompare(y))
  return {
    Name: `VM image builder add-on (${name})`,
    IsCustom: true,
    Description: `What azure-vm-image-action needs in addition to its core role for '${ADD_ONS[name].input}'.`,
    Actions: added,
    NotActions: [],
    DataActions: [],
    NotDataActions: [],
    AssignableScopes: [groupPlaceholder]
  }
}

/** Every file of docs/roles/ by name (`npm run roles` writes them; a unit test compares them). */
export function roleFiles(): Record<string, CustomRoleDefinition> {
  const files: Record<string, CustomRoleDefinition> = {}
  for (const mode of CORE_ROLES) files[`${mode}.json`] = coreRole(mode)
  for (const name of ADD_ON_ROLES) files[`add-on-${name}.json`] = addOnRole(name)
  return files
}
