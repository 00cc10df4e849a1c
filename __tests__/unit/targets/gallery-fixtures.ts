/** Shared fixtures for the gallery target tests: a target, source facts, a run context, a fake gallery API. */
import { RestError } from '@azure/core-rest-pipeline'
import type {
  ComputeManagementClient,
  Gallery,
  GalleryImage,
  GalleryImageVersion
} from '@azure/arm-compute'
import type { AzureClients } from '../../../src/azure/clients.js'
import { createLedger, type LedgerEntry } from '../../../src/ledger.js'
import type { Logger } from '../../../src/log.js'
import type { GalleryTarget, Plan, Owner, RunIdentity } from '../../../src/plan.js'
import { emptyReport } from '../../../src/report.js'
import type { RunContext } from '../../../src/run-context.js'
import type { SourceFacts } from '../../../src/source-facts.js'

export function galleryTarget(over: Partial<GalleryTarget> = {}): GalleryTarget {
  return {
    gallery: { subscriptionId: 'sub', resourceGroup: 'gal-rg', name: 'gal' },
    imageDefinition: 'def',
    version: { kind: 'explicit', value: '1.0.0' },
    overwrite: false,
    createIfMissing: false,
    publisher: 'pub',
    offer: 'off',
    sku: 'sku',
    targetRegions: [],
    replicaCount: 1,
    storageAccountType: 'Standard_LRS',
    replicationMode: 'Full',
    excludeFromLatest: false,
    keepVersions: 0,
    ...over
  }
}

export function sourceFacts(over: Partial<SourceFacts> = {}): SourceFacts {
  return {
    osType: 'Linux',
    osState: 'Generalized',
    hyperVGeneration: 'V2',
    architecture: 'x64',
    securityType: 'Standard',
    location: 'eastus',
    ...over
  }
}

export const run: RunIdentity = {
  repository: 'o/r',
  sha: 'abc',
  ref: 'refs/heads/main',
  workflow: 'build',
  runId: '42',
  runAttempt: 2,
  runNumber: 7
}

/** This job in its second attempt: what it made in the first carries `ownTags`. */
export const owner: Owner = { runId: '42', key: 'owner-42', attempt: 2 }
export const ownTags = { 'github-run-id': '42', 'github-owner-key': 'owner-42' }
/** The tags the plan puts on what this job creates. */
export const planTags = { team: 'x', ...ownTags }

export interface RecordingLogger extends Logger {
  lines: Array<{ level: 'info' | 'warning' | 'debug'; message: string }>
}

export function recordingLogger(): RecordingLogger {
  const lines: RecordingLogger['lines'] = []
  return {
    lines,
    info: message => void lines.push({ level: 'info', message }),
    warning: message => void lines.push({ level: 'warning', message }),
    debug: message => void lines.push({ level: 'debug', message }),
    group: (_name, fn) => fn(),
    secret: () => undefined
  }
}

const notFound = (what: string): RestError =>
  new RestError(`${what} not found`, { statusCode: 404, code: 'ResourceNotFound' })

function poller<T>(result: () => T | Promise<T>) {
  return {
    operationState: undefined,
    pollUntilDone: async () => result()
  }
}

/**
 * An in-memory gallery API with the SDK's method shapes, recording every call in order, so tests
 * can assert what was written and in which order (e.g. the ledger entry before the PUT).
 */
export class FakeGalleries {
  galleries = new Map<string, Gallery>()
  images = new Map<string, GalleryImage>()
  versions = new Map<string, GalleryImageVersion>()
  calls: string[] = []
  /** What a version PUT ends as; a function to vary per call. */
  versionOutcome: (name: string) => 'Succeeded' | 'Failed' = () => 'Succeeded'
  failDelete = new Set<string>()
  /** Called on each call, e.g. to capture the ledger at that moment. */
  onCall: (call: string) => void = () => undefined

  private record(call: string): void {
    this.calls.push(call)
    this.onCall(call)
  }

