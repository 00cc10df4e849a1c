import { describe, it, expect } from '@jest/globals'
import {
  actionMatches,
  checkPermissions,
  customRoleDefinition,
  describeDoubtful,
  describeMissing,
  isPermitted,
  splitMissing,
  type MissingPermissions,
  missingActions,
  requiredActions,
  type PermissionEntry,
  type RequiredPermissions
} from '../../../src/azure/permissions.js'
import { roleForAction } from '../../../src/azure/roles.js'
import type { CaptureSource, GalleryTarget, Plan, UploadSource } from '../../../src/plan.js'
import type { AzureClients } from '../../../src/azure/clients.js'
import { recordingLogger } from './fake-http.js'
import { decidedPlan } from '../../../src/preflight.js'

const SUB = 'sub-1'
const ref = (name: string, resourceGroup = 'rg') => ({ subscriptionId: SUB, resourceGroup, name })

function capture(over: Partial<CaptureSource> = {}): CaptureSource {
  return {
    mode: 'capture',
    vm: ref('vm'),
    generalize: true,
    deprovision: false,
    backupSnapshot: false,
    deleteSourceVm: false,
    ...over
  }
}

function upload(over: Partial<UploadSource> = {}): UploadSource {
  return {
    mode: 'upload',
    osDiskPath: 'os.vhd',
    dataDiskPaths: [],
    osType: 'Linux',
    osState: 'Generalized',
    hyperVGeneration: 'V2',
    architecture: 'x64',
    securityType: 'Standard',
    destination: { kind: 'managed-disk', diskSku: 'Standard_LRS' },
    concurrency: 8,
    keepUpload: false,
    ...over
  }
}

