/**
 * Permissions preflight: which Azure RBAC actions the plan needs, where, and whether the identity
 * has them — checked before anything changes, so a missing role fails in seconds with the exact
 * actions to grant instead of an hour into a capture, after the VM was already generalized.
 *
 * Action names are those of Azure's resource provider operations list (learn.microsoft.com
 * "Azure permissions for Compute" / "for Storage"). The check reads
 * `Microsoft.Authorization/permissions` at the resource itself (VM, storage account, gallery,
 * managed image), which folds in every role assigned on it or above it: roles are often assigned
 * on the gallery alone ("We recommend sharing at the gallery level", azure-compute-gallery.md).
 * When the resource cannot be read there (it does not exist yet), the resource group's are read
 * instead, and what seems missing only there is a warning, not a refusal: a role on the resource
 * created later may still grant it. ABAC conditions and deny assignments are not seen either;
 * Azure remains the judge.
 */
import type { AzureClients } from './clients.js'
import type { Logger } from '../log.js'
import type { BuildSource, CaptureSource, Plan, UploadSource } from '../plan.js'
import { roleForAction } from './roles.js'
import { oneLine } from '../untrusted.js'

export interface Scope {
  subscriptionId: string
  resourceGroup: string
  /**
   * Set when the actions concern one existing resource: permissions are then read at that
   * resource, which also counts roles assigned on it alone (blob data roles are usually assigned
   * on the storage account, not its resource group).
   */
  resource?: { provider: string; type: string; name: string }
}

export interface RequiredPermissions {
  scope: Scope
  /** Control-plane actions (ARM). */
  actions: string[]
  /** Data-plane actions (blob reads and writes with an Entra ID token). */
  dataActions: string[]
  /**
   * Control-plane actions that make all of `dataActions` unnecessary: the storage account's keys,
   * which the uploader falls back to when the identity has no blob data role.
   */
  dataActionsFallback?: string[]
}

/** One entry of `permissions.listForResourceGroup`: a role's grants at that scope. */
export interface PermissionEntry {
  actions?: string[]
  notActions?: string[]
  dataActions?: string[]
  notDataActions?: string[]
}

export interface MissingPermissions {
  scope: Scope
  actions: string[]
  dataActions: string[]
  /** Set when data actions are missing but this fallback would also do. */
  dataActionsFallback?: string[]
  /**
   * Set when the permissions could only be read at the resource group, not at the resource the
   * actions concern: a role assigned on that resource alone would not show, so this is a doubt.
   */
  readAtResourceGroup?: true
}

const COMPUTE = 'Microsoft.Compute'
const STORAGE = 'Microsoft.Storage/storageAccounts'
const BLOBS = `${STORAGE}/blobServices/containers/blobs`
export const RESOURCE_GROUP_READ = 'Microsoft.Resources/subscriptions/resourceGroups/read'
/** Async operation status endpoints the SDK polls (`…/locations/{loc}/…Operations/{id}`). */
export const VM_OPERATION_STATUS = `${COMPUTE}/locations/operations/read`
export const DISK_OPERATION_STATUS = `${COMPUTE}/locations/diskOperations/read`
export const GALLERY_OPERATION_STATUS = `${COMPUTE}/locations/capsOperations/read`

class ScopeSet {
  private readonly byKey = new Map<string, RequiredPermissions>()

  add(ref: Scope, actions: string[], dataActions: string[] = [], fallback?: string[]): void {
    const r = ref.resource
    const key =
      `${ref.subscriptionId}/${ref.resourceGroup}${r ? `/${r.provider}/${r.type}/${r.name}` : ''}`.toLowerCase()
    let entry = this.byKey.get(key)
    if (!entry) {
      entry = {
        scope: {
          subscriptionId: ref.subscriptionId,
          resourceGroup: ref.resourceGroup,
          ...(r ? { resource: { provider: r.provider, type: r.type, name: r.name } } : {})
        },
        actions: [],
        dataActions: []
      }
      this.byKey.set(key, entry)
    }
    entry.actions = union(entry.actions, actions)
    entry.dataActions = union(entry.dataActions, dataActions)
    if (fallback) entry.dataActionsFallback = union(entry.dataActionsFallback ?? [], fallback)
  }

