/**
 * Azure Compute Gallery: galleries, image definitions, image versions (GalleryRP).
 * Bodies after GalleryImage_Create.json and GalleryImageVersion_Create*.json; replication status
 * after GalleryImageVersion_Get_WithReplicationStatus.json.
 */
import type { Body, Ctx, Operation, Reply, Resource, State } from './types.js'
import { fail } from './errors.js'
import { parseResourceId, resourceId } from './ids.js'
import { startLro } from './lro.js'
import {
  children,
  clone,
  displayRegion,
  getResource,
  normRegion,
  putResource,
  requireResource,
  requireResourceGroup
} from './store.js'

const INT32 = 2147483647

function parentMissing(name: string): never {
  // ARM's reply for a nested resource whose parent does not exist.
  fail(
    404,
    'ParentResourceNotFound',
    `Can not perform requested operation on nested resource. Parent resource '${name}' not found.`
  )
}

function lroCreate(
  ctx: Ctx,
  r: Resource,
  name: string,
  existed: boolean,
  onPoll?: (op: Operation) => void,
  onDone?: () => void
): Reply {
  return startLro(ctx, {
    name,
    kind: 'capsOperations',
    region: r.body.location,
    initialStatus: existed ? 200 : 201,
    initialBody: () => clone(r.body),
    resourceId: r.id,
    onPoll,
    complete: () => {
      r.body.properties.provisioningState = 'Succeeded'
      onDone?.()
      return clone(r.body)
    },
    fail: () => {
      r.body.properties.provisioningState = 'Failed'
    }
  })
}

export function putGallery(ctx: Ctx, id: string): Reply {
  const { state } = ctx
  const p = parseResourceId(id)!
  requireResourceGroup(state, p.resourceGroup)
  const body = ctx.body ?? {}
  if (!body.location)
    fail(400, 'LocationRequired', 'The location property is required for this definition.')
  const existing = getResource(state, id)
  const r = addGalleryResource(
    state,
    p.resourceGroup,
    p.names[0],
    body.location,
    body.tags,
    body.properties
  )
  r.body.properties.provisioningState = existing ? 'Updating' : 'Creating'
  return lroCreate(ctx, r, 'galleries/PUT', !!existing)
}

function addGalleryResource(
  state: State,
  rg: string,
  name: string,
  location: string,
  tags?: Body,
  props?: Body
): Resource {
  const id = resourceId(state.config.subscriptionId, rg, 'Microsoft.Compute', 'galleries', name)
  return putResource(state, {
    id,
    type: 'Microsoft.Compute/galleries',
    state: {},
    body: {
      id,
      name,
      type: 'Microsoft.Compute/galleries',
      location,
      tags: tags ?? {},
      properties: {
        description: props?.description,
        identifier: { uniqueName: `${state.config.subscriptionId}-${name.toUpperCase()}` },
        provisioningState: 'Succeeded'
      }
    }
  })
}

export function addGallery(
  state: State,
  rg: string,
  name: string,
  location: string,
  tags?: Record<string, string>
): Resource {
  requireResourceGroup(state, rg)
  return addGalleryResource(state, rg, name, location, tags)
}

export interface GalleryImageSeed {
  resourceGroup: string
  gallery: string
  name: string
  location?: string
  osType: 'Linux' | 'Windows'
  osState?: 'Generalized' | 'Specialized'
  hyperVGeneration?: 'V1' | 'V2'
  securityType?:
    | 'Standard'
    | 'TrustedLaunch'
    | 'TrustedLaunchSupported'
    | 'ConfidentialVM'
    | 'TrustedLaunchAndConfidentialVmSupported'
  architecture?: 'x64' | 'Arm64'
  identifier?: { publisher: string; offer: string; sku: string }
  tags?: Record<string, string>
}

function imageDefinition(
  state: State,
  galleryId: string,
  name: string,
  location: string,
  tags: Body | undefined,
  props: Body
): Resource {
  const id = `${galleryId}/images/${name}`
  return {
    id,
    type: 'Microsoft.Compute/galleries/images',
    state: {},
    body: {
      id,
      name,
      type: 'Microsoft.Compute/galleries/images',
      location,
      tags: tags ?? {},
      properties: {
        architecture: 'x64',
        ...props,
        provisioningState: 'Succeeded'
      }
    }
  }
}

