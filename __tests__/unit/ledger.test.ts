import { describe, expect, it } from '@jest/globals'
import {
  createLedger,
  entryId,
  openLedger,
  sealLedger,
  type LedgerEntry,
  type LedgerScope
} from '../../src/ledger.js'

const DISK = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/disks/img-upload-1-os'
const IMAGE = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/images/img'
const BLOB = 'https://acct.blob.core.windows.net/vhds/img-1-os.vhd'
const ACCOUNT =
  '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct'

function recorded(initial?: LedgerEntry[]) {
  const saved: string[] = []
  const ledger = createLedger(json => saved.push(json), initial)
  const last = (): LedgerEntry[] => JSON.parse(saved[saved.length - 1]) as LedgerEntry[]
  return { ledger, saved, last }
}

describe('entryId', () => {
  it('is the resource id, or the URL of a blob', () => {
    expect(entryId({ kind: 'upload-disk', id: DISK, writeAccess: false })).toBe(DISK)
    expect(entryId({ kind: 'managed-image', id: IMAGE })).toBe(IMAGE)
    expect(entryId({ kind: 'gallery-image-version', id: 'v' })).toBe('v')
    expect(entryId({ kind: 'upload-blob', url: BLOB, storageAccountId: ACCOUNT })).toBe(BLOB)
  })
})

describe('createLedger', () => {
  it('persists its JSON after every change', () => {
    const { ledger, saved, last } = recorded()
    expect(saved).toEqual([])

    ledger.add({ kind: 'upload-disk', id: DISK, writeAccess: false })
    expect(saved).toHaveLength(1)
    expect(last()).toEqual([{ kind: 'upload-disk', id: DISK, writeAccess: false }])

    ledger.update(DISK, { writeAccess: true })
    expect(saved).toHaveLength(2)
    expect(last()).toEqual([{ kind: 'upload-disk', id: DISK, writeAccess: true }])

    ledger.add({ kind: 'upload-blob', url: BLOB, storageAccountId: ACCOUNT })
    expect(saved).toHaveLength(3)
    expect(last()).toHaveLength(2)

    ledger.remove(DISK)
    expect(saved).toHaveLength(4)
    expect(last()).toEqual([{ kind: 'upload-blob', url: BLOB, storageAccountId: ACCOUNT }])

    ledger.remove(BLOB)
    expect(saved[4]).toBe('[]')
  })

  it('replaces an entry added again with the same id, keeping one', () => {
    const { ledger, last } = recorded()
    ledger.add({ kind: 'upload-disk', id: DISK, writeAccess: true })
    ledger.add({ kind: 'managed-image', id: IMAGE })
    ledger.add({ kind: 'upload-disk', id: DISK, writeAccess: false })
    expect(ledger.entries()).toEqual([
      { kind: 'managed-image', id: IMAGE },
      { kind: 'upload-disk', id: DISK, writeAccess: false }
    ])
    expect(last()).toEqual(ledger.entries())
  })

  it('updates and removes blobs by URL', () => {
    const { ledger } = recorded()
    ledger.add({ kind: 'upload-blob', url: BLOB, storageAccountId: ACCOUNT })
    ledger.update(BLOB, { storageAccountId: 'other' })
    expect(ledger.entries()).toEqual([
      { kind: 'upload-blob', url: BLOB, storageAccountId: 'other' }
    ])
    ledger.remove(BLOB)
    expect(ledger.entries()).toEqual([])
  })

  it('leaves other entries alone when updating or removing an unknown id', () => {
    const { ledger, saved, last } = recorded()
    ledger.add({ kind: 'managed-image', id: IMAGE })
    ledger.update('nope', { id: 'x' })
    ledger.remove('nope')
    expect(ledger.entries()).toEqual([{ kind: 'managed-image', id: IMAGE }])
    expect(saved).toHaveLength(3)
    expect(last()).toEqual([{ kind: 'managed-image', id: IMAGE }])
  })

  it('starts from the entries a previous step saved, without persisting until a change', () => {
    const initial: LedgerEntry[] = [{ kind: 'gallery-image-version', id: 'ver' }]
    const { ledger, saved } = recorded(initial)
    expect(ledger.entries()).toEqual(initial)
    expect(saved).toEqual([])
    ledger.add({ kind: 'managed-image', id: IMAGE })
    expect(JSON.parse(saved[0])).toEqual([...initial, { kind: 'managed-image', id: IMAGE }])
    // The caller's array is not changed.
    expect(initial).toHaveLength(1)
  })

  it('hands out copies of its entries', () => {
    const { ledger } = recorded()
    ledger.add({ kind: 'managed-image', id: IMAGE })
    const copy = ledger.entries()
    copy.pop()
    expect(ledger.entries()).toHaveLength(1)
  })

  it('round-trips through its persisted JSON', () => {
    const { ledger, last } = recorded()
    ledger.add({ kind: 'upload-disk', id: DISK, writeAccess: true })
    ledger.add({ kind: 'upload-blob', url: BLOB, storageAccountId: ACCOUNT })
    const restored = createLedger(() => undefined, last())
    expect(restored.entries()).toEqual(ledger.entries())
  })
})

