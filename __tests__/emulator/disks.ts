/**
 * Managed disks and snapshots (DiskRP). Direct upload follows Disk_Create_UploadDisk.json and
 * Disk_BeginGetAccess.json: createOption Upload + uploadSizeBytes -> ReadyToUpload -> beginGetAccess
 * Write -> ActiveUpload with an accessSAS -> endGetAccess -> Unattached. The SAS points to a real
 * page blob in Azurite, so uploads and their content can be checked byte for byte.
 * Shapes as recorded (fixtures disk-put-upload, disk-begin-get-access, snapshot-put-incremental):
 * one container per disk holding the blob `abcd`, a SAS `sv=2018-03-28&sr=b&si=<guid>&sig=…` on a
 * stored access policy (no sp/se/st), no size fields while ReadyToUpload.
 */
import {
  BlobServiceClient,
  PageBlobClient,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters
} from '@azure/storage-blob'
import type { Body, Ctx, Reply, Resource, State } from './types.js'
import { fail } from './errors.js'
import { newGuid, parseResourceId } from './ids.js'
import { startLro } from './lro.js'
import {
  clone,
  deleteResource,
  getResource,
  normRegion,
  putResource,
  requireResource,
  requireResourceGroup
} from './store.js'

const MIN_UPLOAD = 20972032 // 20 MiB + 512
const MAX_UPLOAD = 35183298347520 // 32 TiB + 512
const MiB = 1024 * 1024
/** Blob name inside a disk's container, as in the recorded accessSAS (`…/<container>/abcd?…`). */
const BLOB = 'abcd'
/** SAS version of the recorded accessSAS (test_vm_managed_disk: `sv=2018-03-28`). */
const SAS_VERSION = '2018-03-28'

function credential(state: State): StorageSharedKeyCredential {
  const s = state.config.storage
  if (!s)
    fail(
      500,
      'InternalExecutionError',
      'The ARM emulator was started without `storage` (Azurite); disk upload needs it.'
    )
  return new StorageSharedKeyCredential(s.accountName, s.accountKey)
}

/** One container per disk, like the recorded `md-hdd-<id>…/<container>/abcd`. */
function containerName(disk: Resource): string {
  return `md-${String(disk.body.properties.uniqueId).replace(/-/g, '')}`
}

/** For tests: a client on the page blob behind an uploaded disk (to read and hash its content). */
export function diskBlobClient(state: State, diskId: string): PageBlobClient {
  const disk = getResource(state, diskId)
  if (!disk) throw new Error(`no disk ${diskId}`)
  const cred = credential(state)
  return new BlobServiceClient(state.config.storage!.blobEndpoint, cred)
    .getContainerClient(containerName(disk))
    .getPageBlobClient(BLOB)
}

/**
 * A SAS on a stored access policy of the disk's container: the URL carries `si=` and no
 * permissions or times, as Azure's does; revoking access removes the policies (`revokeSas`),
 * after which the URLs stop working.
 */
async function sasUrl(
  state: State,
  disk: Resource,
  permissions: string,
  seconds: number
): Promise<string> {
  const client = diskBlobClient(state, disk.id)
  const container = new BlobServiceClient(
    state.config.storage!.blobEndpoint,
    credential(state)
  ).getContainerClient(containerName(disk))
  await container.createIfNotExists()
  const identifier = newGuid()
  // A new grant keeps earlier SAS URLs working (whether Azure revokes them is unverified); a
  // container holds at most five stored policies, so the oldest goes first.
  const { signedIdentifiers } = await container.getAccessPolicy()
  await container.setAccessPolicy(undefined, [
    ...signedIdentifiers.slice(-4).map(p => ({
      id: p.id,
      accessPolicy: {
        permissions: p.accessPolicy.permissions,
        startsOn: p.accessPolicy.startsOn ? new Date(p.accessPolicy.startsOn) : undefined,
        expiresOn: p.accessPolicy.expiresOn ? new Date(p.accessPolicy.expiresOn) : undefined
      }
    })),
    {
      id: identifier,
      accessPolicy: {
        permissions,
        startsOn: new Date(Date.now() - 60_000),
        expiresOn: new Date(Date.now() + seconds * 1000)
      }
    }
  ])
  const sas = generateBlobSASQueryParameters(
    { containerName: containerName(disk), blobName: BLOB, identifier, version: SAS_VERSION },
    credential(state)
  )
  return `${client.url}?${sas.toString()}`
}

