/**
 * Long-running operations as @azure/core-lro 3.x reads them (`inferLroMode`):
 *  - 'async':    201/202 + Azure-AsyncOperation (+ Location, except where Azure sends none: see
 *                AO_ONLY); status documents `{ startTime, status, name }` (+ endTime, error) at
 *                /subscriptions/{s}/providers/Microsoft.Compute/locations/{loc}/{operations|DiskOperations|capsOperations}/{id};
 *                the Location URL answers 202 while running, then 200 with the final body.
 *  - 'location': 202 + Location only.
 *  - 'body':     PUT answers 200/201 with provisioningState Creating/Updating and the resource GET
 *                moves to Succeeded; POST/DELETE in this style complete synchronously.
 * Operations advance per poll so tests never wait for wall time, and a GET of the resource an
 * operation works on counts as a poll, whatever the style: Azure carries an operation to its end on
 * its own, whether or not anyone reads the status URL. `az … --no-wait` followed by
 * `az sig image-version wait --created` (or `az vm wait`, `az disk wait`) reads only the resource
 * until its provisioningState is terminal (Learn "Track asynchronous Azure operations": a
 * provisioningState other than Succeeded, Failed or Canceled says the operation is still running).
 * Without this, an operation whose client died (SIGKILL after the PUT was answered) would stay
 * InProgress forever and the re-run attempt reading the resource would wait forever.
 * Shapes follow the Azure CLI recordings in `__tests__/emulator-conformance/fixtures/` (see the
 * README's Conformance section).
 */
import { randomUUID } from 'node:crypto'
import type { Body, Ctx, LroStyle, Operation, Reply, State } from './types.js'
import { armError } from './errors.js'

export interface StartLro {
  /** key into config.lroStyles, e.g. 'virtualMachines/deallocate' */
  name: string
  kind: Operation['kind']
  region: string
  /** status code of the initial reply in async/body style for PUT: 201 create, 200 update */
  initialStatus?: number
  /** body of the initial reply (PUT echoes the resource) */
  initialBody?: () => Body | undefined
  complete: () => Body | undefined
  fail?: () => void
  onPoll?: (op: Operation) => void
  neverCompletes?: boolean
  resourceId?: string
}

/**
 * PUTs Azure answers with Azure-AsyncOperation only, no Location: image, gallery, definition and
 * version PUTs in test_vm_generalize, test_vm_capture_zone_resilient_image, test_vm_managed_disk,
 * test_gallery_e2e and test_image_version_create_os_vhd (fixtures image-put-*, gallery-*-put*).
 */
const AO_ONLY = new Set([
  // VM PUT: the same GET-after-AO shape is assumed (unverified: `az vm create` records deployments).
  'virtualMachines/PUT',
  // Managed run command PUT: Azure-AsyncOperation only (REC test_run_command_v2.yaml).
  'virtualMachines/runCommands/PUT',
  'images/PUT',
  'galleries/PUT',
  'galleryImages/PUT',
  'galleryImageVersions/PUT'
])

/**
 * Operations whose succeeded status document carries `properties.output` (the result): runCommand
 * (test_vm_run_command_e2e), capture (test_vm_generalize), DiskRP PUTs (test_vm_disk_upload,
 * test_snapshot_incremental, test_vm_managed_disk) and beginGetAccess (test_vm_managed_disk). Every
 * other recorded document (powerOff, deallocate, image and gallery PUTs, DELETEs) has none.
 */
const OUTPUT_IN_STATUS = new Set([
  'virtualMachines/runCommand',
  'virtualMachines/capture',
  'disks/PUT',
  'snapshots/PUT',
  'disks/beginGetAccess',
  'snapshots/beginGetAccess'
])

/**
 * The `p=` value of a status URL: recorded as a fixed GUID per service and region
 * (571046f6-… for Compute in westus, 42128af7-… for DiskRP in westus); GalleryRP's
 * capsOperations URLs carry none. One GUID per emulator run and kind stands in for it.
 */