export function addGalleryImage(state: State, seed: GalleryImageSeed): Resource {
  const gallery = requireResource(
    state,
    resourceId(
      state.config.subscriptionId,
      seed.resourceGroup,
      'Microsoft.Compute',
      'galleries',
      seed.gallery
    )
  )
  const features =
    seed.securityType && seed.securityType !== 'Standard'
      ? [{ name: 'SecurityType', value: seed.securityType }]
      : undefined
  return putResource(
    state,
    imageDefinition(
      state,
      gallery.id,
      seed.name,
      seed.location ?? gallery.body.location,
      seed.tags,
      {
        osType: seed.osType,
        osState: seed.osState ?? 'Generalized',
        hyperVGeneration: seed.hyperVGeneration ?? 'V1',
        architecture: seed.architecture ?? 'x64',
        identifier: seed.identifier ?? { publisher: 'emulator', offer: seed.name, sku: 'default' },
        ...(features ? { features } : {})
      }
    )
  )
}

export function putGalleryImage(ctx: Ctx, id: string): Reply {
  const { state } = ctx
  const p = parseResourceId(id)!
  requireResourceGroup(state, p.resourceGroup)
  const galleryId = id.slice(0, id.toLowerCase().lastIndexOf('/images/'))
  if (!getResource(state, galleryId)) parentMissing(p.names[0])
  const body = ctx.body ?? {}
  const props: Body = body.properties ?? {}
  for (const f of ['osType', 'osState', 'identifier'])
    if (!props[f]) fail(400, 'InvalidParameter', `Required parameter '${f}' is missing (null).`, f)
  const existing = getResource(state, id)
  if (existing) {
    for (const f of ['osType', 'osState', 'hyperVGeneration'])
      if (
        props[f] &&
        String(props[f]).toLowerCase() !== String(existing.body.properties[f]).toLowerCase()
      )
        fail(409, 'PropertyChangeNotAllowed', `Changing property '${f}' is not allowed.`, f)
  }
  const r = putResource(
    state,
    imageDefinition(
      state,
      galleryId,
      p.names[1],
      body.location,
      body.tags,
      existing
        ? {
            hyperVGeneration: existing.body.properties.hyperVGeneration,
            features: existing.body.properties.features,
            ...props
          }
        : withCreationDefaults(props, ctx.query['api-version'] ?? '')
    )
  )
  r.body.properties.provisioningState = existing ? 'Updating' : 'Creating'
  return lroCreate(ctx, r, 'galleryImages/PUT', !!existing)
}

/** The API version from which a new definition defaults to TrustedLaunchSupported and V2. */
export const TRUSTED_LAUNCH_DEFAULT_API = '2025-03-03'

/**
 * Defaults of a NEW definition. From API 2025-03-03 a definition created without a SecurityType
 * feature, or with a null value, becomes TrustedLaunchSupported, and without hyperVGeneration V2
 * (MicrosoftDocs/azure-compute-docs compute-gallery-whats-new.md "July 2025 updates";
 * azure-compute-gallery.md "Trusted Launch validation"). Before that: V1 (the spec's
 * hyperVGeneration description) and no feature, i.e. Standard.
 */
function withCreationDefaults(props: Body, apiVersion: string): Body {
  const out: Body = { ...props }
  // api-versions are yyyy-mm-dd[-preview]: string order is date order.
  if (apiVersion.slice(0, 10) < TRUSTED_LAUNCH_DEFAULT_API) {
    out.hyperVGeneration ??= 'V1'
    return out
  }
  out.hyperVGeneration ??= 'V2'
  const features: Body[] = [...(props.features ?? [])]
  const i = features.findIndex(f => String(f.name).toLowerCase() === 'securitytype')
  if (i < 0) features.push({ name: 'SecurityType', value: 'TrustedLaunchSupported' })
  else if (
    features[i].value === null ||
    features[i].value === undefined ||
    features[i].value === ''
  )
    features[i] = { name: 'SecurityType', value: 'TrustedLaunchSupported' }
  out.features = features
  return out
}

function securityTypeOf(def: Resource): string {
  const f = (def.body.properties.features ?? []).find(
    (x: Body) => String(x.name).toLowerCase() === 'securitytype'
  )
  return f ? String(f.value) : 'Standard'
}