async function revokeSas(state: State, disk: Resource): Promise<void> {
  if (!state.config.storage || !disk.state.sas) return
  await new BlobServiceClient(state.config.storage.blobEndpoint, credential(state))
    .getContainerClient(containerName(disk))
    .setAccessPolicy(undefined, [])
  disk.state.sas = false
}

/**
 * The PUT reply echoes the request with provisioningState Updating (and, for copies, the
 * source's uniqueId); state, uniqueId and sizes appear only in the operation's output and the GET
 * (test_vm_disk_upload, test_snapshot_incremental, test_vm_managed_disk).
 */
function putEcho(resource: Resource, request: Body): Body {
  const props: Body = clone(request.properties ?? {})
  const source = resource.body.properties.creationData?.sourceUniqueId
  if (source) props.creationData = { ...props.creationData, sourceUniqueId: source }
  return {
    name: resource.body.name,
    id: resource.id,
    type: resource.type,
    location: request.location,
    tags: request.tags ?? {},
    ...(request.sku ? { sku: request.sku } : {}),
    properties: { ...props, provisioningState: 'Updating' }
  }
}

export function putDisk(ctx: Ctx, id: string): Reply {
  const { state } = ctx
  const p = parseResourceId(id)!
  requireResourceGroup(state, p.resourceGroup)
  const body = ctx.body ?? {}
  const existing = getResource(state, id)
  const props: Body = body.properties ?? {}
  const creation: Body = props.creationData ?? {}
  if (existing) {
    // Updates: only tags and a few properties; keep the disk state.
    existing.body.tags = body.tags ?? existing.body.tags
    return { status: 200, body: clone(existing.body) }
  }
  if (!body.location)
    fail(400, 'LocationRequired', 'The location property is required for this definition.')
  let diskState = 'Unattached'
  let sizeBytes = (props.diskSizeGB ?? 0) * 1024 ** 3
  if (String(creation.createOption).toLowerCase() === 'upload') {
    const size = Number(creation.uploadSizeBytes)
    // Azure's wording, quoted in AzureStorageExplorer#3033 / azure-docs#55178.
    if (!Number.isFinite(size) || size < MIN_UPLOAD || size > MAX_UPLOAD)
      fail(
        400,
        'BadRequest',
        `The upload size in bytes ${creation.uploadSizeBytes} must be between ${MIN_UPLOAD} bytes (20 MiB + 512 bytes for the VHD footer) and ${MAX_UPLOAD} bytes (32 TiB + 512 bytes for the VHD footer).`
      )
    if ((size - 512) % MiB !== 0)
      fail(
        400,
        'BadRequest',
        `The upload size in bytes ${size} - 512 bytes for the VHD footer (${size - 512} in this case) must be a multiple of MiB.`
      )
    diskState = 'ReadyToUpload'
    sizeBytes = size - 512
  } else if (String(creation.createOption).toLowerCase() === 'copy') {
    const src = requireResource(state, String(creation.sourceResourceId))
    sizeBytes = src.body.properties.diskSizeBytes ?? sizeBytes
  }
  const disk: Resource = {
    id,
    type: 'Microsoft.Compute/disks',
    state: {},
    body: {
      id,
      name: p.names[0],
      type: 'Microsoft.Compute/disks',
      location: body.location,
      tags: body.tags ?? {},
      sku: body.sku ?? { name: 'Standard_LRS', tier: 'Standard' },
      properties: {
        ...props,
        creationData: creation,
        // A ReadyToUpload disk has no size fields (test_vm_disk_upload); they come with the data.
        ...(diskState === 'ReadyToUpload'
          ? {}
          : { diskSizeGB: Math.ceil(sizeBytes / 1024 ** 3), diskSizeBytes: sizeBytes }),
        uniqueId: newGuid(),
        provisioningState: 'Updating',
        diskState,
        timeCreated: new Date().toISOString()
      }
    }
  }
  putResource(state, disk)
  return startLro(ctx, {
    name: 'disks/PUT',
    kind: 'diskOperations',
    region: disk.body.location,
    initialStatus: 202,
    initialBody: () => putEcho(disk, body),
    resourceId: id,
    complete: () => {
      disk.body.properties.provisioningState = 'Succeeded'
      return clone(disk.body)
    },
    fail: () => {
      disk.body.properties.provisioningState = 'Failed'
    }
  })
}