  list(): RequiredPermissions[] {
    return [...this.byKey.values()]
  }
}

function union(a: string[], b: string[]): string[] {
  const seen = new Map(a.map(x => [x.toLowerCase(), x]))
  for (const x of b) if (!seen.has(x.toLowerCase())) seen.set(x.toLowerCase(), x)
  return [...seen.values()].sort((x, y) => x.localeCompare(y))
}

/**
 * Every action the plan will perform, grouped by the resource group it is checked at. Linked
 * checks are included: Azure authorizes a copy from a VM, disk or storage account against the
 * source too (LinkedAuthorizationFailed), so reading the source is required where it lives.
 */
export function requiredActions(plan: Plan): RequiredPermissions[] {
  const scopes = new ScopeSet()
  const main: Scope = { subscriptionId: plan.subscriptionId, resourceGroup: plan.resourceGroup }
  // The default location comes from the resource group; existence checks read it too.
  scopes.add(main, [RESOURCE_GROUP_READ])

  const source = plan.source
  if (source.mode === 'capture') addCaptureActions(scopes, main, plan, source)
  else if (source.mode === 'build') addBuildActions(scopes, main, source)
  else addUploadActions(scopes, main, plan, source)
  addTargetActions(scopes, plan)
  return scopes.list()
}

/** Capture mode: reading the VM and its disks, and what the plan does to them. */
function addCaptureActions(scopes: ScopeSet, main: Scope, plan: Plan, source: CaptureSource): void {
  const vm = source.vm
  const vmActions = [
    `${COMPUTE}/virtualMachines/read`,
    `${COMPUTE}/virtualMachines/instanceView/read`,
    // The OS disk's properties (security type, generation) are read to plan the targets.
    `${COMPUTE}/disks/read`
  ]
  if (source.generalize) {
    vmActions.push(
      `${COMPUTE}/virtualMachines/deallocate/action`,
      `${COMPUTE}/virtualMachines/generalize/action`,
      VM_OPERATION_STATUS
    )
  }
  // `auto` before the preflight decided it (see decidedPlan): a running VM would need it.
  if (source.deprovision === true || (source.deprovision === 'auto' && source.generalize)) {
    // The action form of Run Command (POST …/runCommand), not the managed runCommands resource.
    vmActions.push(`${COMPUTE}/virtualMachines/runCommand/action`, VM_OPERATION_STATUS)
  }
  if (source.deleteSourceVm)
    vmActions.push(`${COMPUTE}/virtualMachines/delete`, VM_OPERATION_STATUS)
  // A gallery image version made straight from the VM needs "write permission on the Virtual
  // Machine" (shared-image-galleries.md, "RBAC Permissions required to create an ACG Image").
  if (plan.gallery && !plan.managedImage) vmActions.push(`${COMPUTE}/virtualMachines/write`)
  if (source.backupSnapshot) {
    // A snapshot with createOption Copy reads the source disk through its access SAS: Azure checks
    // disks/beginGetAccess/action on the source (as the built-in Disk Snapshot Contributor grants).
    vmActions.push(`${COMPUTE}/disks/beginGetAccess/action`, DISK_OPERATION_STATUS)
    // The snapshots themselves go into `resource-group` (the VM's unless set otherwise).
    scopes.add(main, [
      `${COMPUTE}/snapshots/read`,
      `${COMPUTE}/snapshots/write`,
      DISK_OPERATION_STATUS
    ])
  }
  scopes.add(resourceScope(vm, 'virtualMachines'), vmActions)
}

