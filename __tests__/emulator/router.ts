/**
 * Request dispatch: identity endpoints (no ARM auth), then ARM: bearer token, api-version,
 * subscription, resource group, then the resource handlers. ARM paths are matched case-insensitively.
 */
import type { Body, Ctx, Reply } from './types.js'
import { armError, fail } from './errors.js'
import {
  checkArmToken,
  githubOidc,
  managedIdentityToken,
  metadataEndpoints,
  openIdConfiguration,
  tokenEndpoint
} from './identity.js'
import { pollOperation, tickResource } from './lro.js'
import { refuseApiVersion } from './api-versions.js'
import { getAgreement, getImageVersion, listImageVersions } from './marketplace.js'
import { listResourceSkus, listUsages } from './usages.js'
import {
  deleteNetworkInterface,
  deleteNetworkSecurityGroup,
  deletePublicIp,
  deleteSubnet,
  deleteVirtualNetwork,
  getNetworkThing,
  putNetworkInterface,
  putNetworkSecurityGroup,
  putPublicIp,
  putSubnet,
  putVirtualNetwork
} from './network.js'
import { parseResourceId } from './ids.js'
import { deleteVm, getVm, vmAction } from './vms.js'
import { putVm } from './vm-create.js'
import { deleteRunCommand, getRunCommand, listRunCommands, putRunCommand } from './run-commands.js'
import {
  beginGetAccess,
  deleteDisk,
  endGetAccess,
  getDiskLike,
  putDisk,
  patchDisk,
  putSnapshot
} from './disks.js'
import { deleteGeneric, putImage } from './images.js'
import {
  getGalleryChild,
  listVersions,
  putGallery,
  putGalleryImage,
  putGalleryImageVersion
} from './galleries.js'
import {
  clone,
  getResource,
  getResourceGroup,
  requireResource,
  requireResourceGroup
} from './store.js'

export function isArmPath(path: string): boolean {
  return /^\/subscriptions\//i.test(path)
}

export async function route(ctx: Ctx): Promise<Reply> {
  const { state, method, path } = ctx
  if (method === 'GET' && path === '/metadata/endpoints') return metadataEndpoints(state)
  if (method === 'GET' && path === '/github/oidc') return githubOidc(ctx)
  if (method === 'GET' && path === '/msi/token') return managedIdentityToken(ctx)
  let m = /^\/([^/]+)\/v2\.0\/\.well-known\/openid-configuration$/.exec(path)
  if (method === 'GET' && m) return openIdConfiguration(state, m[1])
  m = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(path)
  if (method === 'POST' && m) return tokenEndpoint(ctx, m[1])
  if (!isArmPath(path)) return armError(404, 'NotFound', `No route for ${method} ${path}.`)

  const denied = checkArmToken(state, ctx.req.headers.authorization)
  if (denied) return denied
  if (!ctx.query['api-version'])
    return armError(
      400,
      'MissingApiVersionParameter',
      'The api-version query parameter (?api-version=) is required for all requests.'
    )
  const parts = path.split('/').filter(Boolean)
  if (parts[1].toLowerCase() !== state.config.subscriptionId.toLowerCase())
    return armError(
      404,
      'SubscriptionNotFound',
      `The subscription '${parts[1]}' could not be found.`
    )
  return armRoute(ctx, parts)
}