const STATUS_URL_P: Record<string, string> = {
  operations: randomUUID(),
  diskOperations: randomUUID()
}

export function styleFor(state: State, name: string): LroStyle {
  return state.config.lroStyles[name] ?? state.config.lroStyles['*'] ?? 'async'
}

function finish(op: Operation): void {
  if (op.status !== 'InProgress') return
  op.endTime = new Date().toISOString()
  if (op.error) {
    op.status = 'Failed'
    op.fail?.()
  } else {
    op.status = 'Succeeded'
    op.result = op.complete()
  }
}

/** One poll of an operation: counts down and finishes it when the count reaches zero. */
export function tick(op: Operation): void {
  if (op.status !== 'InProgress') return
  op.onPoll?.(op)
  if (op.neverCompletes) return
  op.pollsLeft--
  if (op.pollsLeft <= 0) finish(op)
}

export function startLro(ctx: Ctx, spec: StartLro): Reply {
  const { state } = ctx
  const style = styleFor(state, spec.name)
  const op: Operation = {
    id: randomUUID(),
    kind: spec.kind,
    region: spec.region.replace(/\s+/g, '').toLowerCase(),
    apiVersion: ctx.query['api-version'] ?? '',
    pollsLeft: Math.max(1, state.config.pollsBeforeDone) + (ctx.extraPolls ?? 0),
    status: 'InProgress',
    error: ctx.failOperation,
    neverCompletes: spec.neverCompletes,
    startTime: new Date().toISOString(),
    complete: spec.complete,
    fail: spec.fail,
    onPoll: spec.onPoll,
    withOutput: OUTPUT_IN_STATUS.has(spec.name),
    // A GET of this resource advances the operation in every style (see the header).
    resourceId: spec.resourceId
  }
  state.operations.set(op.id, op)
  const retry = retryAfter(state, op)
  const isPut = ctx.method === 'PUT'

  if (style === 'body') {
    if (isPut) {
      // The resource GET drives the operation (see `tickResource`).
      return { status: spec.initialStatus ?? 201, body: spec.initialBody?.() }
    }
    if (op.neverCompletes) {
      // A POST that cannot finish synchronously still needs a monitor URL.
      return asyncReply(state, op, 'location', retry)
    }
    op.pollsLeft = 0
    finish(op)
    if (op.status === 'Failed')
      return armError(409, op.error!.code, op.error!.message, { details: op.error!.details })
    return op.result === undefined ? { status: 200 } : { status: 200, body: op.result }
  }
  // Network RP PUTs: Azure-AsyncOperation only (Azure/azure-xplat-cli virtual network PUT).
  const aoOnly = isPut && (AO_ONLY.has(spec.name) || op.kind === 'networkOperations')
  const reply = asyncReply(state, op, style, retry, aoOnly)
  if (isPut) {
    reply.status = spec.initialStatus ?? 201
    reply.body = spec.initialBody?.()
  }
  return reply
}

/**
 * Retry-After on Compute LROs is unverified: the recorder strips it (azure-cli-testsdk
 * `FILTER_HEADERS`), so the emulator sends none unless a test asks for a positive value. The
 * network RP sends `Retry-After: 10` (Azure/azure-xplat-cli nock recordings of virtual network,
 * subnet and public IP PUT/DELETE, which kept the header): `networkRetryAfterSeconds`.
 */
function retryAfter(state: State, op?: Operation): Record<string, string> {
  const s =
    op?.kind === 'networkOperations'
      ? state.config.networkRetryAfterSeconds
      : state.config.retryAfterSeconds
  return s !== undefined && s > 0 ? { 'Retry-After': String(s) } : {}
}

function asyncReply(
  state: State,
  op: Operation,
  style: LroStyle,
  retry: Record<string, string>,
  aoOnly = false
): Reply {
  const headers: Record<string, string> = { ...retry }
  if (style === 'async') headers['Azure-AsyncOperation'] = operationUrl(state, op)
  if (style === 'location' || !aoOnly) headers.Location = operationUrl(state, op, true)
  // The network RP names the operation by the request id (xplat recordings: x-ms-request-id = op id).
  if (op.kind === 'networkOperations') headers['x-ms-request-id'] = op.id
  return { status: 202, headers }
}