/**
 * Disks_Update (PATCH `…/disks/{name}` with a DiskUpdate): only `tags` is handled, replaced as a
 * whole as a PATCH of `tags` does in ARM. The spec lists 200 and 202 (long-running); this answers
 * 200 with the updated disk, which the SDK takes as done. Other DiskUpdate properties: unverified,
 * not emulated (refused with 400 so a test notices).
 */
export function patchDisk(ctx: Ctx, id: string): Reply {
  const r = requireResource(ctx.state, id)
  const body = (ctx.body ?? {}) as Body
  const other = Object.keys(body).filter(k => k !== 'tags')
  if (other.length > 0)
    fail(
      400,
      'InvalidParameter',
      `The emulator's disk PATCH handles 'tags' only, not ${other.join(', ')}.`
    )
  if (body.tags !== undefined) r.body.tags = clone(body.tags)
  return { status: 200, body: clone(r.body) }
}

export function getDiskLike(ctx: Ctx, id: string): Reply {
  const r = requireResource(ctx.state, id)
  // A Premium SSD v2 / Ultra snapshot copies in the background after it is created; each GET
  // here counts as time passing (the pace is the emulator's, not Azure's).
  const props = r.body.properties
  if (typeof props.completionPercent === 'number' && props.completionPercent < 100)
    props.completionPercent = Math.min(100, props.completionPercent + 50)
  return { status: 200, body: clone(r.body) }
}

/**
 * Regions where an incremental snapshot without `sku` lands on ZRS ("If ZRS is available in the
 * selected region, an incremental snapshot will use ZRS automatically", disks-incremental-snapshots.md).
 * A subset of the regions with availability zones; unlisted regions get LRS.
 */
const ZRS_REGIONS = new Set([
  'westeurope',
  'northeurope',
  'eastus',
  'eastus2',
  'westus2',
  'westus3',
  'centralus',
  'southcentralus',
  'francecentral',
  'germanywestcentral',
  'uksouth',
  'swedencentral',
  'japaneast',
  'australiaeast',
  'southeastasia',
  'canadacentral'
])

export async function beginGetAccess(ctx: Ctx, id: string): Promise<Reply> {
  const { state } = ctx
  const disk = requireResource(state, id)
  const props = disk.body.properties
  const access = String(ctx.body?.access ?? 'Read')
  const asked = Number(ctx.body?.durationInSeconds ?? 3600)
  const seconds = Math.min(asked, state.config.diskSasLifetimeSeconds ?? asked)
  let sas: string
  if (access.toLowerCase() === 'write') {
    if (props.diskState !== 'ReadyToUpload' && props.diskState !== 'ActiveUpload')
      fail(
        409,
        'OperationNotAllowed',
        `Write access can only be granted to a disk in 'ReadyToUpload' state. Disk '${disk.body.name}' is in '${props.diskState}' state.`
      )
    const client = diskBlobClient(state, id)
    sas = await sasUrl(state, disk, 'racwd', seconds)
    disk.state.sas = true
    // A fixed-size VHD: the blob has exactly uploadSizeBytes, like Azure's md-impexp blobs.
    if (!(await client.exists())) await client.create(Number(props.creationData.uploadSizeBytes))
    props.diskState = 'ActiveUpload'
  } else {
    if (props.diskState === 'Attached' && disk.body.managedBy)
      fail(
        409,
        'OperationNotAllowed',
        `Disk '${disk.body.name}' is attached to VM '${disk.body.managedBy}'.`
      )
    if (state.config.storage && disk.state.uploaded) {
      sas = await sasUrl(state, disk, 'r', seconds)
      disk.state.sas = true
    } else {
      // No blob behind a seeded disk: a URL of the recorded shape that leads nowhere.
      sas = `${state.url}/${containerName(disk)}/${BLOB}?sv=${SAS_VERSION}&sr=b&si=${newGuid()}&sig=unsigned`
    }
    props.diskState = 'ActiveSAS'
  }
  return startLro(ctx, {
    name: `${disk.type.split('/')[1]}/beginGetAccess`,
    kind: 'diskOperations',
    region: disk.body.location,
    complete: () => ({ accessSAS: sas })
  })
}

