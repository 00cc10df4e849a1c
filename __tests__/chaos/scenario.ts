/**
 * One chaos run as plain data, drawn from its seed alone: the flow and its options, the faults
 * (placed by request count, never by wall time) and the interruption. `scenarioFor(seed)` is the
 * whole of what a replay needs.
 */
import { rng, type Rng } from './prng.js'

/** The capture and upload flows: the first draw of every seed picks one of them. */
const FIRST_FLOWS = [
  'capture-image',
  'capture-gallery-existing',
  'capture-gallery-new',
  'upload-disk',
  'upload-blob'
] as const
/** Build mode (`base-image`): to a managed image, or a gallery version of a new or existing definition. */
export const BUILD_FLOWS = ['build-image', 'build-gallery-new', 'build-gallery-existing'] as const
/** The flows a run can take: each is a row of the report. */
export const FLOWS = [...FIRST_FLOWS, ...BUILD_FLOWS] as const
export type Flow = (typeof FLOWS)[number]
export type BuildFlow = (typeof BUILD_FLOWS)[number]

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

/**
 * The requests of a build a fault is aimed at (build flows only; elsewhere any ARM request): its
 * network (NSG, virtual network, NIC), the VM's create, its managed run commands, or any DELETE.
 */
export const BUILD_TARGETS = ['any', 'network', 'vm-create', 'run-command', 'delete'] as const
export type BuildTarget = (typeof BUILD_TARGETS)[number]

export interface FaultPlan {
  kind: FaultKind
  /** build flows: which requests `after` counts and the fault hits */
  target?: BuildTarget
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

/** What a build run is asked to do beside its flow. */
export interface BuildOptions {
  os: 'Linux' | 'Windows'
  /** an existing subnet (`subnet-id`) the run must use and never change or delete */
  subnet: boolean
  /** a second script that exits 3: an expected failure whose ::error:: names it */
  failingScript: boolean
  keepBuildVm: 'false' | 'on-failure' | 'true'
  /**
   * build-gallery-existing, Linux: the existing definition's security type. Ubuntu 24.04 supports
   * Trusted Launch; a Standard definition is what a user who made one before has (docs/build.md:
   * Trusted Launch only when "every target allows it").
   */
  definitionSecurity: 'TrustedLaunch' | 'Standard'
}

export interface Scenario {
  seed: number
  flow: Flow
  /** build flows */
  build?: BuildOptions
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
export const isBuild = (flow: Flow): flow is BuildFlow => flow.startsWith('build')

/**
 * Build draws come from a stream of their own (the seed mixed with this constant), so a seed that
 * is not a build run draws exactly what it drew before build mode joined the campaign.
 */
const BUILD_STREAM = 0x6b75696c
/** The share of runs that are build runs. */
const BUILD_SHARE = 0.4

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

/**
 * A fault on a build's requests. `after` counts the matching requests: a handful for the network
 * (three resources, each a PUT and its polls), one or two for the VM's PUT, a dozen for run
 * commands (PUT, instance-view reads, DELETE per script), a few DELETEs; any ARM request: a build
 * makes 50 to 70 (measured with `--verbose`).
 */
function drawBuildFault(b: Rng): FaultPlan {
  const kind = b.pick(FAULT_KINDS.filter(k => !PAGE_FAULTS.includes(k)))
  const target = b.weighted<BuildTarget>([
    ['any', 2],
    ['network', 2],
    ['vm-create', 2],
    ['run-command', 3],
    ['delete', 2]
  ])
  // The operation kinds hit writes only (a build has some ten PUTs and POSTs, three network PUTs,
  // one VM PUT, a PUT per run command; a managed run command has no POST).
  const operation = kind === 'operation-failed' || kind === 'slow-operation'
  const once = kind.startsWith('drop') || kind === 'expired-401' || kind === 'token-expiry'
  const times = once || operation ? 1 : b.int(1, 2)
  const range: Record<BuildTarget, number> = operation
    ? { any: 8, network: 2, 'vm-create': 0, 'run-command': 3, delete: 4 }
    : { any: 50, network: 8, 'vm-create': 0, 'run-command': 12, delete: 4 }
  const fault: FaultPlan = { kind, target, after: b.int(0, range[target]), times }
  // Written to the operation of a write: a DELETE is its own (its LRO, targetOf), else a PUT or a POST.
  if (operation) fault.method = target === 'any' ? b.pick(['PUT', 'POST'] as const) : 'PUT'
  return fault
}

function drawBuild(b: Rng): BuildOptions {
  return {
    os: b.pick(['Linux', 'Windows'] as const),
    subnet: b.chance(0.5),
    failingScript: b.chance(0.2),
    keepBuildVm: b.weighted<BuildOptions['keepBuildVm']>([
      ['false', 6],
      ['on-failure', 2],
      ['true', 2]
    ]),
    definitionSecurity: b.pick(['TrustedLaunch', 'Standard'] as const)
  }
}

export function scenarioFor(seed: number): Scenario {
  const r = rng(seed)
  const b = rng((seed ^ BUILD_STREAM) >>> 0)
  const first = r.pick(FIRST_FLOWS)
  const flow: Flow = b.chance(BUILD_SHARE) ? b.pick(BUILD_FLOWS) : first
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
  if (isBuild(flow)) {
    scenario.build = drawBuild(b)
    scenario.faults = Array.from({ length: count }, () => drawBuildFault(b))
  }
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
  // A build makes some 50 to 70 ARM requests (measured, `--verbose`; preflight about 12):
  // anywhere in the network, the VM, the scripts, the capture.
  if (isBuild(flow)) scenario.interruption.atRequest = b.int(8, 60)
  return scenario
}

/** A short label of a run for the log and the replay line. */
export function describeScenario(s: Scenario): string {
  const opts = s.build
    ? [
        s.build.os,
        s.build.subnet ? 'subnet-id' : '',
        s.build.failingScript ? 'failing-script' : '',
        s.build.keepBuildVm !== 'false' ? `keep-build-vm:${s.build.keepBuildVm}` : '',
        s.flow === 'build-gallery-existing' && s.build.os === 'Linux'
          ? `definition:${s.build.definitionSecurity}`
          : '',
        s.flow === 'build-gallery-existing' && s.keepVersions ? `keep-${s.keepVersions}` : ''
      ]
    : isUpload(s.flow)
      ? [s.format, `→${s.uploadTarget}`, s.keepUpload ? 'keep-upload' : '']
      : [
          s.backupSnapshot ? 'backup' : '',
          s.deprovision ? 'deprovision' : '',
          s.dataDisks ? 'data-disk' : '',
          s.flow.startsWith('capture-gallery') && s.keepVersions ? `keep-${s.keepVersions}` : ''
        ]
  const faults = s.faults.map(
    f =>
      `${f.kind}@${f.target && f.target !== 'any' ? `${f.target}:` : ''}${f.after}${f.times > 1 ? `x${f.times}` : ''}`
  )
  const stop =
    s.interruption.kind === 'none' ? '' : ` ${s.interruption.kind}@${s.interruption.atRequest}`
  return `${s.flow} [${opts.filter(Boolean).join(' ')}] faults: ${faults.join(', ')}${stop}`
}
