/**
 * Local Azure Resource Manager emulator for the action's end-to-end tests.
 * Start it in-process with `startArmEmulator()`, run the action as a child process with
 * NODE_EXTRA_CA_CERTS=emulator.caCertPath, then inspect `requests`, `resources` and `writes()`.
 */
import https from 'node:https'
import { rmSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { AddressInfo } from 'node:net'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { PageBlobClient } from '@azure/storage-blob'
import type {
  ArmErrorDetail,
  Body,
  Config,
  Ctx,
  Fault,
  LroStyle,
  RecordedRequest,
  Reply,
  Resource,
  State,
  StorageOptions,
  TokenRequest
} from './types.js'
import { makeCertificate } from './tls.js'
import { ArmFailure, armError } from './errors.js'
import { isArmPath, route } from './router.js'
import { tokenAudience } from './identity.js'
import { faultReply, observersOf, takeFault } from './faults.js'
import { newGuid, resourceId } from './ids.js'
import { getResource, putResource } from './store.js'
import { addVm, type GuestSeed, type VmSeed } from './vms.js'
import { addImage } from './images.js'
import {
  addGallery,
  addGalleryImage,
  addGalleryImageVersion,
  type GalleryImageSeed
} from './galleries.js'
import { diskBlobClient } from './disks.js'
import {
  addMarketplaceImage,
  type ImageSecurityType,
  type MarketplaceImageSeed
} from './marketplace.js'
import { addVirtualNetwork, type VirtualNetworkSeed } from './network.js'
import { addScriptBehaviour, type ScriptBehaviour } from './guest-scripts.js'
import { addVmSize, setUsage, type UsageSeed, type VmSizeSeed } from './usages.js'
import { DEFAULT_SIZES } from './sizes.js'

export type {
  ArmErrorDetail,
  Body,
  Fault,
  LroStyle,
  RecordedRequest,
  Resource,
  StorageOptions,
  TokenRequest,
  VmSeed,
  GuestSeed,
  GalleryImageSeed,
  ImageSecurityType,
  MarketplaceImageSeed,
  VirtualNetworkSeed,
  ScriptBehaviour,
  UsageSeed,
  VmSizeSeed
}
export {
  startFaultProxy,
  type FaultProxy,
  type ProxyFault,
  type ProxyRequestRecord
} from './fault-proxy.js'

export interface ArmEmulatorOptions {
  subscriptionId?: string
  tenantId?: string
  clientId?: string
  clientSecret?: string
  storage?: StorageOptions
  lro?: {
    pollsBeforeDone?: number
    /** Retry-After (seconds) on LRO replies; none unless positive (Azure's is unverified) */
    retryAfterSeconds?: number
    /**
     * Retry-After (seconds) on Microsoft.Network LRO replies: Azure sends 10 (the default). The
     * SDK waits that long between polls: tests that create networks pass 0 to run fast.
     */
    networkRetryAfterSeconds?: number
    /** per operation ('virtualMachines/deallocate', 'images/PUT', 'galleryImageVersions/PUT', 'disks/beginGetAccess', ...) or '*' */
    styles?: Record<string, LroStyle>
  }
  tokenLifetimeSeconds?: number
  idTokenLifetimeSeconds?: number
  /** client ids of the user-assigned managed identities the "App Service" has (system-assigned is always on) */
  userAssignedClientIds?: string[]
  /** instance view reads after a Sysprep /shutdown run command until PowerState/stopped */
  sysprepPollsToStop?: number
  /** page size of GalleryImageVersions_ListByGalleryImage */
  pageSize?: number
  /**
   * Test knob (not Azure behaviour): a disk's SAS ends after at most this many seconds, whatever
   * `durationInSeconds` asked for, so a test can see an upload outlive its write SAS (README
   * "Test knobs").
   */
  diskSasLifetimeSeconds?: number
}

export interface ArmEmulator {
  url: string
  caCertPath: string
  subscriptionId: string
  tenantId: string
  clientId: string
  clientSecret: string
  /** token audience of this "cloud" (AzureStack metadata `authentication.audiences[0]`) */
  armAudience: string
  /** `${armAudience}/.default` */
  armScope: string
  oidcTokenUrl: string
  oidcRequestToken: string
  /** directory holding the `az` stand-in; prepend it to PATH */
  azBinDir: string
  /** env vars the `az` stand-in needs to answer as a logged-in CLI */
  azCliEnv(): Record<string, string>
  /** env vars that make @azure/identity's ManagedIdentityCredential (msal-node) pick its App Service source, pointed here */
  managedIdentityEnv(): Record<string, string>
  /** client id the system-assigned managed identity's tokens are issued to */
  systemAssignedClientId: string
  userAssignedClientIds: string[]
  /** requests to the managed-identity endpoint (a view of `requests`) */
  managedIdentityRequests(): RecordedRequest[]
  readonly idTokenRequests: number
  tokenRequests: TokenRequest[]
  requests: RecordedRequest[]
  /** PUT/POST/PATCH/DELETE on ARM paths */
  writes(): RecordedRequest[]
  resources: {
    get(id: string): Body | undefined
    /** hidden emulator state (powerState, generalized, guestDeprovisioned, runCommands, ...) */
    state(id: string): Body | undefined
    list(type?: string): Body[]
    /**
     * Resources that requests made (not a test's seed calls) and that still exist, of one type
     * (e.g. 'Microsoft.Network/networkInterfaces') or all: "what the run left behind".
     */
    created(type?: string): Body[]
  }
  addResourceGroup(name: string, location: string, tags?: Record<string, string>): Body
  addVm(seed: VmSeed): Body
  addImage(seed: Parameters<typeof addImage>[1]): Body
  addGallery(
    resourceGroup: string,
    name: string,
    location: string,
    tags?: Record<string, string>
  ): Body
  addGalleryImage(seed: GalleryImageSeed): Body
  addGalleryImageVersion(seed: Parameters<typeof addGalleryImageVersion>[1]): Body
  addStorageAccount(resourceGroup: string, name: string, location?: string): Body
  /** A Marketplace SKU with its versions (README "Marketplace image catalogue"). */
  addMarketplaceImage(seed: MarketplaceImageSeed): void
  /** An existing virtual network with its subnets (for `subnet-id`). */
  addVirtualNetwork(seed: VirtualNetworkSeed): Body
  /**
   * What the guest does with a customization script whose text contains `marker` (README "Guest
   * script behaviours"); the last registered match wins; no match: exit 0, no output.
   */
  addScriptBehaviour(behaviour: ScriptBehaviour): void
  /** A VM size (Resource SKU) beside the defaults, or a replacement of a default one. */
  addVmSize(seed: VmSizeSeed): void
  /** Compute usage (quota) of a family or of 'cores' in a region; unset ones read 0 of 100. */
  setUsage(seed: UsageSeed): void
  /** The guest of every VM a request creates from now on (default: a Linux/Windows guest with systemd). */
  setNewVmGuest(guest: GuestSeed): void
  /**
   * The role grants at a scope: a resource group name, or a full scope ID such as a gallery's or a
   * VM's. Reading permissions at a scope returns the grants at it and above it (Azure's
   * Permissions - List For Resource/Resource Group). A group with no grant at, under or above it
   * answers `*` (the default identity may do anything).
   */
  setPermissions(
    scope: string,
    actions: string[],
    notActions?: string[],
    dataActions?: string[]
  ): void
  setLroStyle(operation: string, style: LroStyle): void
  /** page blob behind an uploaded managed disk (needs `storage`) */
  diskBlobClient(diskId: string): PageBlobClient
  faults: { add(f: Fault): void; clear(): void; readonly pending: Fault[] }
  /**
   * Test fault: text the VM's guest prints on stdout/stderr, appended to every Run Command result
   * from then on (README "Test faults"); undefined clears it.
   */
  setGuestOutput(vmId: string, output: { stdout?: string; stderr?: string } | undefined): void
  /** every token issued so far now counts as expired: the next ARM call gets 401 ExpiredAuthenticationToken */
  expireTokens(): void
  /** every GitHub ID token issued so far now counts as expired: Entra refuses it as an assertion (AADSTS700024) */
  expireIdTokens(): void
  close(): Promise<void>
}

const here = dirname(fileURLToPath(import.meta.url))

export async function startArmEmulator(opts: ArmEmulatorOptions = {}): Promise<ArmEmulator> {
  const tls = await makeCertificate()
  const config: Config = {
    subscriptionId: opts.subscriptionId ?? '00000000-0000-0000-0000-000000000001',
    tenantId: opts.tenantId ?? '00000000-0000-0000-0000-0000000000a1',
    clientId: opts.clientId ?? '00000000-0000-0000-0000-0000000000c1',
    clientSecret: opts.clientSecret ?? 'emulator-client-secret',
    // Azure Stack Hub audiences look like https://management.<domain>/<guid>.
    armAudience: 'https://management.emulator.local/7c8f0e0a-0000-0000-0000-00000000e0a1',
    tokenLifetimeSeconds: opts.tokenLifetimeSeconds ?? 3600,
    diskSasLifetimeSeconds: opts.diskSasLifetimeSeconds,
    idTokenLifetimeSeconds: opts.idTokenLifetimeSeconds ?? 300,
    oidcRequestToken: `oidc-request-${newGuid()}`,
    identityHeader: `identity-header-${newGuid()}`,
    systemAssignedClientId: '00000000-0000-0000-0000-0000000000d0',
    userAssignedClientIds: opts.userAssignedClientIds ?? ['00000000-0000-0000-0000-0000000000d1'],
    pollsBeforeDone: opts.lro?.pollsBeforeDone ?? 2,
    retryAfterSeconds: opts.lro?.retryAfterSeconds,
    networkRetryAfterSeconds: opts.lro?.networkRetryAfterSeconds ?? 10,
    sysprepPollsToStop: opts.sysprepPollsToStop ?? 2,
    pageSize: opts.pageSize ?? 2,
    storage: opts.storage,
    lroStyles: { ...(opts.lro?.styles ?? {}) }
  }
  const state: State = {
    url: '',
    config,
    resources: new Map(),
    resourceGroups: new Map(),
    operations: new Map(),
    permissions: new Map(),
    tokens: new Map(),
    idTokens: new Map(),
    requests: [],
    tokenRequests: [],
    faults: [],
    counters: { idTokenRequests: 0 },
    seeding: false,
    marketplace: [],
    acceptedTerms: new Set(),
    scriptBehaviours: [],
    vmSizes: DEFAULT_SIZES.map(s => ({ ...s })),
    usages: new Map()
  }
  /** Runs a test's seed call: what it stores is marked `seeded` (see `resources.created`). */
  const seed = <T>(f: () => T): T => {
    state.seeding = true
    try {
      return f()
    } finally {
      state.seeding = false
    }
  }

  const server = https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
    handle(state, req, res).catch(err => {
      if (!res.headersSent)
        send(res, armError(500, 'InternalServerError', String(err?.stack ?? err)))
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  state.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`

  const sub = config.subscriptionId
  const emu: ArmEmulator = {
    url: state.url,
    caCertPath: tls.caCertPath,
    subscriptionId: sub,
    tenantId: config.tenantId,
    clientId: config.clientId,
    clientSecret: config.clientSecret,
    armAudience: config.armAudience,
    armScope: `${config.armAudience}/.default`,
    oidcTokenUrl: `${state.url}/github/oidc?api-version=2.0`,
    oidcRequestToken: config.oidcRequestToken,
    azBinDir: join(here, 'bin'),
    azCliEnv: () => ({
      AZ_EMULATOR_URL: state.url,
      AZ_EMULATOR_TENANT_ID: config.tenantId,
      AZ_EMULATOR_CLIENT_ID: config.clientId,
      AZ_EMULATOR_CLIENT_SECRET: config.clientSecret,
      AZ_EMULATOR_SUBSCRIPTION_ID: sub,
      NODE_EXTRA_CA_CERTS: tls.caCertPath
    }),
    managedIdentityEnv: () => ({
      IDENTITY_ENDPOINT: `${state.url}/msi/token`,
      IDENTITY_HEADER: config.identityHeader,
      NODE_EXTRA_CA_CERTS: tls.caCertPath
    }),
    systemAssignedClientId: config.systemAssignedClientId,
    userAssignedClientIds: config.userAssignedClientIds,
    managedIdentityRequests: () => state.requests.filter(r => r.path === '/msi/token'),
    get idTokenRequests() {
      return state.counters.idTokenRequests
    },
    tokenRequests: state.tokenRequests,
    requests: state.requests,
    writes: () =>
      state.requests.filter(
        r => isArmPath(r.path) && ['PUT', 'POST', 'PATCH', 'DELETE'].includes(r.method)
      ),
    resources: {
      get: id => getResource(state, id)?.body,
      state: id => getResource(state, id)?.state,
      list: type =>
        [...state.resources.values()]
          .filter(r => !type || r.type.toLowerCase() === type.toLowerCase())
          .map(r => r.body),
      created: type =>
        [...state.resources.values()]
          .filter(r => !r.seeded && (!type || r.type.toLowerCase() === type.toLowerCase()))
          .map(r => r.body)
    },
    addResourceGroup: (name, location, tags) => {
      const rg = {
        id: `/subscriptions/${sub}/resourceGroups/${name}`,
        name,
        type: 'Microsoft.Resources/resourceGroups',
        location,
        tags: tags ?? {},
        properties: { provisioningState: 'Succeeded' }
      }
      state.resourceGroups.set(name.toLowerCase(), rg)
      return rg
    },
    addVm: s => seed(() => addVm(state, s).body),
    addImage: s => seed(() => addImage(state, s).body),
    addGallery: (rg, name, location, tags) =>
      seed(() => addGallery(state, rg, name, location, tags).body),
    addGalleryImage: s => seed(() => addGalleryImage(state, s).body),
    addGalleryImageVersion: s => seed(() => addGalleryImageVersion(state, s).body),
    addMarketplaceImage: s => void addMarketplaceImage(state, s),
    addVirtualNetwork: s => seed(() => addVirtualNetwork(state, s).body),
    addScriptBehaviour: b => addScriptBehaviour(state, b),
    addVmSize: s => addVmSize(state, s),
    setUsage: s => setUsage(state, s),
    setNewVmGuest: g => void (state.newVmGuest = { ...g }),
    addStorageAccount: (rg, name, location) => {
      const id = resourceId(sub, rg, 'Microsoft.Storage', 'storageAccounts', name)
      const blob = config.storage?.blobEndpoint ?? `https://${name}.blob.core.windows.net/`
      return seed(() =>
        putResource(state, {
          id,
          type: 'Microsoft.Storage/storageAccounts',
          state: {},
          body: {
            id,
            name,
            type: 'Microsoft.Storage/storageAccounts',
            location: location ?? state.resourceGroups.get(rg.toLowerCase())?.location ?? 'westus',
            kind: 'StorageV2',
            sku: { name: 'Standard_LRS', tier: 'Standard' },
            properties: {
              primaryEndpoints: { blob: blob.endsWith('/') ? blob : `${blob}/` },
              provisioningState: 'Succeeded',
              allowSharedKeyAccess: true,
              creationTime: new Date().toISOString()
            }
          }
        })
      ).body
    },
    setPermissions: (scope, actions, notActions = [], dataActions = []) => {
      const full = scope.startsWith('/') ? scope : `/subscriptions/${sub}/resourceGroups/${scope}`
      state.permissions.set(full.replace(/\/+$/, '').toLowerCase(), {
        actions,
        notActions,
        dataActions,
        notDataActions: []
      })
    },
    setLroStyle: (operation, style) => void (config.lroStyles[operation] = style),
    diskBlobClient: diskId => diskBlobClient(state, diskId),
    faults: {
      add: f => void state.faults.push({ ...f }),
      clear: () => void state.faults.splice(0),
      get pending() {
        return state.faults
      }
    },
    setGuestOutput: (vmId, output) => {
      const vm = getResource(state, vmId)
      if (!vm) throw new Error(`setGuestOutput: no VM ${vmId}`)
      vm.state.guestOutput = output
    },
    expireTokens: () => expireAllTokens(state),
    expireIdTokens: () => {
      for (const t of state.idTokens.values()) t.expiresAt = Math.min(t.expiresAt, Date.now())
    },
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => resolve()))
      if (tls.owned) rmSync(tls.dir, { recursive: true, force: true })
    }
  }
  return emu
}