/**
 * Revoking write access checks the upload's VHD footer: without the `conectix` cookie in the last
 * 512 bytes Azure answers 400 `InvalidVhd` and the disk stays `ActiveUpload` (microsoft/AzureStorageExplorer
 * #6347, #6654, #7996, #8800 quote the reply; the blob of an md-impexp disk is always named `abcd`).
 * Whether Azure refuses at the request or later in the operation is not shown there; the
 * emulator refuses at the request (see README, unverified).
 */
export async function endGetAccess(ctx: Ctx, id: string): Promise<Reply> {
  const { state } = ctx
  const disk = requireResource(state, id)
  const props = disk.body.properties
  if (props.diskState === 'ActiveUpload' && state.config.storage) {
    const client = diskBlobClient(state, id)
    const size = Number(props.creationData.uploadSizeBytes)
    const footer = (await client.exists())
      ? await client.downloadToBuffer(size - 512, 512)
      : Buffer.alloc(512)
    if (footer.subarray(0, 8).toString('latin1') !== 'conectix') {
      fail(
        400,
        'InvalidVhd',
        `The specified cookie value in VHD footer indicates that disk 'abcd' with blob ${client.url} is not a supported VHD. Disk is expected to have cookie value 'conectix'.`
      )
    }
  }
  await revokeSas(state, disk)
  return startLro(ctx, {
    name: `${disk.type.split('/')[1]}/endGetAccess`,
    kind: 'diskOperations',
    region: disk.body.location,
    complete: () => {
      if (props.diskState === 'ActiveUpload') {
        disk.state.uploaded = true
        // Sizes once the data is there (unverified: no recording shows a disk after its upload).
        const bytes = Number(props.creationData.uploadSizeBytes) - 512
        props.diskSizeBytes = bytes
        props.diskSizeGB = Math.ceil(bytes / 1024 ** 3)
      }
      if (
        props.diskState === 'ActiveUpload' ||
        props.diskState === 'ActiveSAS' ||
        props.diskState === 'ReadyToUpload'
      )
        props.diskState = disk.body.managedBy ? 'Reserved' : 'Unattached'
      return undefined
    }
  })
}

export async function deleteDisk(ctx: Ctx, id: string): Promise<Reply> {
  const { state } = ctx
  const disk = getResource(state, id)
  if (!disk) return { status: 204 }
  const props = disk.body.properties
  if (props.diskState === 'ActiveUpload' || props.diskState === 'ActiveSAS')
    fail(
      409,
      'OperationNotAllowed',
      `Disk '${disk.body.name}' cannot be deleted as it is in '${props.diskState}' state. Please revoke access (EndGetAccess) and retry.`
    )
  if (disk.body.managedBy)
    fail(
      409,
      'OperationNotAllowed',
      `Disk ${disk.body.name} is attached to VM ${disk.body.managedBy}.`
    )
  if (state.config.storage && disk.type === 'Microsoft.Compute/disks') {
    await new BlobServiceClient(state.config.storage.blobEndpoint, credential(state))
      .getContainerClient(containerName(disk))
      .deleteIfExists()
  }
  return startLro(ctx, {
    name: `${disk.type.split('/')[1]}/DELETE`,
    kind: 'diskOperations',
    region: disk.body.location,
    complete: () => {
      deleteResource(state, id)
      return undefined
    }
  })
}