/** What the version's source is and the facts to validate against the definition. */
interface SourceFacts {
  kind: 'vm' | 'image' | 'version' | 'disk' | 'vhd'
  /** the source's resource ID (for a VHD: the storage account's) */
  id: string
  osType: string
  generalized: boolean
  hyperV: string
  securityType?: string
  region: string
  dataLuns: number[]
  sizeGB: number
  /** GiB of each disk of the source (OS first), for the Full replication size limit */
  diskSizesGB: number[]
  /** a disk's or snapshot's `supportedCapabilities.architecture` (kept on the version's state) */
  architecture?: string
}

function notFound(srcId: string): never {
  // troubleshooting-shared-images.md (the code is not given there)
  fail(
    404,
    'NotFound',
    `Source was not found: ${srcId}. Please make sure the source exists`,
    'storageProfile.source.id'
  )
}

/**
 * A VHD source: from API 2022-03-03 `storageAccountId` + `uri` (Azure/azure-cli#31186, "Upcoming
 * Breaking Changes to Azure Compute Gallery Image Publishing"); `source.id` with a blob is refused
 * with InvalidParameter (ansible-collections/azure#2114); GalleryRP checks that the account holds the
 * URI (azure-rest-api-specs#10466 review). Both refusals' message texts are not quoted anywhere.
 */