  addGallery(name: string, location = 'eastus'): void {
    this.galleries.set(name, { id: `/galleries/${name}`, name, location })
  }

  addImage(name: string, image: Partial<GalleryImage>): void {
    this.images.set(name, {
      id: `/galleries/gal/images/${name}`,
      name,
      location: 'eastus',
      ...image
    })
  }

  addVersion(name: string, version: Partial<GalleryImageVersion>): void {
    this.versions.set(name, {
      id: `/galleries/gal/images/def/versions/${name}`,
      name,
      location: 'eastus',
      ...version
    })
  }

  client(): ComputeManagementClient {
    const fake = {
      galleries: {
        get: async (_rg: string, name: string) => {
          this.record(`GET gallery ${name}`)
          const g = this.galleries.get(name)
          if (g === undefined) throw notFound(name)
          return g
        },
        createOrUpdate: (_rg: string, name: string, body: Gallery) => {
          this.record(`PUT gallery ${name}`)
          return poller(() => {
            const g = { ...body, id: `/galleries/${name}`, name }
            this.galleries.set(name, g)
            return g
          })
        }
      },
      galleryImages: {
        get: async (_rg: string, _g: string, name: string) => {
          this.record(`GET image ${name}`)
          const i = this.images.get(name)
          if (i === undefined) throw notFound(name)
          return i
        },
        createOrUpdate: (_rg: string, _g: string, name: string, body: GalleryImage) => {
          this.record(`PUT image ${name}`)
          return poller(() => {
            const i = { ...body, id: `/galleries/gal/images/${name}`, name }
            this.images.set(name, i)
            return i
          })
        }
      },
      galleryImageVersions: {
        get: async (_rg: string, _g: string, _d: string, name: string) => {
          this.record(`GET version ${name}`)
          const v = this.versions.get(name)
          if (v === undefined) throw notFound(name)
          return v
        },
        createOrUpdate: (
          _rg: string,
          _g: string,
          _d: string,
          name: string,
          body: GalleryImageVersion
        ) => {
          this.record(`PUT version ${name}`)
          return poller(() => {
            const state = this.versionOutcome(name)
            const v: GalleryImageVersion = {
              ...body,
              id: `/galleries/gal/images/def/versions/${name}`,
              name,
              provisioningState: state,
              replicationStatus: {
                summary: (body.publishingProfile?.targetRegions ?? []).map(r => ({
                  region: r.name,
                  state: state === 'Succeeded' ? 'Completed' : 'Failed',
                  progress: state === 'Succeeded' ? 100 : 10
                }))
              }
            }
            this.versions.set(name, v)
            if (state === 'Failed') throw new RestError('Replication failed', { statusCode: 500 })
            return v
          })
        },
        delete: (_rg: string, _g: string, _d: string, name: string) => {
          this.record(`DELETE version ${name}`)
          return poller(() => {
            if (this.failDelete.has(name))
              throw new RestError('blocked by EOL', { statusCode: 409 })
            this.versions.delete(name)
          })
        },
        listByGalleryImage: () => {
          this.record('LIST versions')
          const all = [...this.versions.values()]
          return (async function* () {
            yield* all
          })()
        }
      }
    }
    return fake as unknown as ComputeManagementClient
  }
}

export function clientsFor(fake: FakeGalleries): AzureClients {
  return { compute: fake.client(), subscriptionId: 'sub' } as unknown as AzureClients
}

export interface TestContext extends RunContext {
  log: RecordingLogger
  ledgerLog: LedgerEntry[][]
}

export function testContext(
  fake: FakeGalleries,
  tags: Record<string, string> = planTags
): TestContext {
  const ledgerLog: LedgerEntry[][] = []
  const ledger = createLedger(json => void ledgerLog.push(JSON.parse(json) as LedgerEntry[]))
  return {
    plan: { tags, run, owner } as unknown as Plan,
    clients: clientsFor(fake),
    log: recordingLogger(),
    signal: new AbortController().signal,
    ledger,
    ledgerLog,
    report: emptyReport(),
    step: (_name, fn) => fn()
  }
}