function gallery(over: Partial<GalleryTarget> = {}): GalleryTarget {
  return {
    gallery: ref('gal', 'gallery-rg'),
    imageDefinition: 'def',
    version: { kind: 'auto', value: '2026.101.1' },
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

function plan(over: Partial<Plan> = {}): Plan {
  return {
    connection: { authType: 'auto', environment: 'AzureCloud' },
    subscriptionId: SUB,
    resourceGroup: 'rg',
    source: capture(),
    tags: {},
    run: {
      repository: 'o/r',
      sha: 'x',
      ref: 'refs/heads/main',
      workflow: 'w',
      runId: '1',
      runAttempt: 1,
      runNumber: 1
    },
    owner: { runId: '1', key: 'k', attempt: 1 },
    timeoutMinutes: 120,
    dryRun: false,
    ...over
  }
}

/** The entry checked at a resource group, or at one resource type in it (VM, gallery, image…). */
const scopeOf = (
  required: RequiredPermissions[],
  rg: string,
  type?: string
): RequiredPermissions | undefined =>
  required.find(
    r =>
      r.scope.resourceGroup.toLowerCase() === rg.toLowerCase() &&
      (type === undefined || r.scope.resource?.type === type)
  )

const allActions = (required: RequiredPermissions[]): string[] =>
  [...new Set(required.flatMap(r => r.actions))].sort((a, b) => a.localeCompare(b))

describe('actionMatches (Azure wildcard semantics)', () => {
  it.each([
    ['*', 'Microsoft.Compute/virtualMachines/read', true],
    ['Microsoft.Compute/*', 'Microsoft.Compute/virtualMachines/deallocate/action', true],
    ['Microsoft.Compute/*', 'Microsoft.Storage/storageAccounts/read', false],
    ['*/read', 'Microsoft.Compute/galleries/images/versions/read', true],
    ['*/read', 'Microsoft.Compute/galleries/images/versions/write', false],
    ['Microsoft.Compute/*/read', 'Microsoft.Compute/locations/capsOperations/read', true],
    [
      'Microsoft.Compute/virtualMachines/*',
      'Microsoft.Compute/virtualMachines/runCommand/action',
      true
    ],
    [
      'Microsoft.Compute/virtualMachines/*',
      'Microsoft.Compute/virtualMachineScaleSets/read',
      false
    ],
    ['microsoft.compute/IMAGES/write', 'Microsoft.Compute/images/write', true],
    ['Microsoft.Compute/images/write', 'Microsoft.Compute/images/writeX', false],
    ['Microsoft.Compute/images/write', 'xMicrosoft.Compute/images/write', false],
    [
      'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*',
      'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action',
      true
    ]
  ])('%s matches %s: %s', (pattern, action, expected) => {
    expect(actionMatches(pattern, action)).toBe(expected)
  })

  it('treats regex metacharacters in patterns literally', () => {
    expect(actionMatches('Microsoft.Compute/images/read', 'MicrosoftXCompute/images/read')).toBe(
      false
    )
  })
})

describe('isPermitted', () => {
  const contributor: PermissionEntry = {
    actions: ['*'],
    notActions: [
      'Microsoft.Authorization/*/Delete',
      'Microsoft.Authorization/*/Write',
      'Microsoft.Compute/galleries/share/action'
    ]
  }

  it('Contributor grants every compute action except those in notActions', () => {
    expect(isPermitted('Microsoft.Compute/galleries/images/versions/write', [contributor])).toBe(
      true
    )
    expect(isPermitted('Microsoft.Compute/galleries/share/action', [contributor])).toBe(false)
    expect(isPermitted('Microsoft.Authorization/roleAssignments/write', [contributor])).toBe(false)
  })

  it('notActions subtract only within their own role: another role can still grant', () => {
    const sharing: PermissionEntry = { actions: ['Microsoft.Compute/galleries/share/action'] }
    expect(isPermitted('Microsoft.Compute/galleries/share/action', [contributor, sharing])).toBe(
      true
    )
  })

  it('control-plane actions never grant data actions, and vice versa', () => {
    expect(
      isPermitted(
        'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write',
        [contributor],
        'dataAction'
      )
    ).toBe(false)
    const blobData: PermissionEntry = {
      dataActions: ['Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*'],
      notDataActions: ['Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete']
    }
    expect(
      isPermitted(
        'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write',
        [blobData],
        'dataAction'
      )
    ).toBe(true)
    expect(
      isPermitted(
        'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete',
        [blobData],
        'dataAction'
      )
    ).toBe(false)
    expect(
      isPermitted(
        'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write',
        [blobData],
        'action'
      )
    ).toBe(false)
  })

  it('nothing is permitted with no roles', () => {
    expect(isPermitted('Microsoft.Compute/images/read', [])).toBe(false)
  })
})

describe('requiredActions', () => {
  it('capture with generalize into a managed image', () => {
    const required = requiredActions(
      plan({ managedImage: { image: ref('img'), overwrite: false } })
    )
    // Each resource is checked where it is, so roles assigned on it alone count.
    expect(required.map(r => r.scope)).toEqual([
      { subscriptionId: SUB, resourceGroup: 'rg' },
      {
        subscriptionId: SUB,
        resourceGroup: 'rg',
        resource: { provider: 'Microsoft.Compute', type: 'virtualMachines', name: 'vm' }
      },
      {
        subscriptionId: SUB,
        resourceGroup: 'rg',
        resource: { provider: 'Microsoft.Compute', type: 'images', name: 'img' }
      }
    ])
    expect(allActions(required)).toEqual(
      [
        'Microsoft.Compute/disks/read',
        'Microsoft.Compute/images/read',
        'Microsoft.Compute/images/write',
        'Microsoft.Compute/locations/operations/read',
        'Microsoft.Compute/virtualMachines/deallocate/action',
        'Microsoft.Compute/virtualMachines/generalize/action',
        'Microsoft.Compute/virtualMachines/instanceView/read',
        'Microsoft.Compute/virtualMachines/read',
        'Microsoft.Resources/subscriptions/resourceGroups/read'
      ].sort((a, b) => a.localeCompare(b))
    )
    expect(required.flatMap(r => r.dataActions)).toEqual([])
  })

  it('capture options add exactly their actions', () => {
    const all = allActions(
      requiredActions(
        plan({
          source: capture({ deprovision: true, deleteSourceVm: true, backupSnapshot: true }),
          managedImage: { image: ref('img'), overwrite: true }
        })
      )
    )
    for (const a of [
      'Microsoft.Compute/virtualMachines/runCommand/action',
      'Microsoft.Compute/virtualMachines/delete',
      'Microsoft.Compute/snapshots/write',
      'Microsoft.Compute/snapshots/read',
      'Microsoft.Compute/disks/beginGetAccess/action',
      'Microsoft.Compute/locations/diskOperations/read',
      'Microsoft.Compute/images/delete'
    ]) {
      expect(all).toContain(a)
    }
    const none = allActions(
      requiredActions(plan({ managedImage: { image: ref('img'), overwrite: false } }))
    )
    for (const a of [
      'runCommand/action',
      'virtualMachines/delete',
      'snapshots/',
      'images/delete',
      'diskOperations'
    ]) {
      expect(none.some(x => x.includes(a))).toBe(false)
    }
  })

  it('specialized capture does not deallocate or generalize', () => {
    const actions = requiredActions(
      plan({ source: capture({ generalize: false }), gallery: gallery() })
    )
    const vmScope = scopeOf(actions, 'rg', 'virtualMachines')!
    expect(vmScope.actions).not.toContain('Microsoft.Compute/virtualMachines/generalize/action')
    expect(vmScope.actions).not.toContain('Microsoft.Compute/virtualMachines/deallocate/action')
  })

  it('gallery target in its own resource group; delete only for overwrite/keep-versions; write for create', () => {
    const basic = scopeOf(requiredActions(plan({ gallery: gallery() })), 'gallery-rg')!
    expect(basic.actions).toEqual([
      'Microsoft.Compute/galleries/images/read',
      'Microsoft.Compute/galleries/images/versions/read',
      'Microsoft.Compute/galleries/images/versions/write',
      'Microsoft.Compute/galleries/read',
      'Microsoft.Compute/locations/capsOperations/read'
    ])
    const pruning = scopeOf(
      requiredActions(plan({ gallery: gallery({ keepVersions: 3 }) })),
      'gallery-rg'
    )!
    expect(pruning.actions).toContain('Microsoft.Compute/galleries/images/versions/delete')
    const overwrite = scopeOf(
      requiredActions(plan({ gallery: gallery({ overwrite: true }) })),
      'gallery-rg'
    )!
    expect(overwrite.actions).toContain('Microsoft.Compute/galleries/images/versions/delete')
    const create = scopeOf(
      requiredActions(plan({ gallery: gallery({ createIfMissing: true }) })),
      'gallery-rg'
    )!
    expect(create.actions).toEqual(
      expect.arrayContaining([
        'Microsoft.Compute/galleries/write',
        'Microsoft.Compute/galleries/images/write'
      ])
    )
  })

  it('upload via managed disk', () => {
    const required = requiredActions(
      plan({ source: upload(), managedImage: { image: ref('img'), overwrite: false } })
    )
    expect(allActions(required)).toEqual(
      expect.arrayContaining([
        'Microsoft.Compute/disks/write',
        'Microsoft.Compute/disks/beginGetAccess/action',
        'Microsoft.Compute/disks/endGetAccess/action',
        'Microsoft.Compute/disks/delete',
        'Microsoft.Compute/locations/diskOperations/read',
        'Microsoft.Compute/images/write'
      ])
    )
    const kept = scopeOf(requiredActions(plan({ source: upload({ keepUpload: true }) })), 'rg')!
    expect(kept.actions).not.toContain('Microsoft.Compute/disks/delete')
  })

  it('upload via storage account: data actions at the account, listKeys only as fallback', () => {
    const required = requiredActions(
      plan({
        source: upload({
          destination: {
            kind: 'storage-account',
            account: ref('acct', 'storage-rg'),
            container: 'vhds'
          }
        }),
        gallery: gallery()
      })
    )
    expect(required.map(r => r.scope.resourceGroup).sort()).toEqual([
      'gallery-rg',
      'rg',
      'storage-rg'
    ])
    // The version is made from the blob: shared-image-galleries.md asks listKeys on the account.
    expect(scopeOf(required, 'storage-rg')!.actions).toContain(
      'Microsoft.Storage/storageAccounts/listKeys/action'
    )
    const viaImage = requiredActions(
      plan({
        source: upload({
          destination: {
            kind: 'storage-account',
            account: ref('acct', 'storage-rg'),
            container: 'vhds'
          }
        }),
        managedImage: { image: ref('img'), overwrite: false },
        gallery: gallery()
      })
    )
    const storage = scopeOf(viaImage, 'storage-rg')!
    expect(storage.actions).toEqual([
      'Microsoft.Storage/storageAccounts/blobServices/containers/read',
      'Microsoft.Storage/storageAccounts/blobServices/containers/write',
      'Microsoft.Storage/storageAccounts/read'
    ])
    expect(storage.actions).not.toContain('Microsoft.Storage/storageAccounts/listKeys/action')
    expect(storage.dataActions).toEqual([
      'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete',
      'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read',
      'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'
    ])
    expect(storage.dataActionsFallback).toEqual([
      'Microsoft.Storage/storageAccounts/listKeys/action'
    ])
    expect(
      scopeOf(required, 'rg')!.actions.some(a => a.startsWith('Microsoft.Compute/disks/'))
    ).toBe(false)
  })

  it('merges scopes that differ only in case and lists each action once', () => {
    const required = requiredActions(
      plan({
        managedImage: { image: ref('img', 'RG'), overwrite: false },
        gallery: gallery({ gallery: ref('g', 'Rg') })
      })
    )
    expect(new Set(required.map(r => r.scope.resourceGroup.toLowerCase()))).toEqual(new Set(['rg']))
    for (const r of required) {
      const actions = r.actions.map(a => a.toLowerCase())
      expect(new Set(actions).size).toBe(actions.length)
    }
    const group = scopeOf(required, 'rg')
    expect(group?.scope.resource).toBeUndefined()
  })
})

describe('missingActions', () => {
  const storageRequired = (): RequiredPermissions =>
    requiredActions(
      plan({
        source: upload({
          destination: { kind: 'storage-account', account: ref('acct', 'rg'), container: 'vhds' }
        })
      })
    ).find(r => r.scope.resource !== undefined)!

  it('Contributor alone: control plane complete, data actions satisfied through the key fallback', () => {
    expect(missingActions(storageRequired(), [{ actions: ['*'], notActions: [] }])).toEqual({
      actions: [],
      dataActions: []
    })
  })

  it('a role without listKeys needs the blob data actions', () => {
    const reader: PermissionEntry = {
      actions: ['*/read', 'Microsoft.Storage/storageAccounts/blobServices/containers/write']
    }
    const missing = missingActions(storageRequired(), [reader])
    expect(missing.actions).toEqual([])
    expect(missing.dataActions).toHaveLength(3)
    const withBlobData = missingActions(storageRequired(), [
      reader,
      { dataActions: ['Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*'] }
    ])
    expect(withBlobData).toEqual({ actions: [], dataActions: [] })
  })

  it('Reader misses every write', () => {
    const required = requiredActions(plan({ gallery: gallery({ gallery: ref('g', 'rg') }) }))
    const missing = required.flatMap(r => missingActions(r, [{ actions: ['*/read'] }]).actions)
    expect(missing.sort((a, b) => a.localeCompare(b))).toEqual([
      'Microsoft.Compute/galleries/images/versions/write',
      'Microsoft.Compute/virtualMachines/deallocate/action',
      'Microsoft.Compute/virtualMachines/generalize/action',
      'Microsoft.Compute/virtualMachines/write'
    ])
  })

  it('the generated custom role satisfies its own plan', () => {
    const p = plan({
      source: capture({ deprovision: true, backupSnapshot: true, deleteSourceVm: true }),
      managedImage: { image: ref('img'), overwrite: true },
      gallery: gallery({ createIfMissing: true, keepVersions: 2 })
    })
    const role = customRoleDefinition(p)
    for (const required of requiredActions(p)) {
      expect(
        missingActions(required, [{ actions: role.Actions, dataActions: role.DataActions }])
      ).toEqual({
        actions: [],
        dataActions: []
      })
    }
  })
})

describe('roleForAction', () => {
  it.each([
    ['Microsoft.Compute/virtualMachines/generalize/action', 'Virtual Machine Contributor'],
    ['Microsoft.Compute/locations/operations/read', 'Virtual Machine Contributor'],
    ['Microsoft.Compute/locations/capsOperations/read', 'Compute Gallery Artifacts Publisher'],
    ['Microsoft.Compute/galleries/images/versions/delete', 'Compute Gallery Artifacts Publisher'],
    ['Microsoft.Compute/galleries/share/action', 'Compute Gallery Sharing Admin'],
    ['Microsoft.Compute/snapshots/write', 'Disk Snapshot Contributor'],
    ['Microsoft.Compute/disks/write', 'Virtual Machine Contributor'],
    [
      'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write',
      'Storage Blob Data Contributor'
    ],
    ['Microsoft.Storage/storageAccounts/listKeys/action', 'Storage Account Contributor'],
    ['Microsoft.Resources/subscriptions/resourceGroups/read', 'Reader'],
    ['Microsoft.Compute/disks/endGetAccess/action', 'Contributor']
  ])('%s → %s', (action, role) => {
    expect(roleForAction(action)).toBe(role)
  })
})

describe('describeMissing', () => {
  it('lists the missing actions per scope, the roles and commands to grant, and a custom role', () => {
    const p = plan({
      source: upload({
        destination: { kind: 'storage-account', account: ref('acct', 'st'), container: 'vhds' }
      }),
      managedImage: { image: ref('img'), overwrite: false }
    })
    const text = describeMissing(
      [
        {
          scope: { subscriptionId: SUB, resourceGroup: 'rg' },
          actions: ['Microsoft.Compute/images/write'],
          dataActions: []
        },
        {
          scope: {
            subscriptionId: SUB,
            resourceGroup: 'st',
            resource: { provider: 'Microsoft.Storage', type: 'storageAccounts', name: 'acct' }
          },
          actions: [],
          dataActions: ['Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'],
          dataActionsFallback: ['Microsoft.Storage/storageAccounts/listKeys/action']
        }
      ],
      p,
      'app-id'
    )
    expect(text).toContain(`on /subscriptions/${SUB}/resourceGroups/rg:`)
    expect(text).toContain(
      '- Microsoft.Compute/images/write (granted by Compute Gallery Artifacts Publisher)'
    )
    expect(text).toContain(
      `az role assignment create --assignee app-id --role Contributor --scope /subscriptions/${SUB}/resourceGroups/rg`
    )
    expect(text).toContain(
      `--role "Storage Blob Data Contributor" --scope /subscriptions/${SUB}/resourceGroups/st/providers/Microsoft.Storage/storageAccounts/acct`
    )
    expect(text).toContain(
      'Microsoft.Storage/storageAccounts/listKeys/action, to use the account key'
    )
    const json = text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1)
    const role = JSON.parse(json) as {
      Actions: string[]
      DataActions: string[]
      AssignableScopes: string[]
    }
    expect(role.Actions).toContain('Microsoft.Compute/images/write')
    expect(role.DataActions).toContain(
      'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'
    )
    expect(role.AssignableScopes).toEqual([
      `/subscriptions/${SUB}/resourceGroups/rg`,
      `/subscriptions/${SUB}/resourceGroups/st`
    ])
  })
})

describe('checkPermissions', () => {
  function clients(byGroup: Record<string, PermissionEntry[] | Error>): Pick<
    AzureClients,
    'authorization' | 'subscriptionId'
  > & {
    asked: string[]
  } {
    const asked: string[] = []
    const authorization = {
      permissions: {
        listForResourceGroup(rg: string) {
          asked.push(rg)
          const result = byGroup[rg]
          return (async function* () {
            if (result instanceof Error) throw result
            yield* result ?? []
          })()
        },
        listForResource(rg: string, provider: string, parent: string, type: string, name: string) {
          const key = `${rg}/${provider}/${type}/${name}`
          asked.push(key)
          // Azure folds in the roles assigned above the resource: its group's here.
          const own = byGroup[key]
          const group = byGroup[rg]
          const result =
            own instanceof Error || group instanceof Error
              ? (own ?? group)
              : [...(own ?? []), ...(group ?? [])]
          return (async function* () {
            if (result instanceof Error) throw result
            yield* result ?? []
          })()
        }
      }
    }
    return {
      subscriptionId: SUB,
      authorization: authorization as unknown as AzureClients['authorization'],
      asked
    }
  }

  it('returns nothing missing for Contributor on every group', async () => {
    const c = clients({ rg: [{ actions: ['*'] }], 'gallery-rg': [{ actions: ['*'] }] })
    expect(await checkPermissions(c, plan({ gallery: gallery() }), recordingLogger())).toEqual([])
    expect(c.asked.sort()).toEqual([
      'gallery-rg/Microsoft.Compute/galleries/gal',
      'rg',
      'rg/Microsoft.Compute/virtualMachines/vm'
    ])
  })

  // "We recommend sharing at the gallery level" (azure-compute-gallery.md): a role on the gallery
  // alone is invisible at its resource group.
  it('sees a role assigned only on the gallery', async () => {
    const c = clients({
      rg: [{ actions: ['*'] }],
      'gallery-rg': [],
      'gallery-rg/Microsoft.Compute/galleries/gal': [
        { actions: ['Microsoft.Compute/galleries/*', 'Microsoft.Compute/locations/*/read'] }
      ]
    })
    expect(await checkPermissions(c, plan({ gallery: gallery() }), recordingLogger())).toEqual([])
  })

  it('falls back to the resource group when the resource cannot be read, and marks the verdict as doubtful', async () => {
    const notFound = Object.assign(new Error('not found'), { statusCode: 404 })
    const c = clients({
      rg: [{ actions: ['*'] }],
      'gallery-rg': [{ actions: ['*/read'] }],
      'gallery-rg/Microsoft.Compute/galleries/gal': notFound
    })
    const result = await checkPermissions(
      c,
      plan({ gallery: gallery({ createIfMissing: true }) }),
      recordingLogger()
    )
    expect(result).not.toBe('unknown')
    const { certain, doubtful } = splitMissing(result as MissingPermissions[])
    expect(certain).toEqual([])
    expect(doubtful).toHaveLength(1)
    expect(doubtful[0].actions).toContain('Microsoft.Compute/galleries/write')
    expect(describeDoubtful(doubtful)).toMatch(/as far as resource group 'gallery-rg' shows/)
  })

  it('reports what is missing per group', async () => {
    const c = clients({ rg: [{ actions: ['*'] }], 'gallery-rg': [{ actions: ['*/read'] }] })
    const result = await checkPermissions(c, plan({ gallery: gallery() }), recordingLogger())
    expect(result).toEqual([
      {
        scope: {
          subscriptionId: SUB,
          resourceGroup: 'gallery-rg',
          resource: { provider: 'Microsoft.Compute', type: 'galleries', name: 'gal' }
        },
        actions: ['Microsoft.Compute/galleries/images/versions/write'],
        dataActions: []
      }
    ])
  })

  it("returns 'unknown' with a warning when permissions cannot be read", async () => {
    const log = recordingLogger()
    const forbidden = Object.assign(new Error('does not have authorization to perform action'), {
      code: 'AuthorizationFailed',
      statusCode: 403
    })
    const result = await checkPermissions(clients({ rg: forbidden }), plan(), log)
    expect(result).toBe('unknown')
    expect(log.lines.some(l => l.startsWith('warning') && l.includes('AuthorizationFailed'))).toBe(
      true
    )
  })

  it('reads a storage account at the account itself, where blob data roles are usually assigned', async () => {
    const c = clients({
      rg: [{ actions: ['*'] }],
      'st/Microsoft.Storage/storageAccounts/acct': [
        { actions: ['*/read', 'Microsoft.Storage/storageAccounts/blobServices/containers/*'] },
        { dataActions: ['Microsoft.Storage/storageAccounts/blobServices/containers/blobs/*'] }
      ]
    })
    const p = plan({
      source: upload({
        destination: { kind: 'storage-account', account: ref('acct', 'st'), container: 'vhds' }
      }),
      managedImage: { image: ref('img'), overwrite: false }
    })
    expect(await checkPermissions(c, p, recordingLogger())).toEqual([])
    expect(c.asked.sort()).toEqual([
      'rg',
      'rg/Microsoft.Compute/images/img',
      'st/Microsoft.Storage/storageAccounts/acct'
    ])
  })

  it('skips groups in another subscription', async () => {
    const log = recordingLogger()
    const c = clients({ rg: [{ actions: ['*'] }] })
    const other = gallery({ gallery: { subscriptionId: 'sub-2', resourceGroup: 'far', name: 'g' } })
    expect(await checkPermissions(c, plan({ gallery: other }), log)).toEqual([])
    expect(c.asked).toEqual(['rg', 'rg/Microsoft.Compute/virtualMachines/vm'])
    expect(log.lines.some(l => l.includes('sub-2'))).toBe(true)
  })
})

describe("Run Command under 'deprovision: auto'", () => {
  const RUN_COMMAND = 'Microsoft.Compute/virtualMachines/runCommand/action'
  const actionsOf = (p: Plan): string[] => requiredActions(p).flatMap(r => r.actions)

  it('is required while undecided (a running VM would be deprovisioned), not for a specialized capture', () => {
    expect(actionsOf(plan({ source: capture({ deprovision: 'auto' }) }))).toContain(RUN_COMMAND)
    expect(
      actionsOf(plan({ source: capture({ deprovision: 'auto', generalize: false }) }))
    ).not.toContain(RUN_COMMAND)
  })

  it('follows what the preflight decided (decidedPlan): not needed for a stopped VM', () => {
    const p = plan({ source: capture({ deprovision: 'auto' }) })
    expect(actionsOf(decidedPlan(p, false))).not.toContain(RUN_COMMAND)
    expect(actionsOf(decidedPlan(p, true))).toContain(RUN_COMMAND)
  })
})