function vhdFacts(state: State, sp: Body): SourceFacts | undefined {
  const os: Body | undefined = sp.osDiskImage?.source
  const blobs: Body[] = [os, ...(sp.dataDiskImages ?? []).map((d: Body) => d.source)].filter(
    (x): x is Body => !!x
  )
  for (const b of blobs) {
    if (typeof b.id === 'string' && /^https?:\/\//i.test(b.id))
      fail(
        400,
        'InvalidParameter',
        `The source id '${b.id}' is not a valid resource id: for a VHD blob give storageAccountId and uri.`,
        'storageProfile.osDiskImage.source.id'
      )
  }
  if (!os?.uri) return undefined
  const accountId: string | undefined = os.storageAccountId
  if (!accountId)
    fail(
      400,
      'InvalidParameter',
      "Required parameter 'storageAccountId' is missing (null).",
      'storageProfile.osDiskImage.source.storageAccountId'
    )
  const account = getResource(state, accountId)
  if (!account) notFound(accountId)
  const blobHost = (u: string): string => {
    try {
      const url = new URL(u)
      // Azurite names the account in the path: http://127.0.0.1:10000/<account>/<container>/<blob>
      return /^\d+\.\d+\.\d+\.\d+$|^localhost$/.test(url.hostname)
        ? `${url.host}/${url.pathname.split('/')[1]}`
        : url.host
    } catch {
      return ''
    }
  }
  const endpoint = blobHost(String(account.body.properties.primaryEndpoints?.blob ?? ''))
  for (const b of blobs) {
    if (b.storageAccountId && String(b.storageAccountId).toLowerCase() !== accountId.toLowerCase())
      continue
    if (blobHost(String(b.uri)).toLowerCase() !== endpoint.toLowerCase())
      fail(
        400,
        'InvalidParameter',
        `The blob '${b.uri}' is not in the storage account '${accountId}'.`,
        'storageProfile.osDiskImage.source.uri'
      )
  }
  return {
    kind: 'vhd',
    id: accountId,
    osType: '',
    generalized: true,
    hyperV: '',
    region: account.body.location,
    dataLuns: (sp.dataDiskImages ?? []).map((d: Body) => d.lun),
    sizeGB: 30,
    diskSizesGB: []
  }
}

function sourceFacts(state: State, sp: Body): SourceFacts {
  const vhd = vhdFacts(state, sp)
  if (vhd) return vhd
  const srcId: string | undefined =
    sp.source?.virtualMachineId ?? sp.source?.id ?? sp.osDiskImage?.source?.id
  if (!srcId)
    fail(
      400,
      'InvalidParameter',
      'The gallery artifact version source can only be specified either directly under storageProfile or within individual OS or data disks. One and only one source type (user image, snapshot, disk, virtual machine) can be provided',
      'storageProfile.source'
    )
  const src = getResource(state, srcId)
  if (!src) notFound(srcId)
  const props = src.body.properties
  const diskSize = (id: string | undefined): number =>
    (id ? getResource(state, id)?.body.properties.diskSizeGB : undefined) ?? 0
  switch (src.type) {
    case 'Microsoft.Compute/virtualMachines': {
      const osDisk = props.storageProfile.osDisk
      return {
        kind: 'vm',
        id: src.id,
        osType: osDisk.osType,
        generalized: !!src.state.generalized,
        hyperV: src.state.hyperVGeneration,
        securityType: props.securityProfile?.securityType,
        region: src.body.location,
        dataLuns: props.storageProfile.dataDisks.map((d: Body) => d.lun),
        sizeGB: osDisk.diskSizeGB ?? diskSize(osDisk.managedDisk?.id),
        diskSizesGB: [osDisk, ...props.storageProfile.dataDisks].map(
          (d: Body) => diskSize(d.managedDisk?.id) || d.diskSizeGB || 0
        )
      }
    }
    case 'Microsoft.Compute/images': {
      const disks: Body[] = [props.storageProfile.osDisk, ...(props.storageProfile.dataDisks ?? [])]
      return {
        kind: 'image',
        id: src.id,
        osType: props.storageProfile.osDisk.osType,
        generalized: true,
        hyperV: props.hyperVGeneration,
        region: src.body.location,
        dataLuns: (props.storageProfile.dataDisks ?? []).map((d: Body) => d.lun),
        sizeGB: props.storageProfile.osDisk.diskSizeGB ?? 30,
        diskSizesGB: disks.map(d => d.diskSizeGB ?? diskSize(d.managedDisk?.id))
      }
    }
    case 'Microsoft.Compute/galleries/images/versions':
      return { ...src.state.facts, kind: 'version', id: src.id, region: src.body.location }
    case 'Microsoft.Compute/disks':
    case 'Microsoft.Compute/snapshots':
      // disks and snapshots: the OS state comes from the definition.
      return {
        kind: 'disk',
        id: src.id,
        osType: props.osType ?? '',
        generalized: true,
        hyperV: props.hyperVGeneration ?? '',
        securityType: props.securityProfile?.securityType,
        region: src.body.location,
        dataLuns: (sp.dataDiskImages ?? []).map((d: Body) => d.lun),
        sizeGB: props.diskSizeGB ?? 30,
        diskSizesGB: [
          props.diskSizeGB ?? 0,
          ...(sp.dataDiskImages ?? []).map((d: Body) => diskSize(d.source?.id))
        ],
        architecture: props.supportedCapabilities?.architecture ?? 'x64'
      }
    default:
      // troubleshooting-shared-images.md
      fail(
        400,
        'InvalidParameter',
        `The source id: ${srcId} must either be a managed image, virtual machine or another gallery image version`,
        'storageProfile.source.id'
      )
  }
}

/** An error Azure reports in the version's long-running operation, after a 201. */
type LateError = { code: string; message: string; regionDetails?: string }

/**
 * Checks at the request (they throw) and the ones Azure reports only in the LRO (returned).
 * Texts from troubleshooting-shared-images.md unless noted.
 */
function validateVersion(
  name: string,
  def: Resource,
  facts: SourceFacts,
  pub: Body,
  location: string
): LateError | undefined {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(name)
  if (!m || m.slice(1).some(n => Number(n) > INT32))
    fail(
      400,
      'InvalidParameter',
      'The image version name is invalid. The image version name should follow Major(int).Minor(int).Patch(int) format, for e.g: 1.0.0, 2018.12.1 etc',
      'galleryImageVersionName'
    )
  const d = def.body.properties
  const defSec = securityTypeOf(def).toLowerCase()
  // packer-plugin-azure#304 (InvalidParameter, quoted for a VM source into TrustedLaunchSupported);
  // the same list leaves out managed disks and snapshots. The other '…Supported' types are assumed
  // to answer alike (unverified).
  if (defSec.endsWith('supported') && (facts.kind === 'vm' || facts.kind === 'disk')) {
    const t = securityTypeOf(def)
    fail(
      400,
      'InvalidParameter',
      `The security type '${t}' is not supported for the source id '${facts.id}'. Currently only Vhd Blob, User Image and Gallery Image Version sources are supported for '${t}' images.`
    )
  }
  if (facts.securityType === 'TrustedLaunch' && !defSec.startsWith('trustedlaunch'))
    fail(
      400,
      'InvalidParameter',
      `The source has security type 'TrustedLaunch'; the gallery image '${def.body.name}' must have the feature SecurityType set to 'TrustedLaunch' or 'TrustedLaunchSupported'.`,
      'storageProfile'
    )
  if (facts.securityType === 'ConfidentialVM' && !defSec.includes('confidential'))
    fail(
      400,
      'InvalidParameter',
      `The source has security type 'ConfidentialVM'; the gallery image '${def.body.name}' must have a confidential VM SecurityType feature.`,
      'storageProfile'
    )
  const regions: Body[] = pub.targetRegions ?? [{ name: location }]
  if (String(pub.replicationMode ?? 'Full').toLowerCase() === 'shallow') {
    const replicas = regions.map(r => r.regionalReplicaCount ?? pub.replicaCount ?? 1)
    if (regions.length !== 1 || replicas.some(n => n !== 1))
      fail(
        400,
        'InvalidParameter',
        'Shallow replication mode supports only a single target region, the source region, with a replica count of 1.',
        'publishingProfile.replicationMode'
      )
  }
  // The version is made in its source's region; the gallery may be elsewhere (FAQ in
  // shared-image-galleries.md). The code of this refusal is not documented.
  if (facts.region && normRegion(facts.region) !== normRegion(location))
    fail(
      400,
      'InvalidParameter',
      `Source ${facts.id} is not found. Please check source exists, and is in the same region as gallery image version being created`,
      'storageProfile.source.id'
    )
  if (!regions.some(r => normRegion(String(r.name)) === normRegion(location)))
    fail(
      400,
      'InvalidParameter',
      `Gallery image version publishing profile regions ${regions.map(r => r.name).join(', ')} must contain the location of image version ${location}`,
      'publishingProfile.targetRegions'
    )

  // Reported in the operation: the PUT answers 201 first.
  // Hyper-V: Conflict in the LRO (MicrosoftDocs/azure-docs#118774 "Long running operation failed").
  if (
    facts.hyperV &&
    d.hyperVGeneration &&
    facts.hyperV.toLowerCase() !== String(d.hyperVGeneration).toLowerCase()
  )
    return {
      code: 'Conflict',
      message: `The resource with id '${facts.id}' has a different Hypervisor generation ['${facts.hyperV}'] than the parent gallery image Hypervisor generation ['${d.hyperVGeneration}'].`
    }
  // OS state: BadRequest (Azure/azure-cli#24972); sync or in the LRO is not settled: LRO here.
  if (facts.kind === 'vm') {
    const srcState = facts.generalized ? 'Generalized' : 'Specialized'
    if (srcState.toLowerCase() !== String(d.osState).toLowerCase())
      return {
        code: 'BadRequest',
        message: `The resource with id '${facts.id}' has a different OS state ['${srcState}'] than the parent gallery image OS state ['${d.osState}'].`
      }
  }
  // OS type: the troubleshooting text; code and moment unverified (Conflict in the LRO, like Hyper-V).
  if (facts.osType && facts.osType.toLowerCase() !== String(d.osType).toLowerCase())
    return {
      code: 'Conflict',
      message: `The resource with id '${facts.id}' has a different OS type ['${facts.osType}'] than the parent gallery image OS type generation ['${d.osType}']`
    }
  // Full replication copies at most 2048 GiB per disk ("The image size should be less than 2 TB",
  // azure-compute-gallery.md); the region's replication fails with this text (code from
  // MicrosoftDocs/azure-docs#113012).
  if (String(pub.replicationMode ?? 'Full').toLowerCase() !== 'shallow') {
    const largest = Math.max(0, ...facts.diskSizesGB)
    if (largest > FULL_REPLICATION_MAX_GB) {
      const why = `The GalleryImageVersion source resource size ${largest} exceeds the max size ${FULL_REPLICATION_MAX_GB} supported`
      return {
        code: 'GallerySourceResourceExceedsMaxSize',
        message: `${why}.`,
        regionDetails: `Replication failed in this region due to '${why}'.`
      }
    }
  }
  return undefined
}

const FULL_REPLICATION_MAX_GB = 2048

export function putGalleryImageVersion(ctx: Ctx, id: string): Reply {
  const { state } = ctx
  const p = parseResourceId(id)!
  requireResourceGroup(state, p.resourceGroup)
  const defId = id.slice(0, id.toLowerCase().lastIndexOf('/versions/'))
  const galleryId = defId.slice(0, defId.toLowerCase().lastIndexOf('/images/'))
  if (!getResource(state, galleryId)) parentMissing(p.names[0])
  const def = getResource(state, defId)
  if (!def) parentMissing(p.names[1])
  const body = ctx.body ?? {}
  if (!body.location)
    fail(400, 'LocationRequired', 'The location property is required for this definition.')
  const props: Body = body.properties ?? {}
  const sp: Body = props.storageProfile ?? {}
  const pub: Body = clone(props.publishingProfile ?? {})
  const facts = sourceFacts(state, sp)
  const existing = getResource(state, id)
  if (existing) sourceUnchanged(existing.body.properties.storageProfile ?? {}, sp)
  const late = validateVersion(p.names[2], def, facts, pub, body.location)
  const regions: Body[] = (pub.targetRegions ?? [{ name: body.location }]).map((r: Body) => ({
    name: displayRegion(String(r.name)),
    regionalReplicaCount: r.regionalReplicaCount ?? pub.replicaCount ?? 1,
    storageAccountType: r.storageAccountType ?? pub.storageAccountType ?? 'Standard_LRS',
    ...(r.excludeFromLatest !== undefined ? { excludeFromLatest: r.excludeFromLatest } : {}),
    ...(r.encryption ? { encryption: r.encryption } : {})
  }))
  const version: Resource = {
    id,
    type: 'Microsoft.Compute/galleries/images/versions',
    state: {
      facts,
      replicationPolls: 0,
      replicationTotal: Math.max(1, state.config.pollsBeforeDone),
      failed: false,
      regionDetails: late?.regionDetails
    },
    body: {
      id,
      name: p.names[2],
      type: 'Microsoft.Compute/galleries/images/versions',
      location: body.location,
      tags: body.tags ?? {},
      properties: {
        publishingProfile: {
          ...pub,
          targetRegions: regions,
          replicaCount: pub.replicaCount ?? 1,
          excludeFromLatest: pub.excludeFromLatest ?? false,
          storageAccountType: pub.storageAccountType ?? 'Standard_LRS',
          replicationMode: pub.replicationMode ?? 'Full',
          publishedDate: new Date().toISOString()
        },
        storageProfile: {
          ...sp,
          osDiskImage: {
            ...(sp.osDiskImage ?? {}),
            sizeInGB: facts.sizeGB,
            hostCaching: sp.osDiskImage?.hostCaching ?? 'ReadWrite'
          },
          dataDiskImages: facts.dataLuns.map(lun => ({ lun, sizeInGB: 4, hostCaching: 'None' }))
        },
        // Default false (recording test_image_version_create_os_vhd.yaml; spec GalleryImageVersionSafetyProfile).
        safetyProfile: {
          allowDeletionOfReplicatedLocations:
            props.safetyProfile?.allowDeletionOfReplicatedLocations ?? false,
          reportedForPolicyViolation: false
        },
        provisioningState: existing ? 'Updating' : 'Creating'
      }
    }
  }
  putResource(state, version)
  // A mismatch Azure finds only while creating: 201 now, the operation ends Failed.
  if (late && !ctx.failOperation) ctx.failOperation = { code: late.code, message: late.message }
  const reply = lroCreate(
    ctx,
    version,
    'galleryImageVersions/PUT',
    !!existing,
    () => {
      version.state.replicationPolls++
    },
    () => {
      version.state.replicationPolls = version.state.replicationTotal
    }
  )
  if (ctx.failOperation) version.state.failedReplication = true
  return reply
}

/**
 * A version's source cannot change: PropertyChangeNotAllowed "Changing property
 * 'galleryImageVersion.properties.storageProfile.<diskImage>.source.id' is not allowed"
 * (troubleshooting-shared-images.md; hashicorp/packer#9716 with the 2020 API's path). Status 409 as
 * for managed images (unverified for GalleryRP).
 */
function sourceUnchanged(before: Body, after: Body): void {
  const paths: Array<[string, (sp: Body) => unknown]> = [
    ['storageProfile.source.id', sp => sp.source?.id],
    ['storageProfile.source.virtualMachineId', sp => sp.source?.virtualMachineId],
    ['storageProfile.osDiskImage.source.id', sp => sp.osDiskImage?.source?.id],
    ['storageProfile.osDiskImage.source.uri', sp => sp.osDiskImage?.source?.uri]
  ]
  for (const [path, get] of paths) {
    const a = String(get(before) ?? '').toLowerCase()
    const b = String(get(after) ?? '').toLowerCase()
    if (a !== b) {
      const property = `galleryImageVersion.properties.${path}`
      fail(
        409,
        'PropertyChangeNotAllowed',
        `Changing property '${property}' is not allowed.`,
        property
      )
    }
  }
}

export function replicationStatus(v: Resource): Body {
  const s = v.state
  const done = s.replicationPolls >= s.replicationTotal
  const failed = v.body.properties.provisioningState === 'Failed'
  const progress = done ? 100 : Math.floor((100 * s.replicationPolls) / s.replicationTotal)
  return {
    aggregatedState: failed ? 'Failed' : done ? 'Completed' : 'InProgress',
    summary: v.body.properties.publishingProfile.targetRegions.map((r: Body) => ({
      region: r.name,
      state: failed ? 'Failed' : done ? 'Completed' : 'Replicating',
      details: failed ? (s.regionDetails ?? 'Replication failed.') : '',
      progress
    }))
  }
}

export function getGalleryChild(ctx: Ctx, id: string): Reply {
  const r = requireResource(ctx.state, id)
  const body = clone(r.body)
  if (
    r.type === 'Microsoft.Compute/galleries/images/versions' &&
    (ctx.query['$expand'] ?? '').toLowerCase() === 'replicationstatus'
  ) {
    // Replication moves on as the caller watches it, until the LRO's own completion marks it done.
    if (
      r.body.properties.provisioningState !== 'Failed' &&
      r.state.replicationPolls < r.state.replicationTotal - 1
    )
      r.state.replicationPolls++
    body.properties.replicationStatus = replicationStatus(r)
  }
  return { status: 200, body }
}

/** GalleryImageVersions_ListByGalleryImage, paged with nextLink ($skiptoken = offset). */
export function listVersions(ctx: Ctx, defId: string): Reply {
  const { state } = ctx
  requireResource(state, defId)
  const all = children(state, defId, 'versions').sort((a, b) => a.id.localeCompare(b.id))
  const start = Number(ctx.query['$skiptoken'] ?? 0)
  const page = all.slice(start, start + state.config.pageSize)
  const out: Body = { value: page.map(r => clone(r.body)) }
  if (start + page.length < all.length)
    out.nextLink = `${state.url}${defId}/versions?api-version=${ctx.query['api-version']}&$skiptoken=${start + page.length}`
  return { status: 200, body: out }
}

export function addGalleryImageVersion(
  state: State,
  seed: {
    resourceGroup: string
    gallery: string
    image: string
    name: string
    location?: string
    tags?: Record<string, string>
    provisioningState?: string
    targetRegions?: string[]
    excludeFromLatest?: boolean
    publishedDate?: string
  }
): Resource {
  const defId = resourceId(
    state.config.subscriptionId,
    seed.resourceGroup,
    'Microsoft.Compute',
    'galleries',
    seed.gallery,
    'images',
    seed.image
  )
  const def = requireResource(state, defId)
  const id = `${defId}/versions/${seed.name}`
  const location = seed.location ?? def.body.location
  return putResource(state, {
    id,
    type: 'Microsoft.Compute/galleries/images/versions',
    state: {
      facts: {
        kind: 'version',
        id,
        diskSizesGB: [30],
        osType: def.body.properties.osType,
        generalized: def.body.properties.osState === 'Generalized',
        hyperV: def.body.properties.hyperVGeneration,
        region: location,
        dataLuns: [],
        sizeGB: 30
      },
      replicationPolls: 1,
      replicationTotal: 1
    },
    body: {
      id,
      name: seed.name,
      type: 'Microsoft.Compute/galleries/images/versions',
      location,
      tags: seed.tags ?? {},
      properties: {
        publishingProfile: {
          targetRegions: (seed.targetRegions ?? [location]).map(name => ({
            name: displayRegion(name),
            regionalReplicaCount: 1,
            storageAccountType: 'Standard_LRS'
          })),
          replicaCount: 1,
          excludeFromLatest: seed.excludeFromLatest ?? false,
          storageAccountType: 'Standard_LRS',
          publishedDate: seed.publishedDate ?? new Date().toISOString()
        },
        storageProfile: {
          osDiskImage: { sizeInGB: 30, hostCaching: 'ReadWrite' },
          dataDiskImages: []
        },
        provisioningState: seed.provisioningState ?? 'Succeeded'
      }
    }
  })
}
