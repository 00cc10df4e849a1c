/** Tags applied to everything the action creates: the user's `tags` plus provenance tags. */
import { createHash } from 'node:crypto'
import { ProvenanceTag } from './constants.js'
import type { Owner, RunIdentity } from './plan.js'

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
 * `reserved` keeps room for tags a resource adds of its own (upload disks carry 5).
 */
export function buildTags(
  userTags: Record<string, string>,
  run: RunIdentity,
  options: { provenance: boolean; reserved?: number; ownerKey?: string } = { provenance: true }
): Record<string, string> {
  const tags = {
    ...userTags,
    ...(options.provenance ? provenanceTags(run) : { [ProvenanceTag.RunId]: run.runId }),
    ...(options.ownerKey !== undefined ? { [ProvenanceTag.OwnerKey]: options.ownerKey } : {})
  }
  const limit = 50 - (options.reserved ?? 0)
  if (Object.keys(tags).length > limit) {
    throw new Error(
      `Azure allows at most 50 tags on a resource; with the action's own tags there would be ${Object.keys(tags).length + (options.reserved ?? 0)}.`
    )
  }
  return tags
}

/** Whether a resource was made by this workflow run, by any of its jobs. */
export function isFromRun(tags: Record<string, string> | undefined, runId: string): boolean {
  return tags?.[ProvenanceTag.RunId] === runId
}

/**
 * The owner key (issue 14): a hash of the repository, the run id, the job (GITHUB_JOB) and every
 * input but the secret. Every job of a run shares the run id (matrix legs also GITHUB_JOB, and the
 * leg's index is not in the environment), so the inputs are what tells the legs apart; none of it
 * changes between attempts, so a re-run attempt of a job finds what its earlier attempt made.
 */
export function ownerKey(run: RunIdentity, inputs: Record<string, string>): string {
  const material = JSON.stringify([
    run.repository,
    run.runId,
    run.job ?? '',
    Object.keys(inputs)
      .sort()
      .map(name => [name, inputs[name]])
  ])
  return createHash('sha256').update(material).digest('hex').slice(0, 32)
}

/** Whether this job (with these inputs) made a resource: what cleanup acts on. */
export function isOwnedBy(tags: Record<string, string> | undefined, key: string): boolean {
  return tags?.[ProvenanceTag.OwnerKey] === key
}

/**
 * Who made a resource the preflight finds before this attempt wrote anything:
 * - 'earlier-attempt': this job with these inputs, in an earlier attempt: reuse it.
 * - 'same-run': another job of this run (a matrix leg, or a leg with identical inputs when this is
 *   the first attempt, since a first attempt cannot find its own resources): never reuse or replace.
 * - 'other': anyone else (overwrite decides).
 */
export function madeBy(
  tags: Record<string, string> | undefined,
  owner: Owner
): 'earlier-attempt' | 'same-run' | 'other' {
  if (isOwnedBy(tags, owner.key) && owner.attempt > 1) return 'earlier-attempt'
  if (isOwnedBy(tags, owner.key) || isFromRun(tags, owner.runId)) return 'same-run'
  return 'other'
}
