/**
 * One chaos run as plain data, drawn from its seed alone: the flow and its options, the faults
 * (placed by request count, never by wall time) and the interruption. `scenarioFor(seed)` is the
 * whole of what a replay needs.
 */
import { rng, type Rng } from './prng.js'

/**
 * The flows a run can take. Build mode joins here once it is on main: add 'build' and its seeding
 * in `chaos-run.ts` (`seedCloud`) and its inputs in `inputsFor`; the invariants already cover a
 * build VM and network left behind (`leftovers`).
 */
export const FLOWS = [
  'capture-image',
  'capture-gallery-existing',
  'capture-gallery-new',
  'upload-disk',
  'upload-blob'
] as const
export type Flow = (typeof FLOWS)[number]

/**
 * ARM faults (the emulator) and blob faults (the proxy in front of Azurite): page writes, and
 * `blob-drop`, a connection dropped on any other blob request (properties, create, page ranges).
 */
export const FAULT_KINDS = [
  'throttle-429',
  'error-500',
  'error-503',
  'drop-before',
  'drop-after',
  'slow-operation',
  'operation-failed',
  'token-expiry',
  'expired-401',
  'page-503',
  'page-500',
  'page-drop',
  'page-drop-after',
  'page-lost',
  'blob-drop'
] as const
export type FaultKind = (typeof FAULT_KINDS)[number]

/** Faults that need a page-write path (upload flows). */
export const PAGE_FAULTS: readonly FaultKind[] = [
  'page-503',
  'page-500',
  'page-drop',
  'page-drop-after',
  'page-lost',
  'blob-drop'
]

/** Faults after which the run may rightly fail (Azure said no for good, or data went missing). */
export const FATAL_FAULTS: readonly FaultKind[] = ['operation-failed', 'page-lost']

export const INTERRUPTIONS = ['none', 'sigint', 'timeout', 'sigkill-rerun'] as const
export type InterruptionKind = (typeof INTERRUPTIONS)[number]

export interface FaultPlan {
  kind: FaultKind
  /** matching requests let through before it applies */
  after: number
  /** how many requests in a row it hits */
  times: number
  /** ARM faults aimed at writes only: 'PUT' or 'POST' (operation-failed, slow-operation) */
  method?: 'PUT' | 'POST'
}

export interface Interruption {
  kind: InterruptionKind
  /** the ARM request (counted from the first) at which the signal is sent */
  atRequest: number
  /** sigkill-rerun: whether the runner still ran attempt 1's post step (false: the runner was lost) */
  postAfterKill: boolean
}

export interface Scenario {
  seed: number
  flow: Flow
  /** upload flows */
  format: 'raw' | 'fixed' | 'dynamic'
  /** upload flows: a managed image, or a gallery version of a new definition */
  uploadTarget: 'image' | 'gallery'
  keepUpload: boolean
  /** capture flows */
  backupSnapshot: boolean
  deprovision: boolean
  dataDisks: 0 | 1
  /** gallery flows: 0 (keep all) or 2 */
  keepVersions: number
  /** versions of other runs already in an existing definition */
  existingVersions: number
  faults: FaultPlan[]
  interruption: Interruption
}

const isUpload = (flow: Flow): boolean => flow.startsWith('upload')

function drawFault(r: Rng, flow: Flow): FaultPlan {
  const kinds = FAULT_KINDS.filter(k => isUpload(flow) || !PAGE_FAULTS.includes(k))
  const kind = r.pick(kinds)
  if (PAGE_FAULTS.includes(kind))
    return { kind, after: r.int(0, 10), times: kind === 'page-lost' ? 1 : r.int(1, 3) }
  if (kind === 'operation-failed' || kind === 'slow-operation')
    return { kind, after: r.int(0, 3), times: 1, method: r.pick(['PUT', 'POST'] as const) }
  // A drop or a 401 hits one request: the retry after a fresh token is not refused again.
  const once = kind.startsWith('drop') || kind === 'expired-401' || kind === 'token-expiry'
  return { kind, after: r.int(0, 30), times: once ? 1 : r.int(1, 2) }
}

export function scenarioFor(seed: number): Scenario {
  const r = rng(seed)
  const flow = r.pick(FLOWS)
  const upload = isUpload(flow)
  const scenario: Scenario = {
    seed,
    flow,
    format: r.pick(['raw', 'fixed', 'dynamic'] as const),
    uploadTarget: r.pick(['image', 'gallery'] as const),
    keepUpload: r.chance(0.2),
    backupSnapshot: r.chance(0.4),
    deprovision: r.chance(0.4),
    dataDisks: r.chance(0.4) ? 1 : 0,
    keepVersions: r.chance(0.5) ? 2 : 0,
    existingVersions: r.int(0, 3),
    faults: [],
    interruption: { kind: 'none', atRequest: 0, postAfterKill: true }
  }
  const count = r.int(1, 3)
  for (let i = 0; i < count; i++) scenario.faults.push(drawFault(r, flow))
  // The time limit costs a full minute of waiting (timeout-minutes is whole minutes): rare.
  const kind = r.weighted<InterruptionKind>([
    ['none', 60],
    ['sigint', 20],
    ['sigkill-rerun', 18],
    ['timeout', 2]
  ])
  scenario.interruption = {
    kind,
    atRequest: r.int(3, upload ? 20 : 30),
    postAfterKill: r.chance(0.5)
  }
  return scenario
}

/** A short label of a run for the log and the replay line. */
export function describeScenario(s: Scenario): string {
  const opts = isUpload(s.flow)
    ? [s.format, `→${s.uploadTarget}`, s.keepUpload ? 'keep-upload' : '']
    : [
        s.backupSnapshot ? 'backup' : '',
        s.deprovision ? 'deprovision' : '',
        s.dataDisks ? 'data-disk' : '',
        s.flow.startsWith('capture-gallery') && s.keepVersions ? `keep-${s.keepVersions}` : ''
      ]
  const faults = s.faults.map(f => `${f.kind}@${f.after}${f.times > 1 ? `x${f.times}` : ''}`)
  const stop =
    s.interruption.kind === 'none' ? '' : ` ${s.interruption.kind}@${s.interruption.atRequest}`
  return `${s.flow} [${opts.filter(Boolean).join(' ')}] faults: ${faults.join(', ')}${stop}`
}