/** Upload mode: temporary managed disks in `resource-group`, or page blobs in the account. */
function addUploadActions(scopes: ScopeSet, main: Scope, plan: Plan, source: UploadSource): void {
  const destination = source.destination
  if (destination.kind === 'managed-disk') {
    const diskActions = [
      `${COMPUTE}/disks/read`,
      `${COMPUTE}/disks/write`,
      `${COMPUTE}/disks/beginGetAccess/action`,
      `${COMPUTE}/disks/endGetAccess/action`,
      DISK_OPERATION_STATUS
    ]
    // The upload disks are removed once the image exists, and by the post step after a failure.
    if (!source.keepUpload) diskActions.push(`${COMPUTE}/disks/delete`)
    scopes.add(main, diskActions)
  } else {
    const dataActions = [`${BLOBS}/read`, `${BLOBS}/write`]
    if (!source.keepUpload) dataActions.push(`${BLOBS}/delete`)
    const account = destination.account
    scopes.add(
      {
        subscriptionId: account.subscriptionId,
        resourceGroup: account.resourceGroup,
        resource: { provider: 'Microsoft.Storage', type: 'storageAccounts', name: account.name }
      },
      [
        `${STORAGE}/read`,
        `${STORAGE}/blobServices/containers/read`,
        `${STORAGE}/blobServices/containers/write`
      ],
      dataActions,
      // Without a blob data role the uploader signs with the account key instead.
      [`${STORAGE}/listKeys/action`]
    )
    // A gallery image version from a VHD needs "Microsoft.Storage/storageAccounts/listKeys/action
    // (or) Storage Account Contributor on the storage account" (shared-image-galleries.md).
    if (plan.gallery && !plan.managedImage) {
      scopes.add(resourceScope(account, 'storageAccounts', 'Microsoft.Storage'), [
        `${STORAGE}/listKeys/action`
      ])
    }
  }
}

/** The image targets: the managed image and the gallery version, each where it lives. */
function addTargetActions(scopes: ScopeSet, plan: Plan): void {
  if (plan.managedImage) {
    const imageActions = [`${COMPUTE}/images/read`, `${COMPUTE}/images/write`, VM_OPERATION_STATUS]
    if (plan.managedImage.overwrite) imageActions.push(`${COMPUTE}/images/delete`)
    scopes.add(resourceScope(plan.managedImage.image, 'images'), imageActions)
  }

  if (plan.gallery) {
    const g = plan.gallery
    const galleryActions = [
      `${COMPUTE}/galleries/read`,
      `${COMPUTE}/galleries/images/read`,
      `${COMPUTE}/galleries/images/versions/read`,
      `${COMPUTE}/galleries/images/versions/write`,
      GALLERY_OPERATION_STATUS
    ]
    if (g.overwrite || g.keepVersions > 0) {
      galleryActions.push(`${COMPUTE}/galleries/images/versions/delete`)
    }
    if (g.createIfMissing) {
      galleryActions.push(`${COMPUTE}/galleries/write`, `${COMPUTE}/galleries/images/write`)
    }
    scopes.add(resourceScope(g.gallery, 'galleries'), galleryActions)
  }
}

const NETWORK = 'Microsoft.Network'

/**
 * Build mode: the temporary VM, its NIC and NSG (and virtual network when no `subnet-id`) in
 * `resource-group`; reading the base image where it lives; joining the given subnet. Action names
 * from "Azure permissions for Compute" and "for Networking"; a VM's NIC, a NIC's subnet and NSG are
 * checked as linked actions (`…/join/action`) on the resource joined. The managed run commands
 * (customization) are the `runCommands` resource; the deprovision uses the action form.
 * Subscription-level reads (the Marketplace catalogue, usages, plan agreements) have no resource
 * group to check at: they are not in this table, and the preflight says when one is refused.
 */
