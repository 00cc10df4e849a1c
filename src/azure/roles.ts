/** Which built-in role grants an action: named by the error hints and by the permissions preflight. */

/**
 * The narrowest built-in role that grants an action (by action family). Used in error hints and
 * in describeMissing; Contributor (control plane) and Storage Blob Data Contributor (blob data)
 * cover everything this action does.
 */
export function roleForAction(action: string): string {
  const a = action.toLowerCase()
  const c = 'microsoft.compute/'
  if (a.startsWith(`${c}virtualmachines/`)) return 'Virtual Machine Contributor'
  if (a === `${c}locations/capsoperations/read`) return 'Compute Gallery Artifacts Publisher'
  if (a.startsWith(`${c}locations/`)) return 'Virtual Machine Contributor'
  if (/^microsoft\.compute\/disks\/(read|write|delete)$/.test(a))
    return 'Virtual Machine Contributor'
  if (a === `${c}disks/begingetaccess/action`) return 'Disk Snapshot Contributor'
  if (a.startsWith(`${c}snapshots/`)) return 'Disk Snapshot Contributor'
  if (a.startsWith(`${c}images/`) || a.startsWith(`${c}galleries/`)) {
    // That role has galleries/* and images/* but excludes galleries/share/action.
    return a === `${c}galleries/share/action`
      ? 'Compute Gallery Sharing Admin'
      : 'Compute Gallery Artifacts Publisher'
  }
  if (a.startsWith('microsoft.storage/storageaccounts/blobservices/containers/')) {
    return 'Storage Blob Data Contributor'
  }
  if (a === 'microsoft.storage/storageaccounts/listkeys/action')
    return 'Storage Account Contributor'
  if (a.endsWith('/read')) return 'Reader'
  return 'Contributor'
}
