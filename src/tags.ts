/** Tags applied to everything the action creates: the user's `tags` plus provenance tags. */
import { ProvenanceTag } from './constants.js'
import type { RunIdentity } from './plan.js'

/** Azure's limits: 50 tags, names up to 512 characters without < > % & \ ? /, values up to 256. */
export function parseTags(value: string): Record<string, string> {
  const tags: Record<string, string> = {}
  for (const line of value
    .split(/\r?\n/)
    .map(s => s.trim())
    .filter(s => s !== '')) {
    const eq = line.indexOf('=')
    if (eq <= 0) throw new Error(`expected key=value lines, got '${line}'.`)
    const key = line.slice(0, eq).trim()
    const val = line.slice(eq + 1).trim()
    if (key.length > 512 || /[<>%&\\?/]/.test(key)) {
      throw new Error(`tag name '${key}' is over 512 characters or contains one of < > % & \\ ? /.`)
    }
    if (val.length > 256) throw new Error(`the value of tag '${key}' is over 256 characters.`)
    tags[key] = val
  }
  if (Object.keys(tags).length > 50) throw new Error(`Azure allows at most 50 tags.`)
  return tags
}

export function provenanceTags(run: RunIdentity): Record<string, string> {
  return {
    [ProvenanceTag.Repository]: run.repository,
    [ProvenanceTag.Sha]: run.sha,
    [ProvenanceTag.Ref]: run.ref.slice(0, 256),
    [ProvenanceTag.Workflow]: run.workflow.slice(0, 256),
    [ProvenanceTag.RunId]: run.runId,
    [ProvenanceTag.RunAttempt]: String(run.runAttempt)
  }
}

/**
 * The tags of everything the run creates. `github-run-id` is always there, even with
 * provenance-tags off: cleanup and re-run attempts recognise the run's own resources by it.
 * `reserved` keeps room for tags a resource adds of its own (upload disks carry 4).
 */
export function buildTags(
  userTags: Record<string, string>,
  run: RunIdentity,
  options: { provenance: boolean; reserved?: number } = { provenance: true }
): Record<string, string> {
  const tags = {
    ...userTags,
    ...(options.provenance ? provenanceTags(run) : { [ProvenanceTag.RunId]: run.runId })
  }
  const limit = 50 - (options.reserved ?? 0)
  if (Object.keys(tags).length > limit) {
    throw new Error(
      `Azure allows at most 50 tags on a resource; with the action's own tags there would be ${Object.keys(tags).length + (options.reserved ?? 0)}.`
    )
  }
  return tags
}

/** Whether a resource was made by this workflow run (what post-step cleanup and re-runs rely on). */
export function isFromRun(tags: Record<string, string> | undefined, runId: string): boolean {
  return tags?.[ProvenanceTag.RunId] === runId
}