function addBuildActions(scopes: ScopeSet, main: Scope, source: BuildSource): void {
  const vm = `${COMPUTE}/virtualMachines`
  const nic = `${NETWORK}/networkInterfaces`
  const nsg = `${NETWORK}/networkSecurityGroups`
  const vnet = `${NETWORK}/virtualNetworks`
  const actions = [
    `${vm}/read`,
    `${vm}/instanceView/read`,
    `${vm}/write`,
    `${vm}/delete`,
    `${vm}/deallocate/action`,
    `${vm}/generalize/action`,
    `${vm}/runCommand/action`,
    `${vm}/runCommands/read`,
    `${vm}/runCommands/write`,
    `${vm}/runCommands/delete`,
    `${vm}/restart/action`,
    VM_OPERATION_STATUS,
    `${COMPUTE}/disks/read`,
    // The OS disk Azure makes untagged is tagged (PATCH), then deleted with the VM or by cleanup.
    `${COMPUTE}/disks/write`,
    `${COMPUTE}/disks/delete`,
    DISK_OPERATION_STATUS,
    `${nic}/read`,
    `${nic}/write`,
    `${nic}/delete`,
    `${nic}/join/action`,
    `${nsg}/read`,
    `${nsg}/write`,
    `${nsg}/delete`,
    `${nsg}/join/action`,
    `${NETWORK}/locations/operations/read`
  ]
  if (source.subnet === undefined) {
    actions.push(
      `${vnet}/read`,
      `${vnet}/write`,
      `${vnet}/delete`,
      `${vnet}/subnets/read`,
      `${vnet}/subnets/join/action`
    )
  } else {
    scopes.add(resourceScope(source.subnet.vnet, 'virtualNetworks', NETWORK), [
      `${vnet}/read`,
      `${vnet}/subnets/read`,
      `${vnet}/subnets/join/action`
    ])
  }
  scopes.add(main, actions)
  const base = source.baseImage
  if (base.kind === 'managed-image') {
    scopes.add(resourceScope(base.image, 'images'), [`${COMPUTE}/images/read`])
  } else if (base.kind !== 'marketplace') {
    scopes.add(resourceScope(base.gallery, 'galleries'), [
      `${COMPUTE}/galleries/read`,
      `${COMPUTE}/galleries/images/read`,
      `${COMPUTE}/galleries/images/versions/read`
    ])
  }
}

/** The scope of one named resource: its permissions include roles assigned on it alone. */
function resourceScope(
  ref: { subscriptionId: string; resourceGroup: string; name: string },
  type: string,
  provider = COMPUTE
): Scope {
  return {
    subscriptionId: ref.subscriptionId,
    resourceGroup: ref.resourceGroup,
    resource: { provider, type, name: ref.name }
  }
}

