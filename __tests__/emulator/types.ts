/** Shared data shapes of the ARM emulator. Plain data: every module works on one `State`. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { MarketplaceSku } from './marketplace.js'
import type { ScriptBehaviour } from './guest-scripts.js'
import type { UsageSeed, VmSizeSeed } from './usages.js'
import type { GuestSeed } from './vms.js'

/** ARM JSON bodies are free-form; this alias keeps the handlers readable. */
export type Body = Record<string, any>

export type LroStyle = 'async' | 'location' | 'body'

export interface RecordedRequest {
  method: string
  path: string
  query: Record<string, string>
  body: unknown
  status: number
  authorization: boolean
  /** audience of the emulator-issued bearer token the request carried, if it carried one */
  tokenAudience?: string
  time: number
  /** carried out, but the connection was closed without the answer (`dropResponse` fault) */
  responseDropped?: boolean
}

export interface TokenRequest {
  time: number
  grantType: string
  clientId: string
  scope: string
  via: 'client_secret' | 'client_assertion' | 'unknown'
  /** `jti` of the GitHub ID token sent as client_assertion (tells one assertion from the next) */
  assertionId?: string
  ok: boolean
  error?: string
}

export interface Fault {
  method?: string
  path?: RegExp
  times?: number
  status?: number
  retryAfter?: number
  code?: string
  message?: string
  /** ARM error `target` and `details` of a status fault (test fault: e.g. injected command lines). */
  target?: string
  details?: ArmErrorDetail[]
  drop?: boolean
  failOperation?: { code: string; message: string; details?: ArmErrorDetail[] }
  delayMs?: number
  /**
   * Placement by request count: the first `after` requests that match pass untouched, the fault
   * applies from the next one (a seeded campaign places faults by count, never by wall time).
   */
  after?: number
  /**
   * The request is carried out, then the connection is closed without an answer: the client
   * cannot tell whether its write landed (a connection lost after the request was sent).
   */
  dropResponse?: boolean
  /** The long-running operation this request starts needs this many more polls (a slow operation). */
  extraPolls?: number
  /** Every token issued so far expires as this request arrives (a token running out mid-run). */
  expireTokens?: boolean
  /** Test hook run when the fault is taken, before the request is handled (observe, or interrupt the client). */
  onMatch?: (request: RecordedRequest) => void | Promise<void>
  /**
   * An observer, not a fault: its `onMatch` runs on every matching request, before the faults are
   * looked at, and it never takes the place of one.
   */
  observe?: boolean
  /**
   * Answer with exactly this instead of the route's reply: a hostile or misconfigured server (a
   * tampered cloud metadata document, a redirect), which no Azure source describes: test-only.
   */
  reply?: Reply
}

/** What a role assignment grants at one scope (Microsoft.Authorization/permissions entry). */
export interface PermissionGrant {
  actions: string[]
  notActions: string[]
  dataActions: string[]
  notDataActions: string[]
}

/** One entry of an ARM error's `details` (ARM RPC "Error Response Content"). */
export interface ArmErrorDetail {
  code: string
  message: string
  target?: string
}

/** One ARM resource as stored: `body` is what GET returns, `state` is hidden emulator state. */
export interface Resource {
  id: string
  type: string
  body: Body
  state: Body
  /** put there by a test's seed call, not by a request */
  seeded?: boolean
}

/** A long-running operation, advanced by polls (not by wall time) so tests are deterministic. */
export interface Operation {
  id: string
  kind: 'operations' | 'diskOperations' | 'capsOperations' | 'networkOperations'
  region: string
  apiVersion: string
  pollsLeft: number
  status: 'InProgress' | 'Succeeded' | 'Failed' | 'Canceled'
  error?: { code: string; message: string; details?: ArmErrorDetail[] }
  /** true for run commands that never report back (Sysprep /shutdown kills the guest agent). */
  neverCompletes?: boolean
  startTime: string
  endTime?: string
  /** Applies the final state once; returns the final body served by the Location URL. */
  complete: () => Body | undefined
  /** Applies the failed state once. */
  fail?: () => void
  /** The succeeded status document carries `properties.output` (only where Azure's does). */
  withOutput?: boolean
  /** Called on every poll (e.g. replication progress). */
  onPoll?: (op: Operation) => void
  result?: Body
  /** the resource the operation works on: a GET of it advances the operation (lro.ts) */
  resourceId?: string
}