/** Snapshots: createOption Copy from a disk (sourceResourceId), full or incremental. */
export function putSnapshot(ctx: Ctx, id: string): Reply {
  const { state } = ctx
  const p = parseResourceId(id)!
  requireResourceGroup(state, p.resourceGroup)
  const body = ctx.body ?? {}
  const props: Body = body.properties ?? {}
  const creation: Body = props.creationData ?? {}
  if (!body.location)
    fail(400, 'LocationRequired', 'The location property is required for this definition.')
  let sourceProps: Body = {}
  let sourceSku = ''
  if (String(creation.createOption).toLowerCase() === 'copy') {
    const src = getResource(state, String(creation.sourceResourceId))
    if (!src) fail(404, 'NotFound', `Resource ${creation.sourceResourceId} is not found.`)
    if (['ReadyToUpload', 'ActiveUpload'].includes(src.body.properties.diskState))
      fail(
        409,
        'OperationNotAllowed',
        `Disk '${src.body.name}' is in '${src.body.properties.diskState}' state and cannot be used as a snapshot source.`
      )
    sourceProps = src.body.properties
    creation.sourceUniqueId = sourceProps.uniqueId
    sourceSku = String(src.body.sku?.name ?? '')
  }
  const snap: Resource = {
    id,
    type: 'Microsoft.Compute/snapshots',
    state: {},
    body: {
      id,
      name: p.names[0],
      type: 'Microsoft.Compute/snapshots',
      location: body.location,
      tags: body.tags ?? {},
      sku: body.sku ?? {
        name:
          props.incremental && ZRS_REGIONS.has(normRegion(body.location))
            ? 'Standard_ZRS'
            : 'Standard_LRS',
        tier: 'Standard'
      },
      properties: {
        osType: sourceProps.osType,
        hyperVGeneration: sourceProps.hyperVGeneration,
        ...(sourceProps.securityProfile ? { securityProfile: sourceProps.securityProfile } : {}),
        ...props,
        creationData: creation,
        diskSizeGB: sourceProps.diskSizeGB,
        diskSizeBytes: sourceProps.diskSizeBytes,
        incremental: props.incremental ?? false,
        uniqueId: newGuid(),
        provisioningState: 'Updating',
        diskState: 'Unattached',
        timeCreated: new Date().toISOString()
      }
    }
  }
  if (snap.body.properties.osType === undefined) delete snap.body.properties.osType
  if (snap.body.properties.hyperVGeneration === undefined)
    delete snap.body.properties.hyperVGeneration
  putResource(state, snap)
  return startLro(ctx, {
    name: 'snapshots/PUT',
    kind: 'diskOperations',
    region: snap.body.location,
    initialStatus: 202,
    initialBody: () => putEcho(snap, body),
    resourceId: id,
    complete: () => {
      snap.body.properties.provisioningState = 'Succeeded'
      // Premium SSD v2 and Ultra snapshots "can't be used immediately": a background copy runs
      // until CompletionPercent is 100 (disks-incremental-snapshots.md).
      if (/^(PremiumV2_LRS|UltraSSD_LRS)$/i.test(sourceSku))
        snap.body.properties.completionPercent = 0
      return clone(snap.body)
    },
    fail: () => {
      snap.body.properties.provisioningState = 'Failed'
    }
  })
}

/** The properties every disk attached to a VM shares (seeded VMs and VMs created from images). */
export function attachedDiskProperties(sizeGB: number, creationData: Body): Body {
  return {
    creationData,
    diskSizeGB: sizeGB,
    diskSizeBytes: sizeGB * 1024 ** 3,
    uniqueId: newGuid(),
    provisioningState: 'Succeeded',
    diskState: 'Attached',
    timeCreated: new Date().toISOString()
  }
}
