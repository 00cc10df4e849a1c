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
        hyperVGeneration: 'V1',
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
    imageDefinition(state, galleryId, p.names[1], body.location, body.tags, props)
  )
  r.body.properties.provisioningState = existing ? 'Updating' : 'Creating'
  return lroCreate(ctx, r, 'galleryImages/PUT', !!existing)
}

function securityTypeOf(def: Resource): string {
  const f = (def.body.properties.features ?? []).find(
    (x: Body) => String(x.name).toLowerCase() === 'securitytype'
  )
  return f ? String(f.value) : 'Standard'
}

/** What the version's source is and the facts to validate against the definition. */
interface SourceFacts {
  osType: string
  generalized: boolean
  hyperV: string
  securityType?: string
  region: string
  dataLuns: number[]
  sizeGB: number
  /** a disk's or snapshot's `supportedCapabilities.architecture` (kept on the version's state) */
  architecture?: string
}

function sourceFacts(state: State, sp: Body): SourceFacts {
  const srcId: string | undefined =
    sp.source?.virtualMachineId ?? sp.source?.id ?? sp.osDiskImage?.source?.id
  if (!srcId) {
    if (sp.osDiskImage?.source?.uri) {
      // A VHD's region is its storage account's (Azure/AgentBaker#7353).
      const account = sp.osDiskImage.source.storageAccountId
        ? getResource(state, String(sp.osDiskImage.source.storageAccountId))
        : undefined
      return {
        osType: '',
        generalized: true,
        hyperV: '',
        region: account?.body.location ?? '',
        dataLuns: (sp.dataDiskImages ?? []).map((d: Body) => d.lun),
        sizeGB: 30
      }
    }
    fail(
      400,
      'InvalidParameter',
      'The source of the gallery image version must be specified.',
      'storageProfile.source'
    )
  }
  const src = getResource(state, srcId)
  if (!src)
    fail(
      404,
      'NotFound',
      `The source resource '${srcId}' was not found.`,
      'storageProfile.source.id'
    )
  const props = src.body.properties
  switch (src.type) {
    case 'Microsoft.Compute/virtualMachines':
      return {
        osType: props.storageProfile.osDisk.osType,
        generalized: !!src.state.generalized,
        hyperV: src.state.hyperVGeneration,
        securityType: props.securityProfile?.securityType,
        region: src.body.location,
        dataLuns: props.storageProfile.dataDisks.map((d: Body) => d.lun),
        sizeGB: props.storageProfile.osDisk.diskSizeGB
      }
    case 'Microsoft.Compute/images':
      return {
        osType: props.storageProfile.osDisk.osType,
        generalized: true,
        hyperV: props.hyperVGeneration,
        region: src.body.location,
        dataLuns: (props.storageProfile.dataDisks ?? []).map((d: Body) => d.lun),
        sizeGB: props.storageProfile.osDisk.diskSizeGB ?? 30
      }
    case 'Microsoft.Compute/galleries/images/versions':
      return { ...src.state.facts, region: src.body.location }
    default:
      // disks and snapshots: the OS state comes from the definition.
      return {
        osType: props.osType ?? '',
        generalized: true,
        hyperV: props.hyperVGeneration ?? '',
        securityType: props.securityProfile?.securityType,
        region: src.body.location,
        dataLuns: (sp.dataDiskImages ?? []).map((d: Body) => d.lun),
        sizeGB: props.diskSizeGB ?? 30,
        architecture: props.supportedCapabilities?.architecture ?? 'x64'
      }
  }
}

function validateVersion(
  name: string,
  def: Resource,
  facts: SourceFacts,
  sp: Body,
  pub: Body,
  location: string
): void {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(name)
  if (!m || m.slice(1).some(n => Number(n) > INT32))
    fail(
      400,
      'InvalidParameter',
      `The gallery image version name '${name}' is invalid. The version name must follow the format Major(int32).Minor(int32).Patch(int32), e.g. 1.0.0.`,
      'galleryImageVersionName'
    )
  const d = def.body.properties
  if (facts.osType && facts.osType.toLowerCase() !== String(d.osType).toLowerCase())
    fail(
      400,
      'InvalidParameter',
      `The OS type '${facts.osType}' of the source does not match the OS type '${d.osType}' of the gallery image '${def.body.name}'.`,
      'storageProfile'
    )
  const isVm =
    !!sp.source?.virtualMachineId || /\/virtualmachines\//i.test(String(sp.source?.id ?? ''))
  if (isVm && String(d.osState).toLowerCase() === 'generalized' && !facts.generalized)
    fail(
      400,
      'InvalidParameter',
      `The source virtual machine is not generalized; it cannot be used to create a version of the generalized gallery image '${def.body.name}'. Generalize the VM or use a specialized image definition.`,
      'storageProfile.source'
    )
  if (isVm && String(d.osState).toLowerCase() === 'specialized' && facts.generalized)
    fail(
      400,
      'InvalidParameter',
      `The source virtual machine is generalized; it cannot be used to create a version of the specialized gallery image '${def.body.name}'.`,
      'storageProfile.source'
    )
  if (
    facts.hyperV &&
    d.hyperVGeneration &&
    facts.hyperV.toLowerCase() !== String(d.hyperVGeneration).toLowerCase()
  )
    fail(
      400,
      'InvalidParameter',
      `The Hyper-V generation '${facts.hyperV}' of the source does not match the Hyper-V generation '${d.hyperVGeneration}' of the gallery image '${def.body.name}'.`,
      'storageProfile'
    )
  const defSec = securityTypeOf(def).toLowerCase()
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
  if (facts.region && !regions.some(r => normRegion(String(r.name)) === normRegion(facts.region)))
    fail(
      400,
      'InvalidParameter',
      `The source region '${facts.region}' must be one of the target regions of the gallery image version.`,
      'publishingProfile.targetRegions'
    )
}

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
  validateVersion(p.names[2], def, facts, sp, pub, body.location)
  const existing = getResource(state, id)
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
      failed: false
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
        safetyProfile: {
          allowDeletionOfReplicatedLocations: true,
          reportedForPolicyViolation: false
        },
        provisioningState: existing ? 'Updating' : 'Creating'
      }
    }
  }
  putResource(state, version)
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
      details: failed ? 'Replication failed.' : '',
      progress: failed ? progress : progress
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