/** Azure's wildcard match: `*` stands for any run of characters (slashes included), case-insensitive. */
export function actionMatches(pattern: string, action: string): boolean {
  const escaped = pattern
    .split('*')
    .map(part => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
    .join('.*')
  return new RegExp(`^${escaped}$`, 'i').test(action)
}

/**
 * Whether any single role entry grants the action: its actions match and its notActions do not.
 * NotActions subtract within their own role only (another role granting the action still counts).
 */
export function isPermitted(
  action: string,
  permissions: PermissionEntry[],
  kind: 'action' | 'dataAction' = 'action'
): boolean {
  return permissions.some(p => {
    const allow = (kind === 'action' ? p.actions : p.dataActions) ?? []
    const deny = (kind === 'action' ? p.notActions : p.notDataActions) ?? []
    return allow.some(a => actionMatches(a, action)) && !deny.some(d => actionMatches(d, action))
  })
}

export function missingActions(
  required: RequiredPermissions,
  permissions: PermissionEntry[]
): { actions: string[]; dataActions: string[] } {
  const actions = required.actions.filter(a => !isPermitted(a, permissions, 'action'))
  let dataActions = required.dataActions.filter(a => !isPermitted(a, permissions, 'dataAction'))
  const fallback = required.dataActionsFallback
  if (
    dataActions.length > 0 &&
    fallback &&
    fallback.length > 0 &&
    fallback.every(a => isPermitted(a, permissions, 'action'))
  ) {
    dataActions = []
  }
  return { actions, dataActions }
}

export type PermissionCheck = MissingPermissions[] | 'unknown'

/**
 * Reads the caller's permissions at each resource group the plan touches and returns what is
 * missing (an empty array: nothing). Returns 'unknown' (after a warning) when they cannot be read:
 * reading them needs Microsoft.Authorization/permissions/read, which most roles have but a tight
 * custom role may not. Scopes in another subscription than the clients' are skipped.
 */
export async function checkPermissions(
  clients: Pick<AzureClients, 'authorization' | 'subscriptionId'>,
  plan: Plan,
  log: Logger,
  signal?: AbortSignal
): Promise<PermissionCheck> {
  const result: MissingPermissions[] = []
  for (const required of requiredActions(plan)) {
    const { scope } = required
    if (scope.subscriptionId.toLowerCase() !== clients.subscriptionId.toLowerCase()) {
      log.info(
        oneLine(
          `Permissions in resource group '${scope.resourceGroup}' of subscription ${scope.subscriptionId} are not checked in advance (another subscription).`
        )
      )
      continue
    }
    let read: ScopePermissions
    try {
      read = await readScopePermissions(clients, scope, log, signal)
    } catch (error) {
      log.warning(
        oneLine(
          `Could not read this identity's permissions on ${armScope(scope)} (${describe(error)}); continuing without the permissions preflight.`
        )
      )
      return 'unknown'
    }
    const { permissions, readAtResourceGroup } = read
    const missing = missingActions(required, permissions)
    log.debug(
      oneLine(
        `Permissions on ${readAtResourceGroup ? groupScope(scope) : armScope(scope)}: ${permissions.length} role entries; missing ${
          missing.actions.length + missing.dataActions.length
        } of ${required.actions.length + required.dataActions.length} actions.`
      )
    )
    if (missing.actions.length > 0 || missing.dataActions.length > 0) {
      result.push({
        scope,
        ...missing,
        ...(missing.dataActions.length > 0 && required.dataActionsFallback
          ? { dataActionsFallback: required.dataActionsFallback }
          : {}),
        ...(readAtResourceGroup ? { readAtResourceGroup: true as const } : {})
      })
    }
  }
  return result
}

interface ScopePermissions {
  permissions: PermissionEntry[]
  /** The resource's own permissions could not be read: these are its resource group's. */
  readAtResourceGroup: boolean
}

/** The caller's permissions at one scope: on the resource when there is one, else its group. */
async function readScopePermissions(
  clients: Pick<AzureClients, 'authorization'>,
  scope: Scope,
  log: Logger,
  signal?: AbortSignal
): Promise<ScopePermissions> {
  const r = scope.resource
  const forGroup = (): Promise<PermissionEntry[]> =>
    collect(
      clients.authorization.permissions.listForResourceGroup(scope.resourceGroup, {
        abortSignal: signal
      })
    )
  if (r === undefined) return { permissions: await forGroup(), readAtResourceGroup: false }
  try {
    const permissions = await collect(
      clients.authorization.permissions.listForResource(
        scope.resourceGroup,
        r.provider,
        '',
        r.type,
        r.name,
        { abortSignal: signal }
      )
    )
    return { permissions, readAtResourceGroup: false }
  } catch (error) {
    // The resource may not exist yet (a gallery or image this run creates): read its group.
    if (signal?.aborted) throw error
    log.debug(
      oneLine(
        `Could not read permissions on ${armScope(scope)} (${describe(error)}); reading them on its resource group.`
      )
    )
    return { permissions: await forGroup(), readAtResourceGroup: true }
  }
}

async function collect(list: AsyncIterable<PermissionEntry>): Promise<PermissionEntry[]> {
  const out: PermissionEntry[] = []
  for await (const p of list) out.push(p)
  return out
}

function describe(error: unknown): string {
  const e = error as { statusCode?: number; code?: string; message?: string }
  return `${e.code ?? e.statusCode ?? 'error'}: ${e.message ?? String(error)}`
}

/**
 * Splits a check's result into what refuses the run (missing where the resource's own permissions
 * were read) and what only warrants a warning (missing as far as the resource group shows).
 */
export function splitMissing(missing: MissingPermissions[]): {
  certain: MissingPermissions[]
  doubtful: MissingPermissions[]
} {
  return {
    certain: missing.filter(m => !m.readAtResourceGroup),
    doubtful: missing.filter(m => m.readAtResourceGroup)
  }
}

/** The warning for permissions that seem missing only at the resource group. */
export function describeDoubtful(missing: MissingPermissions[]): string {
  return missing
    .map(
      m =>
        `The identity seems to lack ${[...m.actions, ...m.dataActions].join(', ')} for ${armScope(m.scope)}, as far as resource group '${m.scope.resourceGroup}' shows (that resource could not be read yet); going on, Azure decides when the action runs.`
    )
    .join('\n')
}

/** Custom roles can only be assignable at resource groups and above. */
const groupScope = (s: Scope): string =>
  `/subscriptions/${s.subscriptionId}/resourceGroups/${s.resourceGroup}`

const armScope = (s: Scope): string =>
  `${groupScope(s)}${s.resource ? `/providers/${s.resource.provider}/${s.resource.type}/${s.resource.name}` : ''}`

export interface CustomRoleDefinition {
  Name: string
  IsCustom: true
  Description: string
  Actions: string[]
  NotActions: string[]
  DataActions: string[]
  NotDataActions: string[]
  AssignableScopes: string[]
}

/**
 * A least-privilege custom role (the JSON `az role definition create --role-definition` takes):
 * exactly the plan's actions (role-files.ts builds the per-mode roles of docs/roles from it).
 * Blob data actions are included for upload-via storage-account; with them the account keys
 * (listKeys) are not needed, so the fallback is left out.
 */
export function customRoleDefinition(
  plan: Plan,
  assignableScopes?: string[]
): CustomRoleDefinition {
  const required = requiredActions(plan)
  // Reading its own permissions lets the preflight run instead of warning and going on.
  const actions = required.reduce<string[]>(
    (all, r) => union(all, r.actions),
    ['Microsoft.Authorization/permissions/read']
  )
  const dataActions = required.reduce<string[]>((all, r) => union(all, r.dataActions), [])
  const what =
    plan.source.mode === 'capture'
      ? 'capture a VM'
      : plan.source.mode === 'build'
        ? 'build from a base image'
        : `upload a disk image via ${plan.source.destination.kind === 'managed-disk' ? 'a managed disk' : 'a storage account'}`
  return {
    Name: 'VM image builder',
    IsCustom: true,
    Description: `What azure-vm-image-action needs to ${what} into a managed image and/or a gallery image version.`,
    Actions: actions,
    NotActions: [],
    DataActions: dataActions,
    NotDataActions: [],
    AssignableScopes: assignableScopes ?? [...new Set(required.map(r => groupScope(r.scope)))]
  }
}

/**
 * The error text for missing permissions: each scope with its missing actions, a built-in role
 * that grants them with the `az` command to assign it, and a least-privilege custom role.
 */
export function describeMissing(
  missing: MissingPermissions[],
  plan: Plan,
  assignee = '<client-id>'
): string {
  // The first line is the `::error::` line: it names every missing action (the log has the rest).
  const all = [...new Set(missing.flatMap(m => [...m.actions, ...m.dataActions]))]
  const groups = [...new Set(missing.map(m => m.scope.resourceGroup))]
  const lines: string[] = [
    `The Azure identity is missing ${all.length} permission(s) this run needs (resource group ${groups.join(', ')}): ${all.join(', ')}. Nothing was changed.`
  ]
  for (const m of missing) {
    const scope = armScope(m.scope)
    lines.push(`  on ${scope}:`)
    for (const a of m.actions) lines.push(`    - ${a} (granted by ${roleForAction(a)})`)
    for (const a of m.dataActions)
      lines.push(`    - ${a} [data action] (granted by Storage Blob Data Contributor)`)
    if (m.dataActions.length > 0 && m.dataActionsFallback?.length) {
      lines.push(
        `    (or, instead of the data actions: ${m.dataActionsFallback.join(', ')}, to use the account key)`
      )
    }
    if (m.actions.length > 0) {
      lines.push(
        `    grant: az role assignment create --assignee ${assignee} --role Contributor --scope ${scope}`
      )
    }
    if (m.dataActions.length > 0) {
      lines.push(
        `    grant: az role assignment create --assignee ${assignee} --role "Storage Blob Data Contributor" --scope ${scope}`
      )
    }
  }
  lines.push(
    'Contributor grants every control-plane action above. For least privilege, create this custom role',
    '(az role definition create --role-definition role.json) and assign it on the scopes it lists:',
    JSON.stringify(customRoleDefinition(plan), null, 2),
    'Role assignments can take a few minutes to take effect.'
  )
  return lines.join('\n')
}
