import { describe, expect, it } from '@jest/globals'
import { createLedger, entryId, type LedgerEntry } from '../../src/ledger.js'

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