/**
 * Status URL as recorded: `…/operations/{id}?p={guid}&api-version=…` (VMs, images),
 * `…/DiskOperations/{id}?p={guid}&api-version=…`, `…/capsOperations/{id}?api-version=…`; the Location
 * monitor adds `monitor=true` before `api-version`. Since late 2023 Azure appends a signed tail
 * (`&t=&c=&s=&h=`), which the emulator leaves out (nothing may depend on it).
 */
export function operationUrl(state: State, op: Operation, monitor = false): string {
  if (op.kind === 'networkOperations')
    // Network RP: …/Microsoft.Network/locations/{loc}/operations/{id} (Azure-AsyncOperation) and
    // …/operationResults/{id} (Location), no p= (Azure/azure-xplat-cli nock recordings).
    return `${state.url}/subscriptions/${state.config.subscriptionId}/providers/Microsoft.Network/locations/${op.region}/${monitor ? 'operationResults' : 'operations'}/${op.id}?api-version=${op.apiVersion}`
  const segment = op.kind === 'diskOperations' ? 'DiskOperations' : op.kind
  const query = [
    ...(STATUS_URL_P[op.kind] ? [`p=${STATUS_URL_P[op.kind]}`] : []),
    ...(monitor ? ['monitor=true'] : []),
    `api-version=${op.apiVersion}`
  ].join('&')
  return `${state.url}/subscriptions/${state.config.subscriptionId}/providers/Microsoft.Compute/locations/${op.region}/${segment}/${op.id}?${query}`
}

/** GET of a status document or a Location monitor URL. */
export function pollOperation(ctx: Ctx, opId: string, networkMonitor = false): Reply {
  const { state } = ctx
  const op = state.operations.get(opId)
  if (!op) return armError(404, 'NotFound', `The operation '${opId}' was not found.`)
  tick(op)
  const retry = retryAfter(state, op)
  if (op.kind === 'networkOperations' && !networkMonitor) {
    // Network RP status documents carry only `status` (+ `error`): `{ "status": "Succeeded" }`
    // (Azure/azure-xplat-cli nock recordings).
    const doc: Body = { status: op.status }
    if (op.status === 'Failed') doc.error = { ...op.error, details: op.error?.details ?? [] }
    return { status: 200, body: doc, headers: op.status === 'InProgress' ? retry : {} }
  }
  if (ctx.query.monitor === 'true' || networkMonitor) {
    if (op.status === 'InProgress')
      return {
        status: 202,
        headers: { ...retry, Location: operationUrl(state, op, true) }
      }
    if (op.status === 'Failed')
      return armError(400, op.error!.code, op.error!.message, { details: op.error!.details })
    return op.result === undefined ? { status: 200 } : { status: 200, body: op.result }
  }
  const doc: Body = { startTime: op.startTime }
  if (op.endTime) doc.endTime = op.endTime
  doc.status = op.status
  if (op.status === 'Failed') doc.error = op.error
  // Only where Azure puts the result there (OUTPUT_IN_STATUS); Packer reads accessSAS from it.
  if (op.status === 'Succeeded' && op.result && op.withOutput)
    doc.properties = { output: op.result }
  doc.name = op.id
  return { status: 200, body: doc, headers: op.status === 'InProgress' ? retry : {} }
}

/**
 * A GET of the resource counts as a poll of its pending operations: the only poll in body mode,
 * and what ends an async operation whose client stopped polling (see the header).
 */
export function tickResource(state: State, resourceId: string): void {
  for (const op of state.operations.values()) {
    if (op.status === 'InProgress' && op.resourceId?.toLowerCase() === resourceId.toLowerCase())
      tick(op)
  }
}