export interface Token {
  value: string
  audience: string
  expiresAt: number
  clientId: string
}

export interface IdToken {
  value: string
  audience: string
  expiresAt: number
  issuedAt: number
}

export interface StorageOptions {
  blobEndpoint: string
  accountName: string
  accountKey: string
}

export interface Config {
  subscriptionId: string
  tenantId: string
  clientId: string
  clientSecret: string
  armAudience: string
  tokenLifetimeSeconds: number
  /** Test knob: a disk SAS ends after at most this many seconds (index.ts ArmEmulatorOptions). */
  diskSasLifetimeSeconds?: number
  idTokenLifetimeSeconds: number
  oidcRequestToken: string
  /** App Service managed identity: the IDENTITY_HEADER secret and the identities assigned to the "app" */
  identityHeader: string
  systemAssignedClientId: string
  userAssignedClientIds: string[]
  pollsBeforeDone: number
  /** Retry-After on LRO replies: none unless positive (Azure's is unverified: the recorder strips it) */
  retryAfterSeconds?: number
  /** Retry-After on Microsoft.Network LRO replies (Azure sends 10) */
  networkRetryAfterSeconds: number
  /** instanceView GETs after a Sysprep /shutdown run command before the VM reports stopped */
  sysprepPollsToStop: number
  pageSize: number
  storage?: StorageOptions
  /** LRO style per operation name (e.g. 'virtualMachines/deallocate', 'images/PUT'); default 'async' */
  lroStyles: Record<string, LroStyle>
}

export interface State {
  url: string
  config: Config
  resources: Map<string, Resource>
  resourceGroups: Map<string, Body>
  operations: Map<string, Operation>
  /** role grants by lower-cased scope ('/subscriptions/…/resourcegroups/rg[/providers/…]') */
  permissions: Map<string, PermissionGrant>
  tokens: Map<string, Token>
  idTokens: Map<string, IdToken>
  requests: RecordedRequest[]
  tokenRequests: TokenRequest[]
  faults: Fault[]
  counters: { idTokenRequests: number }
  /** true while a test's seed call runs (resources it stores are marked `seeded`) */
  seeding: boolean
  /** Marketplace catalogue, one entry per SKU (marketplace.ts) */
  marketplace: MarketplaceSku[]
  /** accepted Marketplace terms, `publisher/product/plan` lower-cased */
  acceptedTerms: Set<string>
  /** what guests do with customization scripts (guest-scripts.ts) */
  scriptBehaviours: ScriptBehaviour[]
  /** VM sizes (Resource SKUs) and usages by `location/name` (usages.ts) */
  vmSizes: VmSizeSeed[]
  usages: Map<string, UsageSeed>
  /** the guest of VMs created by requests (vm-create.ts) */
  newVmGuest?: GuestSeed
}

/** What a route handler gets: the parsed request plus the shared state. */
export interface Ctx {
  state: State
  req: IncomingMessage
  res: ServerResponse
  method: string
  path: string
  query: Record<string, string>
  body: Body | undefined
  rawBody: string
  /** set by a matching fault: the LRO started by this request ends Failed */
  failOperation?: { code: string; message: string; details?: ArmErrorDetail[] }
  /** set by a matching `extraPolls` fault: the LRO started by this request is slower */
  extraPolls?: number
}

export interface Reply {
  status: number
  body?: unknown
  headers?: Record<string, string>
}
