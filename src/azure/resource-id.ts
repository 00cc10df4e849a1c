/**
 * Azure resource IDs, built and read in one place:
 * `/subscriptions/{sub}/resourceGroups/{group}/providers/{namespace}/{type}/{name}[/{childType}/{childName}…]`
 * (https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules and the
 * `id` of every ARM resource). Nothing else splits an ID by hand.
 */

/** An Azure resource named by subscription, group and name. */
export interface ResourceRef {
  subscriptionId: string
  resourceGroup: string
  name: string
}

export interface ParsedResourceId extends ResourceRef {
  /** The resource provider namespace, as written in the ID ('Microsoft.Compute'). */
  provider: string
  /** The type path below the provider: ['galleries', 'images', 'versions']. */
  types: string[]
  /** The name at each level of `types`; `name` is the last of them. */
  names: string[]
}

/** The ID of a top-level resource: `resourceId(ref, 'Microsoft.Compute', 'images')`. */
export function resourceId(ref: ResourceRef, provider: string, type: string): string {
  return `/subscriptions/${ref.subscriptionId}/resourceGroups/${ref.resourceGroup}/providers/${provider}/${type}/${ref.name}`
}

/** The parts of a resource ID, or undefined when `id` is not one (no empty segment allowed). */
export function tryParseResourceId(id: string): ParsedResourceId | undefined {
  const s = id.split('/')
  if (
    s.length < 9 ||
    (s.length - 7) % 2 !== 0 ||
    s[0] !== '' ||
    s[1].toLowerCase() !== 'subscriptions' ||
    s[3].toLowerCase() !== 'resourcegroups' ||
    s[5].toLowerCase() !== 'providers' ||
    s.slice(1).some(part => part === '')
  ) {
    return undefined
  }
  const types: string[] = []
  const names: string[] = []
  for (let i = 7; i < s.length; i += 2) {
    types.push(s[i])
    names.push(s[i + 1])
  }
  return {
    subscriptionId: s[2],
    resourceGroup: s[4],
    provider: s[6],
    types,
    names,
    name: names[names.length - 1]
  }
}

/** The parts of an ID Azure (or this action) produced; a malformed one is a bug worth a clear error. */
export function parseResourceId(id: string): ParsedResourceId {
  const parsed = tryParseResourceId(id)
  if (parsed === undefined) throw new Error(`'${id}' is not an Azure resource ID`)
  return parsed
}
