/**
 * The ledger: every resource this run creates that must not outlive a failure, written to the step's
 * state the moment it exists, so the post step can finish the job after a failure or cancellation.
 */

export type LedgerEntry =
  /** A temporary upload disk; `writeAccess` while a write SAS is open on it. */
  | { kind: 'upload-disk'; id: string; writeAccess: boolean }
  /** A temporary page blob (storage-account uploads); the URL carries no SAS. */
  | { kind: 'upload-blob'; url: string; storageAccountId: string }
  /** A managed image or gallery image version being created: removed if it never succeeded. */
  | { kind: 'managed-image'; id: string }
  | { kind: 'gallery-image-version'; id: string }

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
