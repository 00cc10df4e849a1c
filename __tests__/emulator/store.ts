/** The in-memory resource store: resources keyed by lower-cased ID, resource groups by lower-cased name. */
import type { Body, Resource, State } from './types.js'
import { key, parseResourceId } from './ids.js'
import { fail, resourceGroupNotFound, resourceNotFound } from './errors.js'

export function getResource(state: State, id: string): Resource | undefined {
  return state.resources.get(key(id))
}

export function putResource(state: State, r: Resource): Resource {
  // A resource a test seeded stays "seeded" when the run rewrites it (resources.created()).
  if (state.seeding || getResource(state, r.id)?.seeded) r.seeded = true
  state.resources.set(key(r.id), r)
  return r
}

export function deleteResource(state: State, id: string): void {
  state.resources.delete(key(id))
}

export function getResourceGroup(state: State, name: string): Body | undefined {
  return state.resourceGroups.get(name.toLowerCase())
}

export function requireResourceGroup(state: State, name: string): Body {
  const rg = getResourceGroup(state, name)
  if (!rg) resourceGroupNotFound(name)
  return rg
}

/** Looks a resource up by ID with ARM's 404s (resource group first, then the resource). */
export function requireResource(state: State, id: string): Resource {
  const p = parseResourceId(id)
  if (!p) fail(400, 'LinkedInvalidPropertyId', `Property id '${id}' at path '' is invalid.`)
  requireResourceGroup(state, p.resourceGroup)
  const r = getResource(state, id)
  if (!r) resourceNotFound(p.type, p.names.join('/'), p.resourceGroup)
  return r
}

/** Children of a parent ID of one type, e.g. versions of an image definition. */
export function children(state: State, parentId: string, childType: string): Resource[] {
  const prefix = key(parentId) + '/' + childType.toLowerCase() + '/'
  return [...state.resources.values()].filter(
    r => key(r.id).startsWith(prefix) && !key(r.id).slice(prefix.length).includes('/')
  )
}

export const normRegion = (l: string): string => l.replace(/\s+/g, '').toLowerCase()

/**
 * Region display names as Azure returns them in `targetRegions[].name` ("West US" after
 * "westus": test_image_version_create_os_vhd; "East US": GalleryImageVersion_Get_WithReplicationStatus).
 * The names are those of the provider listing recorded in the same test_image_version_create_os_vhd.
 */
const DISPLAY_NAMES = [
  'West US',
  'East US',
  'North Europe',
  'West Europe',
  'East Asia',
  'Southeast Asia',
  'North Central US',
  'South Central US',
  'Central US',
  'East US 2',
  'Japan East',
  'Japan West',
  'Brazil South',
  'Australia East',
  'Australia Southeast',
  'Central India',
  'South India',
  'West India',
  'Canada Central',
  'Canada East',
  'West Central US',
  'West US 2',
  'UK West',
  'UK South',
  'Korea Central',
  'Korea South',
  'France Central',
  'Australia Central',
  'South Africa North',
  'UAE North',
  'Switzerland North',
  'Germany West Central',
  'Norway East',
  'West US 3',
  'Jio India West',
  'Sweden Central',
  'Qatar Central',
  'Poland Central',
  'Italy North',
  'Israel Central',
  'Mexico Central',
  'Spain Central',
  'New Zealand North',
  'Indonesia Central'
]
const BY_NORM = new Map(DISPLAY_NAMES.map(n => [normRegion(n), n]))

/** "westus" → "West US"; a region not in the recorded list is returned as given. */
export const displayRegion = (l: string): string => BY_NORM.get(normRegion(l)) ?? l

/** A deep copy, so replies never alias the stored body. */
export const clone = <T>(v: T): T => (v === undefined ? v : JSON.parse(JSON.stringify(v)))