async function armRoute(ctx: Ctx, parts: string[]): Promise<Reply> {
  const { state, method } = ctx
  const lower = parts.map(p => p.toLowerCase())
  const sub = subscriptionRoute(ctx, parts, lower)
  if (sub) return sub
  // /subscriptions/{s}/providers/Microsoft.Compute/locations/{loc}/{operations|diskOperations|capsOperations}/{id}
  // /subscriptions/{s}/providers/Microsoft.Network/locations/{loc}/{operations|operationResults}/{id}
  if (
    lower[2] === 'providers' &&
    lower[4] === 'locations' &&
    parts.length === 8 &&
    method === 'GET'
  ) {
    const network = lower[3] === 'microsoft.network'
    return (
      refuseApiVersion(
        network ? 'Microsoft.Network/locations/operations' : `locations/${parts[6]}`,
        ctx.query['api-version'],
        decodeURIComponent(parts[5]).toLowerCase()
      ) ?? pollOperation(ctx, parts[7], network && lower[6] === 'operationresults')
    )
  }
  if (lower[2] !== 'resourcegroups' || parts.length < 4)
    return armError(404, 'NotFound', `No route for ${method} ${ctx.path}.`)
  const rgName = decodeURIComponent(parts[3])
  if (parts.length === 4) return resourceGroupRoute(ctx, rgName)
  requireResourceGroup(state, rgName)
  // {scope}/providers/Microsoft.Authorization/permissions at any scope under the group
  if (
    lower.at(-3) === 'providers' &&
    lower.at(-2) === 'microsoft.authorization' &&
    lower.at(-1) === 'permissions'
  )
    return permissions(ctx, '/' + parts.slice(0, -3).join('/'))
  if (lower[4] !== 'providers' || parts.length < 8)
    return armError(404, 'NotFound', `No route for ${method} ${ctx.path}.`)
  const rest = parts.slice(6)
  const action = rest.length % 2 === 1 ? rest[rest.length - 1] : undefined
  const idParts = action ? parts.slice(0, -1) : parts
  const id = '/' + idParts.join('/')
  const p = parseResourceId(id)
  if (!p) return armError(400, 'InvalidResourceId', `Invalid resource id '${id}'.`)
  const type = p.type.toLowerCase()
  const act = action?.toLowerCase()
  const ns = p.namespace.toLowerCase()
  if (ns === 'microsoft.compute' || ns === 'microsoft.network') {
    const refused = refuseApiVersion(
      (ns === 'microsoft.network' ? 'Microsoft.Network/' : '') + p.types.join('/'),
      ctx.query['api-version'],
      String(getResourceGroup(state, rgName)?.location ?? '')
        .replace(/\s+/g, '')
        .toLowerCase()
    )
    if (refused) return refused
  }

  switch (type) {
    case 'microsoft.compute/virtualmachines':
      if (method === 'GET' && (!act || act === 'instanceview')) {
        tickResource(state, id)
        return getVm(ctx, id, act === 'instanceview')
      }
      if (method === 'GET' && act === 'runcommands') return listRunCommands(ctx, id)
      if (method === 'POST' && act) return vmAction(ctx, id, act)
      if (method === 'PUT' && !act) return putVm(ctx, id)
      if (method === 'DELETE' && !act) return deleteVm(ctx, id)
      break
    case 'microsoft.compute/virtualmachines/runcommands':
      if (act) break
      if (method === 'PUT') return putRunCommand(ctx, id)
      if (method === 'GET') return getRunCommand(ctx, id)
      if (method === 'DELETE') return deleteRunCommand(ctx, id)
      break
    case 'microsoft.compute/disks':
    case 'microsoft.compute/snapshots':
      if (method === 'GET' && !act) {
        tickResource(state, id)
        return getDiskLike(ctx, id)
      }
      if (method === 'PUT' && !act)
        return type.endsWith('disks') ? putDisk(ctx, id) : putSnapshot(ctx, id)
      if (method === 'DELETE' && !act) return deleteDisk(ctx, id)
      if (method === 'PATCH' && !act && type.endsWith('disks')) return patchDisk(ctx, id)
      if (method === 'POST' && act === 'begingetaccess') return beginGetAccess(ctx, id)
      if (method === 'POST' && act === 'endgetaccess') return endGetAccess(ctx, id)
      break
    case 'microsoft.compute/images':
      if (method === 'GET' && !act) {
        tickResource(state, id)
        return { status: 200, body: clone(requireResource(state, id).body) }
      }
      if (method === 'PUT' && !act) return putImage(ctx, id)
      if (method === 'DELETE' && !act) return deleteGeneric(ctx, id, 'images/DELETE', 'operations')
      break
    case 'microsoft.compute/galleries':
    case 'microsoft.compute/galleries/images':
    case 'microsoft.compute/galleries/images/versions':
      if (method === 'GET' && act === 'versions' && type.endsWith('/images'))
        return listVersions(ctx, id)
      if (act) break
      if (method === 'GET') {
        tickResource(state, id)
        return getGalleryChild(ctx, id)
      }
      if (method === 'PUT')
        return type.endsWith('versions')
          ? putGalleryImageVersion(ctx, id)
          : type.endsWith('images')
            ? putGalleryImage(ctx, id)
            : putGallery(ctx, id)
      if (method === 'DELETE') return deleteGalleryThing(ctx, id, type)
      break
    case 'microsoft.network/virtualnetworks':
    case 'microsoft.network/virtualnetworks/subnets':
    case 'microsoft.network/networksecuritygroups':
    case 'microsoft.network/networkinterfaces':
    case 'microsoft.network/publicipaddresses':
      if (act) break
      if (method === 'GET') {
        tickResource(state, id)
        return getNetworkThing(ctx, id)
      }
      if (method === 'PUT') return NETWORK_PUT[type](ctx, id)
      if (method === 'DELETE') return NETWORK_DELETE[type](ctx, id)
      break
    case 'microsoft.storage/storageaccounts':
      if (method === 'GET' && !act)
        return { status: 200, body: clone(requireResource(state, id).body) }
      if (method === 'POST' && act === 'listkeys') return listKeys(ctx, id)
      break
  }
  return armError(
    400,
    'InvalidResourceType',
    `The resource type '${p.types.join('/')}' could not be found in the namespace '${p.namespace}' for api version '${ctx.query['api-version']}'.`
  )
}

