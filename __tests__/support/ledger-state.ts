/** Reading the ledger back from the state the main step saved (tests only). */
/**
 * The entries of the ledger the main step sealed into its state (`{"nonce":…,"entries":[…]}`,
 * src/ledger.ts sealLedger). The main step writes it first thing, so a missing one is a failure.
 */
export function ledgerEntries(saved: string | undefined): Array<Record<string, unknown>> {
  if (saved === undefined) throw new Error('the main step saved no ledger')
  const parsed = JSON.parse(saved) as { entries?: Array<Record<string, unknown>> }
  if (!Array.isArray(parsed.entries)) throw new Error(`not a sealed ledger: ${saved}`)
  return parsed.entries
}