describe('openLedger: the post step acts only on what this run could have created (issue 14)', () => {
  const SUB = '11111111-2222-3333-4444-555555555555'
  const rg = (g: string): string => `/subscriptions/${SUB}/resourceGroups/${g}/providers`
  const scope: LedgerScope = {
    subscriptionId: SUB,
    resourceGroups: ['build-rg', 'gallery-rg'],
    managedImageId: `${rg('build-rg')}/Microsoft.Compute/images/img`,
    galleryDefinitionId: `${rg('gallery-rg')}/Microsoft.Compute/galleries/g/images/def`,
    uploadDisks: true,
    storage: {
      accountId: `${rg('build-rg')}/Microsoft.Storage/storageAccounts/acct`,
      container: 'vhds'
    }
  }
  const NONCE = '0123456789abcdef0123456789abcdef'
  const good: LedgerEntry[] = [
    {
      kind: 'upload-disk',
      id: `${rg('build-rg')}/Microsoft.Compute/disks/img-upload-1-os`,
      writeAccess: true
    },
    { kind: 'managed-image', id: `${rg('BUILD-RG')}/Microsoft.Compute/images/img` },
    {
      kind: 'gallery-image-version',
      id: `${rg('gallery-rg')}/Microsoft.Compute/galleries/g/images/def/versions/1.2.3`
    },
    {
      kind: 'upload-blob',
      url: 'https://acct.blob.core.windows.net/vhds/img-1-os.vhd',
      storageAccountId: scope.storage?.accountId ?? ''
    }
  ]
  const open = (entries: unknown[], nonce = NONCE) =>
    openLedger(sealLedger(NONCE, JSON.stringify(entries)), nonce, () => scope)

  it('keeps every entry the plan could have made', () => {
    expect(open(good)).toEqual({ entries: good, refused: [] })
  })

  it('drops everything when the nonce is not the run’s', () => {
    expect(open(good, 'f'.repeat(32))).toEqual({
      entries: [],
      refused: ['the saved ledger was not written by this run']
    })
    expect(open(good, '').entries).toEqual([])
    expect(openLedger(JSON.stringify(good), NONCE, () => scope).entries).toEqual([])
    expect(openLedger('not json', NONCE, () => scope).refused).toEqual([
      'the saved ledger is not JSON'
    ])
  })

  it.each<[string, unknown]>([
    [
      'another subscription',
      { ...good[0], id: `${rg('build-rg')}/Microsoft.Compute/disks/d`.replace(SUB, '9'.repeat(8)) }
    ],
    [
      'another group',
      { ...good[0], id: `${rg('prod-rg')}/Microsoft.Compute/disks/img-upload-1-os` }
    ],
    [
      'another kind of resource',
      { ...good[0], id: `${rg('build-rg')}/Microsoft.Compute/virtualMachines/vm` }
    ],
    [
      'another managed image',
      { kind: 'managed-image', id: `${rg('build-rg')}/Microsoft.Compute/images/prod` }
    ],
    [
      'a version of another definition',
      {
        kind: 'gallery-image-version',
        id: `${rg('gallery-rg')}/Microsoft.Compute/galleries/g/images/prod/versions/1.0.0`
      }
    ],
    [
      'a blob in another account',
      { ...good[3], storageAccountId: `${rg('build-rg')}/Microsoft.Storage/storageAccounts/evil` }
    ],
    [
      'a blob in another container',
      { ...good[3], url: 'https://acct.blob.core.windows.net/evilcontainer/b.vhd' }
    ],
    [
      'a blob URL with a query',
      { ...good[3], url: 'https://acct.blob.core.windows.net/vhds/b.vhd?comp=x' }
    ],
    ['an unknown kind', { kind: 'vm', id: `${rg('build-rg')}/Microsoft.Compute/disks/d` }],
    ['a dot segment', { ...good[0], id: `${rg('build-rg')}/Microsoft.Compute/disks/..` }],
    ['not an object', 'x']
  ])('drops %s', (_what, entry) => {
    const result = open([entry])
    expect(result.entries).toEqual([])
    expect(result.refused).toHaveLength(1)
  })

  it('a disk only when the plan uploads through managed disks', () => {
    const noDisks = { ...scope, uploadDisks: false }
    const r = openLedger(sealLedger(NONCE, JSON.stringify([good[0]])), NONCE, () => noDisks)
    expect(r.entries).toEqual([])
  })
})