const NETWORK_PUT: Record<string, (ctx: Ctx, id: string) => Reply> = {
  'microsoft.network/virtualnetworks': putVirtualNetwork,
  'microsoft.network/virtualnetworks/subnets': putSubnet,
  'microsoft.network/networksecuritygroups': putNetworkSecurityGroup,
  'microsoft.network/networkinterfaces': putNetworkInterface,
  'microsoft.network/publicipaddresses': putPublicIp
}
const NETWORK_DELETE: Record<string, (ctx: Ctx, id: string) => Reply> = {
  'microsoft.network/virtualnetworks': deleteVirtualNetwork,
  'microsoft.network/virtualnetworks/subnets': deleteSubnet,
  'microsoft.network/networksecuritygroups': deleteNetworkSecurityGroup,
  'microsoft.network/networkinterfaces': deleteNetworkInterface,
  'microsoft.network/publicipaddresses': deletePublicIp
}

/**
 * Subscription-level reads: the Marketplace image catalogue, Marketplace terms, Compute usages and
 * Resource SKUs. Undefined for any other path.
 */
function subscriptionRoute(ctx: Ctx, parts: string[], lower: string[]): Reply | undefined {
  if (ctx.method !== 'GET' || lower[2] !== 'providers') return undefined
  const d = (i: number): string => decodeURIComponent(parts[i])
  const api = ctx.query['api-version']
  if (
    lower[3] === 'microsoft.compute' &&
    lower[4] === 'locations' &&
    lower[6] === 'publishers' &&
    lower[8] === 'artifacttypes' &&
    lower[9] === 'vmimage' &&
    lower[10] === 'offers' &&
    lower[12] === 'skus' &&
    lower[14] === 'versions' &&
    (parts.length === 15 || parts.length === 16)
  ) {
    const refused = refuseApiVersion('locations/publishers', api, d(5).toLowerCase())
    if (refused) return refused
    const p = { location: d(5), publisher: d(7), offer: d(11), sku: d(13) }
    return parts.length === 15 ? listImageVersions(ctx, p) : getImageVersion(ctx, p, d(15))
  }
  if (
    lower[3] === 'microsoft.compute' &&
    lower[4] === 'locations' &&
    lower[6] === 'usages' &&
    parts.length === 7
  )
    return refuseApiVersion('locations/usages', api, d(5).toLowerCase()) ?? listUsages(ctx, d(5))
  if (lower[3] === 'microsoft.compute' && lower[4] === 'skus' && parts.length === 5)
    return refuseApiVersion('skus', api, '') ?? listResourceSkus(ctx)
  if (
    lower[3] === 'microsoft.marketplaceordering' &&
    lower[4] === 'offertypes' &&
    lower[6] === 'publishers' &&
    lower[8] === 'offers' &&
    lower[10] === 'plans' &&
    lower[12] === 'agreements' &&
    parts.length === 14
  )
    return getAgreement(ctx, d(7), d(9), d(11))
  return undefined
}

