/** The in-memory resource store: resources keyed by lower-cased ID, resource groups by lower-cased name. */
import type { Body, Resource, State } from './types.js'
import { key, parseResourceId } from './ids.js'
import { fail, resourceGroupNotFound, resourceNotFound } from './errors.js'

export function getResource(state: State, id: string): Resource | undefined {
  return state.resources.get(key(id))
}

export function putResource(state: State, r: Resource): Resource {
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

/** A deep copy, so replies never alias the stored body. */
export const clone = <T>(v: T): T => (v === undefined ? v : JSON.parse(JSON.stringify(v)))