function send(res: ServerResponse, reply: Reply): void {
  const headers: Record<string, string> = {
    'x-ms-request-id': newGuid(),
    'x-ms-correlation-request-id': newGuid(),
    ...(reply.headers ?? {})
  }
  if (reply.body === undefined) {
    res.writeHead(reply.status, { ...headers, 'content-length': '0' })
    res.end()
    return
  }
  const text = JSON.stringify(reply.body)
  res.writeHead(reply.status, {
    ...headers,
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(Buffer.byteLength(text))
  })
  res.end(text)
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const c of req) chunks.push(c as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

async function handle(state: State, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', state.url)
  const method = (req.method ?? 'GET').toUpperCase()
  const rawBody = await readBody(req)
  let body: Body | undefined
  try {
    body =
      rawBody && /json/.test(req.headers['content-type'] ?? 'json')
        ? JSON.parse(rawBody)
        : undefined
  } catch {
    body = undefined
  }
  const query: Record<string, string> = {}
  url.searchParams.forEach((v, k) => (query[k] = v))
  const record: RecordedRequest = {
    method,
    path: url.pathname,
    query,
    // A copy: handlers may add server-side fields to the body they store; the log keeps what was sent.
    body: body === undefined ? (rawBody ? '[form]' : undefined) : structuredClone(body),
    status: 0,
    authorization: !!req.headers.authorization,
    tokenAudience: tokenAudience(state, req.headers.authorization),
    time: Date.now()
  }
  state.requests.push(record)
  const ctx: Ctx = { state, req, res, method, path: url.pathname, query, body, rawBody }

  for (const o of observersOf(state, method, url.pathname + url.search)) await o.onMatch?.(record)
  const fault = takeFault(state, method, url.pathname + url.search)
  if (fault?.expireTokens) expireAllTokens(state)
  if (fault?.onMatch) await fault.onMatch(record)
  if (fault?.delayMs) await new Promise(r => setTimeout(r, fault.delayMs))
  if (fault?.drop) {
    record.status = -1
    req.socket.destroy()
    return
  }
  let reply = fault ? faultReply(state, fault) : undefined
  if (fault?.failOperation) ctx.failOperation = fault.failOperation
  if (fault?.extraPolls) ctx.extraPolls = fault.extraPolls
  if (!reply) {
    try {
      reply = await route(ctx)
    } catch (e) {
      if (e instanceof ArmFailure) reply = e.reply
      else throw e
    }
  }
  record.status = reply.status
  if (fault?.dropResponse) {
    // Carried out, never answered: the client sees a reset connection.
    record.responseDropped = true
    req.socket.destroy()
    return
  }
  send(res, reply)
}

function expireAllTokens(state: State): void {
  for (const t of state.tokens.values()) t.expiresAt = Math.min(t.expiresAt, Date.now() - 1000)
}