function deleteGalleryThing(ctx: Ctx, id: string, type: string): Reply {
  const r = getResource(ctx.state, id)
  if (r && !type.endsWith('versions')) {
    const childType = type.endsWith('images') ? 'versions' : 'images'
    const prefix = id.toLowerCase() + '/' + childType + '/'
    const hasChildren = [...ctx.state.resources.keys()].some(k => k.startsWith(prefix))
    if (hasChildren)
      fail(
        409,
        'CannotDeleteResource',
        `Can not delete resource before nested resources are deleted.`
      )
  }
  return deleteGeneric(ctx, id, `${type.split('/').slice(1).join('/')}/DELETE`, 'capsOperations')
}

function resourceGroupRoute(ctx: Ctx, name: string): Reply {
  const { state, method } = ctx
  const rg = getResourceGroup(state, name)
  if (method === 'GET' || method === 'HEAD') {
    if (!rg)
      return armError(404, 'ResourceGroupNotFound', `Resource group '${name}' could not be found.`)
    return {
      status: method === 'HEAD' ? 204 : 200,
      body: method === 'HEAD' ? undefined : clone(rg)
    }
  }
  return armError(
    405,
    'MethodNotAllowed',
    `The emulator does not create or delete resource groups (${method}).`
  )
}

/**
 * Permissions - List For Resource Group / List For Resource: the grants of every role assignment at
 * the scope or above it, one entry each (spec shape `{ value: [{ actions, notActions, dataActions,
 * notDataActions }] }`; not in any recording). A role assigned only on a gallery shows when reading
 * at the gallery, not at its resource group.
 */
function permissions(ctx: Ctx, scope: string): Reply {
  const key = scope.replace(/\/+/g, '/').toLowerCase()
  const rgScope = key.split('/').slice(0, 5).join('/')
  const grants = [...ctx.state.permissions.entries()]
  const configured = grants.some(
    ([s]) => s === rgScope || s.startsWith(rgScope + '/') || rgScope.startsWith(s + '/')
  )
  const value = configured
    ? grants.filter(([s]) => key === s || key.startsWith(s + '/')).map(([, g]) => ({ ...g }))
    : [{ actions: ['*'], notActions: [], dataActions: [], notDataActions: [] }]
  return { status: 200, body: { value } }
}

function listKeys(ctx: Ctx, id: string): Reply {
  const r = requireResource(ctx.state, id)
  const key = ctx.state.config.storage?.accountKey ?? 'ZW11bGF0b3I='
  const keys: Body[] = [
    {
      keyName: 'key1',
      value: key,
      permissions: 'FULL',
      creationTime: r.body.properties.creationTime
    },
    {
      keyName: 'key2',
      value: key,
      permissions: 'FULL',
      creationTime: r.body.properties.creationTime
    }
  ]
  return { status: 200, body: { keys } }
}
