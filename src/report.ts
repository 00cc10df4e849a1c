/** What the run produced, collected as it goes: outputs, created resources, step timings, notes. */
export interface CreatedResource {
  kind: string
  id: string
  location?: string
}

export interface StepTiming {
  name: string
  ms: number
  outcome: 'ok' | 'failed' | 'skipped'
}

export interface Report {
  outputs: Record<string, string>
  created: CreatedResource[]
  steps: StepTiming[]
  /** Facts users must know about what was left, e.g. "the VM was generalized". */
  notes: string[]
  /** Extra markdown sections (e.g. the replication table). */
  sections: Array<{ title: string; markdown: string }>
}

export function emptyReport(): Report {
  return { outputs: {}, created: [], steps: [], notes: [], sections: [] }
}
