/**
 * The ledger: every resource this run creates that must not outlive a failure, written to the step's
 * state the moment it exists, so the post step can finish the job after a failure or cancellation.
 */
import { resourceId } from './azure/resource-id.js'
import type { BuildNames, Plan, ResourceRef } from './plan.js'

/**
 * The IDs a build's temporary resources get in `resource-group` (names from the owner key, see
 * inputs-build.ts buildNames): the only ones a build's ledger may list.
 */
export function buildResourceIds(
  scope: Omit<ResourceRef, 'name'>,
  names: BuildNames
): { vm: string; osDisk: string; nic: string; nsg: string; vnet: string } {
  const at = (name: string, provider: string, type: string): string =>
    resourceId({ ...scope, name }, provider, type)
  return {
    vm: at(names.vm, 'Microsoft.Compute', 'virtualMachines'),
    osDisk: at(names.osDisk, 'Microsoft.Compute', 'disks'),
    nic: at(names.nic, 'Microsoft.Network', 'networkInterfaces'),
    nsg: at(names.nsg, 'Microsoft.Network', 'networkSecurityGroups'),
    vnet: at(names.vnet, 'Microsoft.Network', 'virtualNetworks')
  }
}

export type LedgerEntry =
  /** A temporary upload disk; `writeAccess` while a write SAS is open on it. */
  | { kind: 'upload-disk'; id: string; writeAccess: boolean }
  /** A temporary page blob (storage-account uploads); the URL carries no SAS. */
  | { kind: 'upload-blob'; url: string; storageAccountId: string }
  /** A managed image or gallery image version being created: removed if it never succeeded. */
  | { kind: 'managed-image'; id: string }
  | { kind: 'gallery-image-version'; id: string }
  /**
   * A temporary resource of a build (VM, its OS disk, NIC, NSG, virtual network): deleted after
   * the capture, or by cleanup after a failure unless `keep-build-vm` keeps it.
   */
  | { kind: 'build-resource'; id: string }

export interface Ledger {
  add(entry: LedgerEntry): void
  update(id: string, change: Partial<LedgerEntry>): void
  remove(id: string): void
  entries(): LedgerEntry[]
}

export function entryId(entry: LedgerEntry): string {
  return entry.kind === 'upload-blob' ? entry.url : entry.id
}

/** A ledger that calls `persist` with its JSON after every change (core.saveState in the action). */
export function createLedger(persist: (json: string) => void, initial: LedgerEntry[] = []): Ledger {
  let entries = [...initial]
  const save = (): void => persist(JSON.stringify(entries))
  return {
    add(entry) {
      entries = [...entries.filter(e => entryId(e) !== entryId(entry)), entry]
      save()
    },
    update(id, change) {
      entries = entries.map(e => (entryId(e) === id ? ({ ...e, ...change } as LedgerEntry) : e))
      save()
    },
    remove(id) {
      entries = entries.filter(e => entryId(e) !== id)
      save()
    },
    entries: () => [...entries]
  }
}

/**
 * What the post step may act on: resources of the kinds, subscription and groups this run's plan
 * could have created (issue 14). The post step reads the ledger back from the step's state, and a
 * step's state can also be set by anything that prints `::save-state` (guest output echoed in the
 * log): entries outside this scope are dropped, not cleaned up.
 */
export interface LedgerScope {
  subscriptionId: string
  /** The groups the run writes to (lower case). */
  resourceGroups: string[]
  /** The managed image the plan creates, if any. */
  managedImageId?: string
  /** The gallery image definition the plan publishes into, if any. */
  galleryDefinitionId?: string
  /** Whether the plan uploads through temporary managed disks. */
  uploadDisks: boolean
  /** The storage account and container of a storage-account upload. */
  storage?: { accountId: string; container: string }
  /** The IDs of a build's temporary resources (lower case): derived from the owner key. */
  buildResourceIds?: string[]
}

/** The state's ledger: the entries' JSON (as createLedger persists it), bound to the run's nonce. */
export function sealLedger(nonce: string, entriesJson: string): string {
  return `{"nonce":${JSON.stringify(nonce)},"entries":${entriesJson}}`
}

