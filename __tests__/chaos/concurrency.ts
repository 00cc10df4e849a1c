/** Overlapping runs (issue 12 item 3): filled in below. */
import type { Shared } from './chaos-run.js'

export interface CaseResult {
  name: string
  violations: string[]
}

export async function runConcurrencyCases(shared: Shared): Promise<CaseResult[]> {
  void shared
  return []
}