/** The scope of a plan: its subscription, the groups it writes to, its targets and uploads. */
export function ledgerScope(plan: Plan): LedgerScope {
  const groups = [plan.resourceGroup, plan.gallery?.gallery.resourceGroup]
  const upload = plan.source.mode === 'upload' ? plan.source.destination : undefined
  return {
    subscriptionId: plan.subscriptionId,
    resourceGroups: groups.filter((g): g is string => g !== undefined).map(g => g.toLowerCase()),
    managedImageId: plan.managedImage
      ? resourceId(plan.managedImage.image, 'Microsoft.Compute', 'images')
      : undefined,
    galleryDefinitionId: plan.gallery
      ? `${resourceId(plan.gallery.gallery, 'Microsoft.Compute', 'galleries')}/images/${plan.gallery.imageDefinition}`
      : undefined,
    uploadDisks: upload?.kind === 'managed-disk',
    storage:
      upload?.kind === 'storage-account'
        ? {
            accountId: resourceId(upload.account, 'Microsoft.Storage', 'storageAccounts'),
            container: upload.container
          }
        : undefined,
    buildResourceIds:
      plan.source.mode === 'build'
        ? Object.values(
            buildResourceIds(
              { subscriptionId: plan.subscriptionId, resourceGroup: plan.resourceGroup },
              plan.source.names
            )
          ).map(id => id.toLowerCase())
        : []
  }
}

const ID =
  /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/(disks|images|galleries)\/([^/?#]+)(?:\/images\/([^/?#]+)\/versions\/([^/?#]+))?$/i

function inScope(entry: LedgerEntry, scope: LedgerScope): boolean {
  const lower = (s: string): string => s.toLowerCase()
  if (entry.kind === 'upload-blob') {
    if (scope.storage === undefined || typeof entry.url !== 'string') return false
    if (lower(String(entry.storageAccountId)) !== lower(scope.storage.accountId)) return false
    let url: URL
    try {
      url = new URL(entry.url)
    } catch {
      return false
    }
    const segments = url.pathname.split('/')
    return (
      url.search === '' &&
      segments.length >= 3 &&
      segments[segments.length - 2] === scope.storage.container &&
      /^[-\w.]+\.vhd$/.test(segments[segments.length - 1])
    )
  }
  const raw = String((entry as { id?: unknown }).id)
  if (entry.kind === 'build-resource') {
    // Exactly one of the names this job's build derives; nothing else.
    return (scope.buildResourceIds ?? []).includes(raw.toLowerCase())
  }
  const m = ID.exec(raw)
  // '.' or '..' as a name would address another resource once it is in a URL path.
  if (!m || raw.split('/').some(part => part === '.' || part === '..')) return false
  const [, subscription, group, type, , , version] = m
  if (lower(subscription) !== lower(scope.subscriptionId)) return false
  if (!scope.resourceGroups.includes(lower(group))) return false
  const id = lower(entry.id)
  switch (entry.kind) {
    case 'upload-disk':
      return scope.uploadDisks && lower(type) === 'disks' && version === undefined
    case 'managed-image':
      return scope.managedImageId !== undefined && id === lower(scope.managedImageId)
    case 'gallery-image-version':
      return (
        scope.galleryDefinitionId !== undefined &&
        version !== undefined &&
        id.startsWith(`${lower(scope.galleryDefinitionId)}/versions/`)
      )
    default:
      return false
  }
}

/**
 * Reads the ledger the post step finds in the state: only with the run's nonce (which the main step
 * keeps in another state entry, written before anything else could print), and only the entries
 * inside `scope`. Anything else is reported in `refused` by kind, never quoted.
 */
export function openLedger(
  text: string,
  nonce: string,
  scopeOf: () => LedgerScope
): { entries: LedgerEntry[]; refused: string[] } {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return { entries: [], refused: ['the saved ledger is not JSON'] }
  }
  const sealed = parsed as { nonce?: unknown; entries?: unknown }
  if (
    typeof sealed !== 'object' ||
    sealed === null ||
    !Array.isArray(sealed.entries) ||
    typeof sealed.nonce !== 'string' ||
    nonce === '' ||
    sealed.nonce !== nonce
  ) {
    return { entries: [], refused: ['the saved ledger was not written by this run'] }
  }
  const entries: LedgerEntry[] = []
  const refused: string[] = []
  if (sealed.entries.length === 0) return { entries, refused }
  const scope = scopeOf()
  const kinds = new Set([
    'upload-disk',
    'upload-blob',
    'managed-image',
    'gallery-image-version',
    'build-resource'
  ])
  for (const raw of sealed.entries as unknown[]) {
    const entry = raw as LedgerEntry
    const kind =
      typeof raw === 'object' && raw !== null && kinds.has(String(entry.kind))
        ? entry.kind
        : 'entry of unknown kind'
    if (kind !== 'entry of unknown kind' && inScope(entry, scope)) entries.push(entry)
    else refused.push(`a ${kind} outside what this run could have created`)
  }
  return { entries, refused }
}
